// Load generation against TextImageRetrieval.Search and the statistics of
// a run: throughput, latency percentiles and a histogram of status codes.
//
// RunLoadgen starts `concurrency` threads; each sends Search calls one after
// another (one call in flight per thread, no retries), cycling through the
// queries from its own starting offset (thread i starts at query
// i * num_queries / concurrency). The run stops when `requests` calls were
// issued, `duration` has passed or `cancel` became true, whichever comes
// first; calls in flight then finish (each is bounded by `deadline`).
//
// Backoff: after a call ends in RESOURCE_EXHAUSTED (server queue full) or
// UNAVAILABLE, its thread waits before its next call, BackoffDelay(backoff,
// n, U) for the n-th such failure in a row (exponential, bounded by
// backoff.max_backoff, with jitter); any other outcome resets n. The waits
// are counted per code. A wait ends early at the end of the run.
//
// Invalid requests: with invalid_fraction F > 0, request number i of the run
// (numbered in issue order over all threads) is made invalid when a hash of
// (seed, i) falls below F; the kind of invalidity (InvalidKind) comes from
// another hash of (seed, i). Which numbers are invalid, and how, is thus a
// function of the seed alone. Codes are counted separately for valid and
// invalid requests; CheckCodes says whether every valid request succeeded and
// every invalid one got INVALID_ARGUMENT.
//
// Statistics functions are pure; RunLoadgen is thread-safe for concurrent
// use with distinct options.
#ifndef CLIENT_LOADGEN_H_
#define CLIENT_LOADGEN_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/grpc_client.h"
#include "retrieval/v1/retrieval.pb.h"

namespace client {

// The ways a request is made invalid, each refused by the server's
// validation (server/request_validation.h) with INVALID_ARGUMENT.
enum class InvalidKind {
  kEmptyText,        // text ""
  kWhitespaceText,   // text of spaces and a tab only
  kLongText,         // text one byte over the limit (2,048 bytes)
  kInvalidUtf8,      // text with a byte that is not UTF-8 (0xff)
  kNegativeTopK,     // top_k -1 (0 is valid: it means 10)
  kLargeTopK,        // top_k one over the limit (1000)
  kUnknownCategory,  // a category value the proto does not define
};
inline constexpr int kNumInvalidKinds = 7;

// "empty_text", "whitespace_text", "long_text", "invalid_utf8",
// "negative_top_k", "large_top_k", "unknown_category".
const char* InvalidKindName(InvalidKind kind);

// Whether request number `index` of a run is invalid, and how (see the top
// of this file). Deterministic; nullopt for valid requests and always when
// fraction <= 0.
std::optional<InvalidKind> PlanRequest(uint64_t seed, double fraction,
                                       int64_t index);

// Turns a valid request into one of `kind`.
void MakeInvalid(InvalidKind kind, retrieval::v1::SearchRequest* request);

// One finished call.
struct CallRecord {
  double latency_ms = 0.0;
  grpc::StatusCode code = grpc::StatusCode::OK;
  // Set for a request made invalid on purpose.
  std::optional<InvalidKind> invalid;
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

// Backoff waits after one status code.
struct BackoffCount {
  int64_t waits = 0;
  double seconds = 0.0;  // time spent waiting
};

struct LoadStats {
  int64_t requests = 0;          // calls finished (any status)
  int64_t ok = 0;                // calls finished with OK
  int64_t invalid_requests = 0;  // of `requests`, made invalid on purpose
  double seconds = 0.0;          // wall time of the run
  double qps = 0.0;              // requests / seconds
  double ok_qps = 0.0;           // ok / seconds
  LatencySummary ok_latency;     // OK calls only
  LatencySummary all_latency;    // every call
  std::map<grpc::StatusCode, int64_t> status_counts;  // code -> calls
  // The same split into valid and invalid requests.
  std::map<grpc::StatusCode, int64_t> valid_status_counts;
  std::map<grpc::StatusCode, int64_t> invalid_status_counts;
  // Invalid requests by kind and code.
  std::map<InvalidKind, std::map<grpc::StatusCode, int64_t>> invalid_by_kind;
  // Backoff waits by the code that caused them (RESOURCE_EXHAUSTED,
  // UNAVAILABLE).
  std::map<grpc::StatusCode, BackoffCount> backoff;
  bool interrupted = false;  // stopped by LoadgenOptions::cancel
};

// Statistics of `calls` made over `seconds` of wall time (rates are 0 when
// seconds <= 0). Leaves `backoff` and `interrupted` empty.
LoadStats ComputeLoadStats(const std::vector<CallRecord>& calls,
                           double seconds);

// A report of a few lines, e.g.
//   1000 requests in 10.01 s: 99.9 requests/s (OK 99.4/s)
//   latency of OK calls (ms): p50 12.31  p90 20.12  p99 35.01  max 41.20
//   mean 13.05
//   status OK: 995
//   status UNAVAILABLE: 5
//   backoff after UNAVAILABLE: 5 waits, 0.31 s
// With invalid requests each status line gives the split,
//   status INVALID_ARGUMENT: 100 (valid 0, invalid 100)
// preceded by "invalid requests: 100 of 1000 (10.0%)". An interrupted run
// starts with "interrupted: the calls made so far". Each line ends in "\n".
std::string FormatLoadStats(const LoadStats& stats);

// OK when every valid request got OK and every invalid one
// INVALID_ARGUMENT; otherwise FAILED_PRECONDITION listing the valid requests
// that failed (by code) and the invalid ones that got another code (by kind
// and code). FAILED_PRECONDITION too when no request finished.
absl::Status CheckCodes(const LoadStats& stats);

// The waits of a load run: 20 ms doubling up to 2 s, +-20% jitter.
RetryPolicy DefaultLoadgenBackoff();

struct LoadgenOptions {
  int concurrency = 4;  // threads, >= 1
  // Stop after this long; zero: no time bound (then `requests` must be set).
  absl::Duration duration = absl::Seconds(10);
  // Stop after issuing this many calls; 0: no count bound.
  int64_t requests = 0;
  int top_k = 10;  // in [1, 1000]
  retrieval::v1::Category category = retrieval::v1::CATEGORY_UNSPECIFIED;
  absl::Duration deadline = absl::Seconds(5);  // per call, > 0
  // Waits after RESOURCE_EXHAUSTED / UNAVAILABLE (max_retries and
  // retry_resource_exhausted are not used). initial_backoff zero: no waits.
  RetryPolicy backoff = DefaultLoadgenBackoff();
  // Share of requests made invalid on purpose, in [0, 1], and the seed that
  // picks them.
  double invalid_fraction = 0.0;
  uint64_t seed = 1;
  // When it becomes true no new call is issued and the run ends once the
  // calls in flight are done (LoadStats::interrupted). May be null;
  // typically set from a signal handler.
  const std::atomic<bool>* cancel = nullptr;
};

// INVALID_ARGUMENT naming the option when out of range or when neither
// bound is set.
absl::Status ValidateLoadgenOptions(const LoadgenOptions& options);

// Sends Search calls over one transport. Each loadgen thread makes its own
// sender, so a sender may hold a connection (not thread-safe).
class SearchSender {
 public:
  virtual ~SearchSender() = default;
  virtual grpc::Status Search(const retrieval::v1::SearchRequest& request,
                              absl::Duration deadline,
                              retrieval::v1::SearchResponse* response) = 0;
};
using SenderFactory = std::function<std::unique_ptr<SearchSender>()>;

// The server's REST/JSON gateway (docs/server.md, "REST"), for --transport.
struct RestTarget {
  std::string host;
  int port = 0;
  // Non-empty: HTTPS, the server's certificate checked against this PEM file
  // of roots. With `tls_server_name` the connection goes to that name (which
  // must resolve to the server) instead of `host`, and the certificate is
  // checked for it.
  std::string tls_ca_file;
  std::string tls_server_name;
  std::string auth_token;  // sent as "Authorization: Bearer <token>"
};

// INVALID_ARGUMENT naming the address unless it is "HOST:PORT" (an IPv6 host
// in brackets).
absl::StatusOr<RestTarget> ParseRestAddress(const std::string& server);

// Senders that POST /v1/search with the request as proto3 JSON on one
// kept-alive HTTP/1.1 connection each (reconnecting when the server closes
// it) and parse the JSON answer into the response. The call's deadline is
// sent as X-Request-Timeout-Ms and bounds the wait. The code of a failed
// call is the one in its google.rpc.Status body; UNAVAILABLE when the
// connection fails, DEADLINE_EXCEEDED when the answer does not come in time.
SenderFactory RestSenders(const RestTarget& target);

// Runs the load described at the top of this file. INVALID_ARGUMENT for bad
// options or an empty `queries`. Failed calls are counted, not returned.
absl::StatusOr<LoadStats> RunLoadgen(const LoadgenOptions& options,
                                     const std::vector<std::string>& queries,
                                     const RetrievalClient& client);
// The same over the senders `make_sender` makes, one per thread.
absl::StatusOr<LoadStats> RunLoadgen(const LoadgenOptions& options,
                                     const std::vector<std::string>& queries,
                                     const SenderFactory& make_sender);

}  // namespace client

#endif  // CLIENT_LOADGEN_H_
