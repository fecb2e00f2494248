// Client side of the retrieval.v1 API, shared by batch_client, query and
// loadgen: channel creation (plain or TLS), the bearer token, per-call
// deadlines, retries with exponential backoff and jitter, and conversion of
// grpc::Status to absl::Status.
//
// Retries: only UNAVAILABLE (server not ready, connection lost, shutting
// down), CANCELLED (a call the server dropped while shutting down; this
// client never cancels its own calls) and DEADLINE_EXCEEDED are retried by
// default; RESOURCE_EXHAUSTED (server queue full) only when
// RetryPolicy::retry_resource_exhausted is set. Every other code is final:
// INVALID_ARGUMENT, UNAUTHENTICATED, ... come back at once.
//
// Server restarts: the first attempt of a call fails fast when the server
// cannot be reached; every retried attempt waits for the channel to connect
// (wait_for_ready), within its deadline. The channel's own reconnect backoff
// is sized to the retry policy (ReconnectBackoffFor), so that it reconnects
// about as often as the calls are retried instead of after gRPC's default
// 1 s growing to 120 s. A server that goes away for less than the retry
// budget is thus ridden through; one that stays away makes each retried
// attempt last up to its deadline.
//
// Thread safety: RetrievalClient is immutable after construction and safe to
// share between threads; gRPC multiplexes concurrent calls over one channel.
#ifndef CLIENT_GRPC_CLIENT_H_
#define CLIENT_GRPC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "retrieval/v1/retrieval.grpc.pb.h"

namespace client {

// How to reach the server.
struct ConnectionOptions {
  // gRPC target: "HOST:PORT" ("[::1]:50051" for IPv6 literals), or a gRPC URI
  // such as "dns:///host:50051" or "unix:/path/to/socket". Required.
  std::string server;
  // PEM file with the root certificates that sign the server's certificate.
  // Non-empty turns TLS on; empty means a plaintext channel.
  std::string tls_ca_file;
  // Overrides the host name checked against the server certificate (e.g.
  // when connecting by IP address). Only with TLS. Empty: the host of
  // `server`.
  std::string tls_server_name;
  // File holding the bearer token, sent with every call as
  // "authorization: Bearer <token>". Surrounding whitespace (the final line
  // end) is dropped. Empty: no token.
  std::string auth_token_file;
};

// Largest response the channel accepts, in bytes. A BatchSearch answer of 256
// texts with 1000 hits each is about 8 MB, past gRPC's 4 MB default.
inline constexpr int kMaxReceiveMessageBytes = 256 << 20;

// Checks `server` as described in ConnectionOptions::server:
// INVALID_ARGUMENT naming it when empty, without a port, with a port outside
// [1, 65535] or with an empty host. URIs with a scheme are passed through.
absl::Status ValidateServerAddress(absl::string_view server);

// The checks every client binary makes on its connection flags before
// connecting: --server present and valid, --tls_server_name only with
// --tls_ca. INVALID_ARGUMENT naming the flag.
absl::Status ValidateConnectionOptions(const ConnectionOptions& options);

// Reads a bearer token file: NOT_FOUND for a missing file, INVALID_ARGUMENT
// naming the file when the token is empty or holds characters other than
// printable ASCII without spaces (metadata values cannot carry them).
absl::StatusOr<std::string> ReadBearerToken(const std::string& path);

struct RetryPolicy;

// Creates the channel (nothing is connected until the first call), with its
// reconnect backoff sized to `retry` (ReconnectBackoffFor). INVALID_ARGUMENT
// for a bad address or tls_server_name without TLS, NOT_FOUND for a missing
// certificate file, INVALID_ARGUMENT for one without a PEM certificate.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ConnectionOptions& options);
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ConnectionOptions& options, const RetryPolicy& retry);

// Retry behaviour for one logical call.
struct RetryPolicy {
  // Retries after the first attempt; 0 = one attempt only.
  int max_retries = 5;
  // Delay before retry n (n = 1, 2, ...) is
  //   min(initial_backoff * multiplier^(n-1), max_backoff) * U(1-jitter,
  //   1+jitter)
  // (gRPC's connection-backoff shape).
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2.0;
  double jitter = 0.2;  // in [0, 1]
  // Also retry RESOURCE_EXHAUSTED (the server's request queue is full).
  bool retry_resource_exhausted = false;
};

// The channel arguments that govern reconnection after a lost connection
// (grpc.initial_reconnect_backoff_ms, grpc.max_reconnect_backoff_ms and
// grpc.min_reconnect_backoff_ms, the last being the shortest time a
// connection attempt is given), in milliseconds.
struct ReconnectBackoff {
  int initial_ms = 0;
  int max_ms = 0;
  int min_connect_timeout_ms = 0;
};

// initial = the policy's initial backoff, max = its max backoff, each at
// least 100 ms (gRPC's floor); the connect timeout is max, but at least 1 s.
// Durations past INT_MAX ms are clamped.
ReconnectBackoff ReconnectBackoffFor(const RetryPolicy& policy);

// INVALID_ARGUMENT naming the field when a RetryPolicy value is out of range
// (negative retries or durations, multiplier < 1, jitter outside [0, 1]).
absl::Status ValidateRetryPolicy(const RetryPolicy& policy);

// Whether `code` is retried under `policy`.
bool IsRetryable(grpc::StatusCode code, const RetryPolicy& policy);

// The delay before retry number `retry` (1-based) for a uniform random draw
// `unit` in [0, 1): see RetryPolicy. Deterministic, for testing; callers draw
// `unit` themselves.
absl::Duration BackoffDelay(const RetryPolicy& policy, int retry, double unit);

// Absolute deadline `timeout` from now for grpc::ClientContext::set_deadline.
std::chrono::system_clock::time_point DeadlineFromNow(absl::Duration timeout);

// "pedestrian" -> CATEGORY_PEDESTRIAN, "vehicle" -> CATEGORY_VEHICLE,
// "auto" -> CATEGORY_AUTO (the server routes each text to the category its
// model predicts); "", "all" and "unspecified" -> CATEGORY_UNSPECIFIED; any
// case. INVALID_ARGUMENT listing the valid names otherwise.
absl::StatusOr<retrieval::v1::Category> ParseCategory(absl::string_view name);

// "pedestrian", "vehicle", "auto" or "unspecified"; ParseCategory reads each
// back as the same value.
const char* CategoryName(retrieval::v1::Category category);

// Per logical call.
struct CallOptions {
  // Deadline of each attempt; absl::InfiniteDuration() for none.
  absl::Duration deadline = absl::Seconds(30);
  RetryPolicy retry;
};

// What happened during one logical call (all attempts).
struct CallStats {
  int attempts = 0;
  // Time spent in backoff sleeps.
  absl::Duration backoff = absl::ZeroDuration();
};

// A TextImageRetrieval stub with the token, deadlines and retries applied.
class RetrievalClient {
 public:
  // CreateChannel(options, retry) + ReadBearerToken. `retry` should be the
  // policy of the calls that will be made.
  static absl::StatusOr<std::unique_ptr<RetrievalClient>> Connect(
      const ConnectionOptions& options);
  static absl::StatusOr<std::unique_ptr<RetrievalClient>> Connect(
      const ConnectionOptions& options, const RetryPolicy& retry);

  // `bearer_token` empty: no authorization metadata.
  RetrievalClient(std::shared_ptr<grpc::Channel> channel,
                  std::string bearer_token);

  // Each runs the RPC with retries under `options`; retried attempts wait
  // for the channel to connect (see the top of this file). The error is the
  // last attempt's status; after more than one attempt its message ends with
  // " (after N attempts)". `stats` may be null.
  absl::StatusOr<retrieval::v1::SearchResponse> Search(
      const retrieval::v1::SearchRequest& request, const CallOptions& options,
      CallStats* stats = nullptr) const;
  absl::StatusOr<retrieval::v1::BatchSearchResponse> BatchSearch(
      const retrieval::v1::BatchSearchRequest& request,
      const CallOptions& options, CallStats* stats = nullptr) const;
  absl::StatusOr<retrieval::v1::GetModelInfoResponse> GetModelInfo(
      const CallOptions& options, CallStats* stats = nullptr) const;

  // One Search attempt without retries (for load generation).
  grpc::Status SearchOnce(const retrieval::v1::SearchRequest& request,
                          absl::Duration deadline,
                          retrieval::v1::SearchResponse* response) const;

  // Sets the deadline (unless infinite) and the authorization metadata.
  void PrepareContext(grpc::ClientContext* context,
                      absl::Duration deadline) const;

  retrieval::v1::TextImageRetrieval::Stub* stub() const { return stub_.get(); }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> CallWithRetry(const CallOptions& options,
                                         CallStats* stats, Rpc rpc) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<retrieval::v1::TextImageRetrieval::Stub> stub_;
  std::string authorization_;  // "Bearer <token>" or empty
};

}  // namespace client

#endif  // CLIENT_GRPC_CLIENT_H_
