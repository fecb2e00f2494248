#include "client/loadgen.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/mix.h"
#include "server/request_validation.h"

namespace client {
namespace {

using common::Mix64;

bool BacksOff(grpc::StatusCode code) {
  return code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         code == grpc::StatusCode::UNAVAILABLE;
}

}  // namespace

const char* InvalidKindName(InvalidKind kind) {
  switch (kind) {
    case InvalidKind::kEmptyText:
      return "empty_text";
    case InvalidKind::kWhitespaceText:
      return "whitespace_text";
    case InvalidKind::kLongText:
      return "long_text";
    case InvalidKind::kInvalidUtf8:
      return "invalid_utf8";
    case InvalidKind::kNegativeTopK:
      return "negative_top_k";
    case InvalidKind::kLargeTopK:
      return "large_top_k";
    case InvalidKind::kUnknownCategory:
      return "unknown_category";
  }
  return "unknown";
}

std::optional<InvalidKind> PlanRequest(uint64_t seed, double fraction,
                                       int64_t index) {
  if (!(fraction > 0)) return std::nullopt;
  const uint64_t h = Mix64(seed ^ Mix64(static_cast<uint64_t>(index)));
  const double unit = static_cast<double>(h >> 11) * 0x1.0p-53;  // [0, 1)
  if (unit >= fraction) return std::nullopt;
  return static_cast<InvalidKind>(Mix64(h) % kNumInvalidKinds);
}

void MakeInvalid(InvalidKind kind, retrieval::v1::SearchRequest* request) {
  switch (kind) {
    case InvalidKind::kEmptyText:
      request->set_text("");
      break;
    case InvalidKind::kWhitespaceText:
      request->set_text(" \t  ");
      break;
    case InvalidKind::kLongText:
      request->set_text(std::string(server::kMaxTextBytes + 1, 'a'));
      break;
    case InvalidKind::kInvalidUtf8:
      request->set_text("a white car \xff");
      break;
    case InvalidKind::kNegativeTopK:
      request->set_top_k(-1);
      break;
    case InvalidKind::kLargeTopK:
      request->set_top_k(server::kMaxTopK + 1);
      break;
    case InvalidKind::kUnknownCategory:
      request->set_category(static_cast<retrieval::v1::Category>(7));
      break;
  }
}

RetryPolicy DefaultLoadgenBackoff() {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(20);
  policy.max_backoff = absl::Seconds(2);
  policy.multiplier = 2.0;
  policy.jitter = 0.2;
  return policy;
}

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
    if (call.invalid.has_value()) {
      ++stats.invalid_requests;
      ++stats.invalid_status_counts[call.code];
      ++stats.invalid_by_kind[*call.invalid][call.code];
    } else {
      ++stats.valid_status_counts[call.code];
    }
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

std::string FormatLoadStats(const LoadStats& stats) {
  auto latency_line = [](const char* what, const LatencySummary& l) {
    return absl::StrFormat(
        "latency of %s (ms): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  "
        "mean %.2f\n",
        what, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms);
  };
  std::string text;
  if (stats.interrupted) {
    absl::StrAppend(&text,
                    "interrupted: statistics of the calls made until then\n");
  }
  absl::StrAppend(
      &text,
      absl::StrFormat("%d requests in %.2f s: %.1f requests/s (OK "
                      "%.1f/s)\n",
                      stats.requests, stats.seconds, stats.qps, stats.ok_qps));
  if (stats.ok > 0) {
    absl::StrAppend(&text, latency_line("OK calls", stats.ok_latency));
  } else {
    absl::StrAppend(&text, "latency of OK calls: none succeeded\n");
  }
  if (stats.ok < stats.requests) {
    absl::StrAppend(&text, latency_line("all calls", stats.all_latency));
  }
  auto count_of = [](const std::map<grpc::StatusCode, int64_t>& counts,
                     grpc::StatusCode code) -> int64_t {
    const auto it = counts.find(code);
    return it == counts.end() ? 0 : it->second;
  };
  if (stats.invalid_requests > 0) {
    absl::StrAppend(&text,
                    absl::StrFormat("invalid requests: %d of %d (%.1f%%)\n",
                                    stats.invalid_requests, stats.requests,
                                    100.0 * stats.invalid_requests /
                                        std::max<int64_t>(stats.requests, 1)));
  }
  for (const auto& [code, count] : stats.status_counts) {
    absl::StrAppend(&text, "status ", common::GrpcCodeName(code), ": ", count);
    if (stats.invalid_requests > 0) {
      absl::StrAppend(&text, " (valid ",
                      count_of(stats.valid_status_counts, code), ", invalid ",
                      count_of(stats.invalid_status_counts, code), ")");
    }
    absl::StrAppend(&text, "\n");
  }
  for (const auto& [kind, codes] : stats.invalid_by_kind) {
    std::vector<std::string> parts;
    for (const auto& [code, count] : codes) {
      parts.push_back(absl::StrCat(common::GrpcCodeName(code), " ", count));
    }
    absl::StrAppend(&text, "invalid ", InvalidKindName(kind), ": ",
                    absl::StrJoin(parts, ", "), "\n");
  }
  for (const auto& [code, backoff] : stats.backoff) {
    absl::StrAppend(&text,
                    absl::StrFormat("backoff after %s: %d waits, %.2f s\n",
                                    common::GrpcCodeName(code), backoff.waits,
                                    backoff.seconds));
  }
  return text;
}

absl::Status CheckCodes(const LoadStats& stats) {
  if (stats.requests == 0) {
    return absl::FailedPreconditionError(
        "no request finished: there are no status codes to check");
  }
  int64_t failed_valid = 0;
  std::vector<std::string> valid_parts;
  for (const auto& [code, count] : stats.valid_status_counts) {
    if (code == grpc::StatusCode::OK) continue;
    failed_valid += count;
    valid_parts.push_back(absl::StrCat(common::GrpcCodeName(code), " ", count));
  }
  int64_t wrong_invalid = 0;
  std::vector<std::string> invalid_parts;
  for (const auto& [kind, codes] : stats.invalid_by_kind) {
    for (const auto& [code, count] : codes) {
      if (code == grpc::StatusCode::INVALID_ARGUMENT) continue;
      wrong_invalid += count;
      invalid_parts.push_back(absl::StrCat(
          InvalidKindName(kind), ": ", common::GrpcCodeName(code), " ", count));
    }
  }
  if (failed_valid == 0 && wrong_invalid == 0) return absl::OkStatus();
  std::vector<std::string> problems;
  if (failed_valid > 0) {
    problems.push_back(absl::StrCat(
        failed_valid, " of ", stats.requests - stats.invalid_requests,
        " valid requests failed (", absl::StrJoin(valid_parts, ", "), ")"));
  }
  if (wrong_invalid > 0) {
    problems.push_back(absl::StrCat(
        wrong_invalid, " of ", stats.invalid_requests,
        " invalid requests got another code than INVALID_ARGUMENT (",
        absl::StrJoin(invalid_parts, "; "), ")"));
  }
  return absl::FailedPreconditionError(absl::StrJoin(problems, "; "));
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
  if (!(options.invalid_fraction >= 0.0 && options.invalid_fraction <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid_fraction must be in [0, 1], got ", options.invalid_fraction));
  }
  return ValidateRetryPolicy(options.backoff);
}

namespace {

class GrpcSender final : public SearchSender {
 public:
  explicit GrpcSender(const RetrievalClient* client) : client_(client) {}
  grpc::Status Search(const retrieval::v1::SearchRequest& request,
                      absl::Duration deadline,
                      retrieval::v1::SearchResponse* response) override {
    return client_->SearchOnce(request, deadline, response);
  }

 private:
  const RetrievalClient* client_;
};

// `bytes` as a JSON string: quote, backslash and control bytes escaped,
// the rest copied (invalid UTF-8 stays invalid, for the server to refuse).
void AppendJsonString(const std::string& bytes, std::string* out) {
  out->push_back('"');
  for (const char c : bytes) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20) {
      absl::StrAppend(out, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

class RestSender final : public SearchSender {
 public:
  explicit RestSender(const RestTarget& target) {
    if (target.tls_ca_file.empty()) {
      http_ = std::make_unique<httplib::ClientImpl>(target.host, target.port);
    } else {
      // The certificate is checked for the host connected to.
      const std::string& name =
          target.tls_server_name.empty() ? target.host : target.tls_server_name;
      auto ssl = std::make_unique<httplib::SSLClient>(name, target.port);
      ssl->set_ca_cert_path(target.tls_ca_file.c_str());
      ssl->enable_server_certificate_verification(true);
      http_ = std::move(ssl);
    }
    http_->set_keep_alive(true);
    // The request's headers and body go out in separate writes: without
    // TCP_NODELAY the body waits for the server's delayed ACK.
    http_->set_tcp_nodelay(true);
    if (!target.auth_token.empty()) {
      headers_.emplace("Authorization", "Bearer " + target.auth_token);
    }
  }

  grpc::Status Search(const retrieval::v1::SearchRequest& request,
                      absl::Duration deadline,
                      retrieval::v1::SearchResponse* response) override {
    std::string body = "{\"text\":";
    AppendJsonString(request.text(), &body);
    absl::StrAppend(&body, ",\"topK\":", request.top_k(),
                    ",\"category\":", static_cast<int>(request.category()),
                    "}");
    const int64_t ms =
        std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline));
    httplib::Headers headers = headers_;
    headers.emplace("X-Request-Timeout-Ms", absl::StrCat(ms));
    http_->set_read_timeout(ms / 1000, (ms % 1000) * 1000);
    http_->set_write_timeout(ms / 1000, (ms % 1000) * 1000);
    const httplib::Result r =
        http_->Post("/v1/search", headers, body, "application/json");
    if (!r) {
      return r.error() == httplib::Error::Read
                 ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                "no answer within the deadline")
                 : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                httplib::to_string(r.error()));
    }
    if (r->status == 200) {
      const auto st = google::protobuf::util::JsonStringToMessage(
          r->body, response, google::protobuf::util::JsonParseOptions());
      if (st.ok()) return grpc::Status::OK;
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "the answer is not a SearchResponse");
    }
    // The code of the google.rpc.Status body: {"code":N,...}.
    int code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    const size_t at = r->body.find("\"code\":");
    if (at == std::string::npos ||
        !absl::SimpleAtoi(
            absl::string_view(r->body).substr(
                at + 7,
                r->body.find_first_not_of("0123456789", at + 7) - (at + 7)),
            &code) ||
        code < 0 || code > 16) {
      code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    }
    return grpc::Status(static_cast<grpc::StatusCode>(code), r->body);
  }

 private:
  std::unique_ptr<httplib::ClientImpl> http_;
  httplib::Headers headers_;
};

}  // namespace

absl::StatusOr<RestTarget> ParseRestAddress(const std::string& server) {
  const size_t colon = server.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(server.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--server: \"", server,
        "\" is not HOST:PORT with a port in [1, 65535] (REST transport)"));
  }
  RestTarget target;
  target.host = server.substr(0, colon);
  if (target.host.size() > 2 && target.host.front() == '[' &&
      target.host.back() == ']') {
    target.host = target.host.substr(1, target.host.size() - 2);
  }
  target.port = port;
  return target;
}

SenderFactory RestSenders(const RestTarget& target) {
  return [target] { return std::make_unique<RestSender>(target); };
}

absl::StatusOr<LoadStats> RunLoadgen(const LoadgenOptions& options,
                                     const std::vector<std::string>& queries,
                                     const RetrievalClient& client) {
  return RunLoadgen(options, queries, [&client] {
    return std::make_unique<GrpcSender>(&client);
  });
}

absl::StatusOr<LoadStats> RunLoadgen(const LoadgenOptions& options,
                                     const std::vector<std::string>& queries,
                                     const SenderFactory& make_sender) {
  if (absl::Status status = ValidateLoadgenOptions(options); !status.ok()) {
    return status;
  }
  if (queries.empty()) {
    return absl::InvalidArgumentError("no queries to send");
  }
  const absl::Time start = absl::Now();
  const bool timed = options.duration > absl::ZeroDuration();
  const absl::Time end =
      timed ? start + options.duration : absl::InfiniteFuture();
  auto cancelled = [&] {
    return options.cancel != nullptr && options.cancel->load();
  };
  const bool backoff_enabled =
      options.backoff.initial_backoff > absl::ZeroDuration();
  std::atomic<int64_t> issued{0};
  std::atomic<bool> interrupted{false};
  std::vector<std::vector<CallRecord>> records(options.concurrency);
  std::vector<std::map<grpc::StatusCode, BackoffCount>> backoffs(
      options.concurrency);
  std::vector<std::thread> threads;
  const size_t n = queries.size();
  for (int t = 0; t < options.concurrency; ++t) {
    threads.emplace_back([&, t] {
      const std::unique_ptr<SearchSender> sender = make_sender();
      size_t next = static_cast<size_t>(
          (static_cast<unsigned long long>(t) * n) / options.concurrency);
      std::mt19937_64 jitter(std::random_device{}());
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      int failures_in_a_row = 0;
      while (absl::Now() < end) {
        if (cancelled()) {
          interrupted.store(true);
          break;
        }
        const int64_t index = issued.fetch_add(1);
        if (options.requests > 0 && index >= options.requests) break;
        retrieval::v1::SearchRequest request;
        request.set_top_k(options.top_k);
        request.set_category(options.category);
        request.set_text(queries[next]);
        next = (next + 1) % n;
        const std::optional<InvalidKind> invalid =
            PlanRequest(options.seed, options.invalid_fraction, index);
        if (invalid.has_value()) MakeInvalid(*invalid, &request);
        retrieval::v1::SearchResponse response;
        const absl::Time call_start = absl::Now();
        const grpc::Status status =
            sender->Search(request, options.deadline, &response);
        records[t].push_back(
            {absl::ToDoubleMilliseconds(absl::Now() - call_start),
             status.error_code(), invalid});
        if (!backoff_enabled || !BacksOff(status.error_code())) {
          failures_in_a_row = 0;
          continue;
        }
        ++failures_in_a_row;
        const absl::Time wait_start = absl::Now();
        const absl::Time wait_end = std::min(
            end, wait_start + BackoffDelay(options.backoff, failures_in_a_row,
                                           unit(jitter)));
        while (absl::Now() < wait_end && !cancelled()) {
          absl::SleepFor(
              std::min(wait_end - absl::Now(), absl::Milliseconds(10)));
        }
        BackoffCount& count = backoffs[t][status.error_code()];
        ++count.waits;
        count.seconds += absl::ToDoubleSeconds(absl::Now() - wait_start);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<CallRecord> all;
  for (std::vector<CallRecord>& one : records) {
    all.insert(all.end(), one.begin(), one.end());
  }
  LoadStats stats = ComputeLoadStats(all, seconds);
  for (const auto& per_thread : backoffs) {
    for (const auto& [code, count] : per_thread) {
      stats.backoff[code].waits += count.waits;
      stats.backoff[code].seconds += count.seconds;
    }
  }
  stats.interrupted = interrupted.load();
  return stats;
}

}  // namespace client
