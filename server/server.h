// The retrieval server: gRPC (TextImageRetrieval, the standard health
// service, reflection), the model manager with hot reload, the batcher, and
// the Prometheus metrics endpoint, and the REST/JSON gateway with the web
// search page when enabled (ServerOptions::http_port).
//
// Lifecycle: Create() validates the options before binding anything, loads
// the newest version if one exists (health NOT_SERVING until a version is
// loaded; SERVING after), binds the ports and starts serving. Shutdown()
// marks health NOT_SERVING, stops accepting calls, lets in-flight calls
// finish within the grace period, then stops the batcher and reloader.
#ifndef SERVER_SERVER_H_
#define SERVER_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "clip/precision.h"

namespace server {

// Who may use the gRPC reflection service (grpc.reflection.v1alpha, what
// grpcurl and grpc_cli list and describe services with).
enum class ReflectionMode {
  kDefault,  // kAuth when a token is configured, kOn otherwise
  kOff,      // not served
  kOn,       // served to every caller, even when a token is configured
  kAuth,     // served only to calls with the bearer token; needs a token
};

// "off", "on", "auth" or "" (kDefault); INVALID_ARGUMENT otherwise.
absl::StatusOr<ReflectionMode> ParseReflectionMode(const std::string& text);

// The bearer token of `path`: the file's bytes without surrounding ASCII
// whitespace (so one trailing newline is fine). INVALID_ARGUMENT naming the
// file when that is empty or holds a byte a client cannot send in the
// header (a control byte such as an embedded newline, a space, non-ASCII):
// the same rule as the clients' ReadBearerToken, so every token the server
// accepts can be sent. NOT_FOUND etc. when the file cannot be read.
absl::StatusOr<std::string> ReadAuthToken(const std::string& path);

struct ServerOptions {
  std::string models_dir;
  std::string host = "127.0.0.1";
  int port = 8500;          // 0: pick a free port
  int metrics_port = 9090;  // 0: pick a free port; -1: no metrics endpoint
  // The REST/JSON gateway (server/rest_gateway.h): -1 = off, 0 = pick a
  // free port. It serves HTTPS when tls_cert/tls_key are set and checks the
  // same bearer token as gRPC.
  int http_port = -1;
  int http_threads = 16;       // connections served at once
  double http_timeout_s = 30;  // deadline unless X-Request-Timeout-Ms
  // The gallery images GET /v1/images serves, for every version; "" = each
  // version's manifest `dataset` (the images directory export read).
  std::string gallery_images_dir;
  int max_batch_size = 64;
  int batch_timeout_us = 2000;
  int max_queue = 1024;
  int max_queue_per_connection = 0;  // texts; 0 = max_queue / 2
  int threads = 0;                   // model compute threads; 0 = all cores
  double reload_interval_s = 30;     // 0: load once at start
  int cache_size = 10000;            // 0: no cache
  std::string tls_cert, tls_key;     // both or neither (PEM files)
  std::string auth_token_file;       // bearer token required when set
  ReflectionMode reflection = ReflectionMode::kDefault;
  double grace_period_s = 20;
  std::string device = "cpu";
  clip::Precision precision = clip::Precision::kFp32;  // query encoding
  // Re-ranking on versions with attribute heads: -1 = each version's
  // manifest, 0 = off, in [1, kMaxRerankCandidates] = that short list.
  int rerank_candidates = -1;
  // rerank::RerankWeights text replacing the manifests'; "" = the manifests'.
  std::string rerank_weights;
  // Model versions to serve (ParseVersionPolicy: latest, latest:N,
  // specific:V,...), the one requests naming no version get (0: the newest
  // loaded; see ModelManager::Options::default_version), and whether the
  // versions load their image tower to answer image queries.
  std::string model_versions = "latest";
  int64_t default_version = 0;
  bool image_queries = true;
  // Map the inverted lists of IVF indexes from their files instead of
  // reading them (gallery::LoadOptions::mmap); other index types are read
  // either way.
  bool mmap_index = true;
  // Tests only: see Batcher::Options::delay_for_testing.
  int batch_delay_for_testing_us = 0;
};

// INVALID_ARGUMENT naming the option when a value is out of range, a file
// is missing, TLS is half-configured, the token file is unusable (see
// ReadAuthToken), reflection is kAuth without a token file, the re-rank
// weights do not parse, the version policy does not parse, or the default
// version is not part of it.
absl::Status ValidateServerOptions(const ServerOptions& options);

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Create(
      const ServerOptions& options);
  ~Server();

  // "host:port" actually bound.
  std::string address() const;
  int port() const;
  int metrics_port() const;      // -1 when disabled
  int http_port() const;         // the REST gateway's; -1 when disabled
  bool serving() const;          // a model version is loaded
  int64_t queued_texts() const;  // texts waiting in the batcher's queue
  // The metrics endpoint's text (also without an endpoint).
  std::string metrics_text() const;

  // Blocks until Shutdown() has completed.
  void Wait();
  void Shutdown(std::chrono::milliseconds grace);

  // Loads a newer version now instead of at the next poll.
  absl::Status ReloadNow();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace server

#endif  // SERVER_SERVER_H_
