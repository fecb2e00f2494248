#include "client/loadgen.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace client {

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double n = static_cast<double>(sorted.size());
  const double rank = std::ceil(p / 100.0 * n);  // 1-based
  const size_t index =
      static_cast<size_t>(std::min(std::max(rank, 1.0), n)) - 1;
  return sorted[index];
}

LatencySummary SummarizeLatencies(std::vector<double> latencies_ms) {
  LatencySummary summary;
  if (latencies_ms.empty()) return summary;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  summary.count = static_cast<int64_t>(latencies_ms.size());
  summary.mean_ms =
      std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) /
      static_cast<double>(latencies_ms.size());
  summary.p50_ms = Percentile(latencies_ms, 50);
  summary.p90_ms = Percentile(latencies_ms, 90);
  summary.p99_ms = Percentile(latencies_ms, 99);
  summary.max_ms = latencies_ms.back();
  return summary;
}

LoadStats ComputeLoadStats(const std::vector<CallRecord>& calls,
                           double seconds) {
  LoadStats stats;
  std::vector<double> ok_latencies;
  std::vector<double> all_latencies;
  all_latencies.reserve(calls.size());
  for (const CallRecord& call : calls) {
    ++stats.status_counts[call.code];
    all_latencies.push_back(call.latency_ms);
    if (call.code == grpc::StatusCode::OK) {
      ok_latencies.push_back(call.latency_ms);
    }
  }
  stats.requests = static_cast<int64_t>(calls.size());
  stats.ok = static_cast<int64_t>(ok_latencies.size());
  stats.seconds = seconds;
  if (seconds > 0) {
    stats.qps = static_cast<double>(stats.requests) / seconds;
    stats.ok_qps = static_cast<double>(stats.ok) / seconds;
  }
  stats.ok_latency = SummarizeLatencies(std::move(ok_latencies));
  stats.all_latency = SummarizeLatencies(std::move(all_latencies));
  return stats;
}

std::string StatusCodeName(grpc::StatusCode code) {
  const int value = static_cast<int>(code);
  if (value < 0 || value > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StrCat("CODE_", value);
  }
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(value));
}

std::string FormatLoadStats(const LoadStats& stats) {
  auto latency_line = [](const char* what, const LatencySummary& l) {
    return absl::StrFormat(
        "latency of %s (ms): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  "
        "mean %.2f\n",
        what, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms);
  };
  std::string text = absl::StrFormat(
      "%d requests in %.2f s: %.1f requests/s (OK %.1f/s)\n", stats.requests,
      stats.seconds, stats.qps, stats.ok_qps);
  if (stats.ok > 0) {
    absl::StrAppend(&text, latency_line("OK calls", stats.ok_latency));
  } else {
    absl::StrAppend(&text, "latency of OK calls: none succeeded\n");
  }
  if (stats.ok < stats.requests) {
    absl::StrAppend(&text, latency_line("all calls", stats.all_latency));
  }
  for (const auto& [code, count] : stats.status_counts) {
    absl::StrAppend(&text, "status ", StatusCodeName(code), ": ", count, "\n");
  }
  return text;
}

absl::Status ValidateLoadgenOptions(const LoadgenOptions& options) {
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency must be >= 1, got ", options.concurrency));
  }
  if (options.duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration must not be negative");
  }
  if (options.requests < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("requests must be >= 0, got ", options.requests));
  }
  if (options.duration == absl::ZeroDuration() && options.requests == 0) {
    return absl::InvalidArgumentError(
        "set a duration or a number of requests: the run must be bounded");
  }
  if (options.top_k < 1 || options.top_k > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be in [1, 1000], got ", options.top_k));
  }
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the deadline must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadStats> RunLoadgen(const LoadgenOptions& options,
                                     const std::vector<std::string>& queries,
                                     const RetrievalClient& client) {
  if (absl::Status status = ValidateLoadgenOptions(options); !status.ok()) {
    return status;
  }
  if (queries.empty()) {
    return absl::InvalidArgumentError("no queries to send");
  }
  const absl::Time start = absl::Now();
  const bool timed = options.duration > absl::ZeroDuration();
  const absl::Time end = timed ? start + options.duration : absl::InfiniteFuture();
  std::atomic<int64_t> issued{0};
  std::vector<std::vector<CallRecord>> records(options.concurrency);
  std::vector<std::thread> threads;
  const size_t n = queries.size();
  for (int t = 0; t < options.concurrency; ++t) {
    threads.emplace_back([&, t] {
      size_t next = static_cast<size_t>(
          (static_cast<unsigned long long>(t) * n) / options.concurrency);
      retrieval::v1::SearchRequest request;
      request.set_top_k(options.top_k);
      request.set_category(options.category);
      while (absl::Now() < end) {
        if (options.requests > 0 && issued.fetch_add(1) >= options.requests) {
          break;
        }
        request.set_text(queries[next]);
        next = (next + 1) % n;
        retrieval::v1::SearchResponse response;
        const absl::Time call_start = absl::Now();
        const grpc::Status status =
            client.SearchOnce(request, options.deadline, &response);
        records[t].push_back(
            {absl::ToDoubleMilliseconds(absl::Now() - call_start),
             status.error_code()});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<CallRecord> all;
  for (std::vector<CallRecord>& one : records) {
    all.insert(all.end(), one.begin(), one.end());
  }
  return ComputeLoadStats(all, seconds);
}

}  // namespace client
