// The REST/JSON gateway of the server: the operations of
// retrieval.v1.TextImageRetrieval over HTTP/1.1 with JSON bodies in the
// proto3 JSON mapping, the gallery's images and thumbnails, the embedded web
// search page and a health check, on a port of its own (docs/server.md,
// "REST"). Requests are parsed into the proto messages and handed to
// RetrievalApi, exactly as the gRPC service does, so both transports accept
// and refuse the same requests.
//
// Built on cpp-httplib (Debian's libcpp-httplib) with a fixed pool of worker
// threads and per-read/write timeouts: a connection holds one worker while
// it is open (kept alive between requests for up to kKeepAliveSeconds idle),
// a slow client holds only its own. A worker waits for the batcher's answer
// of its request; no other thread is blocked by it.
//
// Thread safety: Start, port and Stop may be called from any thread.
#ifndef SERVER_REST_GATEWAY_H_
#define SERVER_REST_GATEWAY_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/metrics.h"
#include "server/retrieval_api.h"

namespace server {

struct RestGatewayOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: pick a free port
  int threads = 16;
  // Both or neither: HTTPS with this PEM certificate chain and key.
  std::string tls_cert, tls_key;
  // Non-empty: /v1/* requests must send "Authorization: Bearer <token>".
  std::string auth_token;
  // A request's deadline unless its X-Request-Timeout-Ms header sets one.
  std::chrono::milliseconds default_timeout{30'000};
  // The gallery images' directory for every version; empty: each version's
  // manifest `dataset` (the images directory export read).
  std::string gallery_images_dir;
  // Longest request body; longer ones are answered 413.
  int64_t max_body_bytes = kMaxRestBodyBytes;

  // Fits an image of kMaxImageBytes in base64 inside a JSON body.
  static constexpr int64_t kMaxRestBodyBytes = 16 << 20;
};

// The HTTP status of an absl status code, as gRPC-gateway and the Google APIs
// map them (INVALID_ARGUMENT 400, NOT_FOUND 404, UNAVAILABLE 503, ...).
int HttpStatusFor(absl::StatusCode code);

// The google.rpc.Status JSON of `status`:
// {"code":3,"status":"INVALID_ARGUMENT","message":"..."}.
std::string StatusJson(const absl::Status& status);

class RestGateway {
 public:
  static constexpr int kKeepAliveSeconds = 5;
  // Thumbnail sizes (longer side, pixels) a request may ask for.
  static constexpr int kMinThumbnail = 16, kMaxThumbnail = 1024;
  static constexpr int kDefaultThumbnail = 160;

  // Binds options.host:options.port and starts serving. `serving` says
  // whether /healthz answers SERVING. Pointers must outlive the gateway.
  // INVALID_ARGUMENT when the TLS material cannot be loaded, UNAVAILABLE
  // when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RestGateway>> Start(
      const RestGatewayOptions& options, RetrievalApi* api, Metrics* metrics,
      std::function<bool()> serving);
  ~RestGateway();  // stops

  int port() const;
  // Stops accepting, lets requests being answered finish, ends kept-alive
  // connections and joins the workers.
  void Stop();

 private:
  struct Impl;
  explicit RestGateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace server

#endif  // SERVER_REST_GATEWAY_H_
