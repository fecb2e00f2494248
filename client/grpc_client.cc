#include "client/grpc_client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace client {
namespace {

using retrieval::v1::BatchSearchRequest;
using retrieval::v1::BatchSearchResponse;
using retrieval::v1::Category;
using retrieval::v1::GetModelInfoRequest;
using retrieval::v1::GetModelInfoResponse;
using retrieval::v1::SearchRequest;
using retrieval::v1::SearchResponse;

// A uniform draw in [0, 1) from a per-thread generator.
double UniformUnit() {
  thread_local std::mt19937_64 generator(
      std::random_device{}() ^
      std::hash<std::thread::id>{}(std::this_thread::get_id()));
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

}  // namespace

absl::Status ValidateServerAddress(absl::string_view server) {
  if (server.empty()) {
    return absl::InvalidArgumentError("server address is empty (HOST:PORT)");
  }
  if (absl::StrContains(server, "://") || absl::StartsWith(server, "unix:") ||
      absl::StartsWith(server, "dns:") || absl::StartsWith(server, "ipv4:") ||
      absl::StartsWith(server, "ipv6:")) {
    return absl::OkStatus();
  }
  const size_t colon = server.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server address \"", server, "\" has no port (expected HOST:PORT)"));
  }
  const absl::string_view host = server.substr(0, colon);
  const absl::string_view port_text = server.substr(colon + 1);
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535 ||
      port_text.empty() || !absl::ascii_isdigit(port_text[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("server address \"", server, "\": port \"", port_text,
                     "\" is not a number in [1, 65535]"));
  }
  if (host.empty() || host == "[]") {
    return absl::InvalidArgumentError(absl::StrCat(
        "server address \"", server, "\" has no host (expected HOST:PORT)"));
  }
  // An IPv6 literal must be bracketed, otherwise its colons are ambiguous.
  if (host.find(':') != absl::string_view::npos &&
      !(host.front() == '[' && host.back() == ']')) {
    return absl::InvalidArgumentError(
        absl::StrCat("server address \"", server,
                     "\": write IPv6 addresses in brackets, e.g. [::1]:50051"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadBearerToken(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  const absl::string_view token = absl::StripAsciiWhitespace(contents);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " is empty"));
  }
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(token[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token file ", path, ": the token holds a character (byte ",
          static_cast<int>(c), " at offset ", i,
          ") that is not printable ASCII; tokens are one word"));
    }
  }
  return std::string(token);
}

absl::Status ValidateConnectionOptions(const ConnectionOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("--server is required");
  }
  RETURN_IF_ERROR(ValidateServerAddress(options.server));
  if (!options.tls_server_name.empty() && options.tls_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_server_name requires --tls_ca");
  }
  return absl::OkStatus();
}

ReconnectBackoff ReconnectBackoffFor(const RetryPolicy& policy) {
  auto to_ms = [](absl::Duration d, int floor_ms) {
    const int64_t ms = absl::ToInt64Milliseconds(d);
    return static_cast<int>(std::min<int64_t>(std::max<int64_t>(ms, floor_ms),
                                              std::numeric_limits<int>::max()));
  };
  ReconnectBackoff backoff;
  backoff.initial_ms = to_ms(policy.initial_backoff, 100);
  backoff.max_ms = std::max(backoff.initial_ms, to_ms(policy.max_backoff, 100));
  backoff.min_connect_timeout_ms = std::max(backoff.max_ms, 1000);
  return backoff;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ConnectionOptions& options) {
  return CreateChannel(options, RetryPolicy());
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ConnectionOptions& options, const RetryPolicy& retry) {
  RETURN_IF_ERROR(ValidateServerAddress(options.server));
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  const ReconnectBackoff backoff = ReconnectBackoffFor(retry);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, backoff.initial_ms);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, backoff.max_ms);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                   backoff.min_connect_timeout_ms);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_file.empty()) {
    if (!options.tls_server_name.empty()) {
      return absl::InvalidArgumentError(
          "a TLS server name was given without a CA file: TLS is off");
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    ASSIGN_OR_RETURN(std::string roots, common::ReadFile(options.tls_ca_file));
    if (!absl::StrContains(roots, "-----BEGIN CERTIFICATE-----")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CA file ", options.tls_ca_file,
          " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = std::move(roots);
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  return grpc::CreateCustomChannel(options.server, credentials, arguments);
}

absl::Status ValidateRetryPolicy(const RetryPolicy& policy) {
  if (policy.max_retries < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("retries must be >= 0, got ", policy.max_retries));
  }
  if (policy.initial_backoff < absl::ZeroDuration() ||
      policy.max_backoff < policy.initial_backoff) {
    return absl::InvalidArgumentError(
        absl::StrCat("backoff must satisfy 0 <= initial (",
                     absl::FormatDuration(policy.initial_backoff), ") <= max (",
                     absl::FormatDuration(policy.max_backoff), ")"));
  }
  if (!(policy.multiplier >= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backoff multiplier must be >= 1, got ", policy.multiplier));
  }
  if (!(policy.jitter >= 0.0 && policy.jitter <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backoff jitter must be in [0, 1], got ", policy.jitter));
  }
  return absl::OkStatus();
}

bool IsRetryable(grpc::StatusCode code, const RetryPolicy& policy) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return policy.retry_resource_exhausted;
    default:
      return false;
  }
}

absl::Duration BackoffDelay(const RetryPolicy& policy, int retry, double unit) {
  // Exponent capped so that pow() stays finite; the result is clamped to
  // max_backoff anyway.
  const int exponent = std::min(std::max(retry - 1, 0), 60);
  const double base_s = std::min(absl::ToDoubleSeconds(policy.initial_backoff) *
                                     std::pow(policy.multiplier, exponent),
                                 absl::ToDoubleSeconds(policy.max_backoff));
  const double factor = 1.0 - policy.jitter + 2.0 * policy.jitter * unit;
  return absl::Seconds(std::max(0.0, base_s * factor));
}

std::chrono::system_clock::time_point DeadlineFromNow(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

absl::StatusOr<Category> ParseCategory(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower.empty() || lower == "all" || lower == "unspecified") {
    return retrieval::v1::CATEGORY_UNSPECIFIED;
  }
  if (lower == "pedestrian") return retrieval::v1::CATEGORY_PEDESTRIAN;
  if (lower == "vehicle") return retrieval::v1::CATEGORY_VEHICLE;
  if (lower == "auto") return retrieval::v1::CATEGORY_AUTO;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown category \"", name,
      "\" (valid: pedestrian, vehicle, auto for the category the server's "
      "model predicts, or empty/all for no filter)"));
}

const char* CategoryName(Category category) {
  switch (category) {
    case retrieval::v1::CATEGORY_PEDESTRIAN:
      return "pedestrian";
    case retrieval::v1::CATEGORY_VEHICLE:
      return "vehicle";
    case retrieval::v1::CATEGORY_AUTO:
      return "auto";
    default:
      return "unspecified";
  }
}

absl::StatusOr<std::unique_ptr<RetrievalClient>> RetrievalClient::Connect(
    const ConnectionOptions& options) {
  return Connect(options, RetryPolicy());
}

absl::StatusOr<std::unique_ptr<RetrievalClient>> RetrievalClient::Connect(
    const ConnectionOptions& options, const RetryPolicy& retry) {
  std::string token;
  if (!options.auth_token_file.empty()) {
    ASSIGN_OR_RETURN(token, ReadBearerToken(options.auth_token_file));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                   CreateChannel(options, retry));
  return std::make_unique<RetrievalClient>(std::move(channel),
                                           std::move(token));
}

RetrievalClient::RetrievalClient(std::shared_ptr<grpc::Channel> channel,
                                 std::string bearer_token)
    : channel_(std::move(channel)),
      stub_(retrieval::v1::TextImageRetrieval::NewStub(channel_)),
      authorization_(bearer_token.empty()
                         ? std::string()
                         : absl::StrCat("Bearer ", bearer_token)) {}

void RetrievalClient::PrepareContext(grpc::ClientContext* context,
                                     absl::Duration deadline) const {
  if (deadline != absl::InfiniteDuration()) {
    context->set_deadline(DeadlineFromNow(deadline));
  }
  if (!authorization_.empty()) {
    context->AddMetadata("authorization", authorization_);
  }
}

template <typename Response, typename Rpc>
absl::StatusOr<Response> RetrievalClient::CallWithRetry(
    const CallOptions& options, CallStats* stats, Rpc rpc) const {
  CallStats local_stats;
  CallStats& s = stats != nullptr ? *stats : local_stats;
  s = CallStats();
  const int max_attempts = 1 + std::max(0, options.retry.max_retries);
  grpc::Status status;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    PrepareContext(&context, options.deadline);
    // A retry waits for the channel to reconnect (bounded by its deadline)
    // instead of failing at once while the channel backs off.
    if (attempt > 1) context.set_wait_for_ready(true);
    Response response;
    status = rpc(&context, &response);
    s.attempts = attempt;
    if (status.ok()) return response;
    if (attempt >= max_attempts ||
        !IsRetryable(status.error_code(), options.retry)) {
      break;
    }
    const absl::Duration delay =
        BackoffDelay(options.retry, attempt, UniformUnit());
    s.backoff += delay;
    absl::SleepFor(delay);
  }
  absl::Status error = common::FromGrpcStatus(status);
  if (s.attempts > 1) {
    error = absl::Status(error.code(), absl::StrCat(error.message(), " (after ",
                                                    s.attempts, " attempts)"));
  }
  return error;
}

absl::StatusOr<SearchResponse> RetrievalClient::Search(
    const SearchRequest& request, const CallOptions& options,
    CallStats* stats) const {
  return CallWithRetry<SearchResponse>(
      options, stats,
      [&](grpc::ClientContext* context, SearchResponse* response) {
        return stub_->Search(context, request, response);
      });
}

absl::StatusOr<BatchSearchResponse> RetrievalClient::BatchSearch(
    const BatchSearchRequest& request, const CallOptions& options,
    CallStats* stats) const {
  return CallWithRetry<BatchSearchResponse>(
      options, stats,
      [&](grpc::ClientContext* context, BatchSearchResponse* response) {
        return stub_->BatchSearch(context, request, response);
      });
}

absl::StatusOr<GetModelInfoResponse> RetrievalClient::GetModelInfo(
    const CallOptions& options, CallStats* stats) const {
  const GetModelInfoRequest request;
  return CallWithRetry<GetModelInfoResponse>(
      options, stats,
      [&](grpc::ClientContext* context, GetModelInfoResponse* response) {
        return stub_->GetModelInfo(context, request, response);
      });
}

grpc::Status RetrievalClient::SearchOnce(const SearchRequest& request,
                                         absl::Duration deadline,
                                         SearchResponse* response) const {
  grpc::ClientContext context;
  PrepareContext(&context, deadline);
  return stub_->Search(&context, request, response);
}

}  // namespace client
