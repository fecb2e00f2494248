// Load generation against TextImageRetrieval.Search and the statistics of
// a run: throughput, latency percentiles and a histogram of status codes.
//
// RunLoadgen starts `concurrency` threads; each sends Search calls one after
// another (one call in flight per thread, no retries), cycling through the
// queries from its own starting offset (thread i starts at query
// i * num_queries / concurrency). The run stops when `requests` calls were
// issued or `duration` has passed, whichever comes first; calls in flight
// then finish (each is bounded by `deadline`).
//
// Statistics functions are pure; RunLoadgen is thread-safe for concurrent
// use with distinct options.
#ifndef CLIENT_LOADGEN_H_
#define CLIENT_LOADGEN_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/grpc_client.h"
#include "retrieval/v1/retrieval.pb.h"

namespace client {

// One finished call.
struct CallRecord {
  double latency_ms = 0.0;
  grpc::StatusCode code = grpc::StatusCode::OK;
};

// Latency distribution of a set of calls, in milliseconds. All zero when
// count is 0.
struct LatencySummary {
  int64_t count = 0;
  double mean_ms = 0.0;
  double p50_ms = 0.0;
  double p90_ms = 0.0;
  double p99_ms = 0.0;
  double max_ms = 0.0;
};

// The nearest-rank percentile of ascending `sorted`: the smallest value
// with at least p% of the values at or below it (p in (0, 100]; p <= 0 gives
// the minimum). 0 for an empty vector.
double Percentile(const std::vector<double>& sorted, double p);

// Sorts a copy and summarises it.
LatencySummary SummarizeLatencies(std::vector<double> latencies_ms);

struct LoadStats {
  int64_t requests = 0;     // calls finished (any status)
  int64_t ok = 0;           // calls finished with OK
  double seconds = 0.0;     // wall time of the run
  double qps = 0.0;         // requests / seconds
  double ok_qps = 0.0;      // ok / seconds
  LatencySummary ok_latency;   // OK calls only
  LatencySummary all_latency;  // every call
  std::map<grpc::StatusCode, int64_t> status_counts;  // code -> calls
};

// Statistics of `calls` made over `seconds` of wall time (rates are 0 when
// seconds <= 0).
LoadStats ComputeLoadStats(const std::vector<CallRecord>& calls,
                           double seconds);

// A report of a few lines, e.g.
//   1000 requests in 10.01 s: 99.9 requests/s (OK 99.4/s)
//   latency of OK calls (ms): p50 12.31  p90 20.12  p99 35.01  max 41.20
//   mean 13.05
//   status OK: 995
//   status UNAVAILABLE: 5
// Each line ends in "\n".
std::string FormatLoadStats(const LoadStats& stats);

// "OK", "UNAVAILABLE", ... ("CODE_<n>" for codes outside the canonical set).
std::string StatusCodeName(grpc::StatusCode code);

struct LoadgenOptions {
  int concurrency = 4;  // threads, >= 1
  // Stop after this long; zero: no time bound (then `requests` must be set).
  absl::Duration duration = absl::Seconds(10);
  // Stop after issuing this many calls; 0: no count bound.
  int64_t requests = 0;
  int top_k = 10;  // in [1, 1000]
  retrieval::v1::Category category = retrieval::v1::CATEGORY_UNSPECIFIED;
  absl::Duration deadline = absl::Seconds(5);  // per call, > 0
};

// INVALID_ARGUMENT naming the option when out of range or when neither
// bound is set.
absl::Status ValidateLoadgenOptions(const LoadgenOptions& options);

// Runs the load described at the top of this file. INVALID_ARGUMENT for bad
// options or an empty `queries`. Failed calls are counted, not returned.
absl::StatusOr<LoadStats> RunLoadgen(const LoadgenOptions& options,
                                     const std::vector<std::string>& queries,
                                     const RetrievalClient& client);

}  // namespace client

#endif  // CLIENT_LOADGEN_H_
