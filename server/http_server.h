// The HTTP endpoint of the server's Prometheus metrics: GET /metrics answers
// with the text a callback renders; any other path is 404. Built on
// cpp-httplib (Debian's libcpp-httplib) with a pool of worker threads and
// per-read timeouts, so an idle or slow client holds one worker, never the
// endpoint: other scrapes are answered meanwhile.
#ifndef SERVER_HTTP_SERVER_H_
#define SERVER_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace server {

class MetricsHttpServer {
 public:
  // Connections served at once; more wait for a free worker.
  static constexpr int kWorkers = 8;

  // Binds host:port (port 0 picks one) and starts serving. UNAVAILABLE when
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host, int port, std::function<std::string()> render);
  ~MetricsHttpServer();  // stops

  int port() const;
  // Stops accepting, ends open connections and joins the workers.
  void Stop();

 private:
  struct Impl;
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace server

#endif  // SERVER_HTTP_SERVER_H_
