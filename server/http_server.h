// A minimal HTTP/1.0 server for the metrics endpoint: GET /metrics answers
// with the text a callback renders; anything else is 404. One thread,
// connections handled one at a time (scrapes are rare and small).
#ifndef SERVER_HTTP_SERVER_H_
#define SERVER_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace server {

class MetricsHttpServer {
 public:
  // Binds host:port (port 0 picks one) and starts serving. UNAVAILABLE when
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host, int port, std::function<std::string()> render);
  ~MetricsHttpServer();  // stops

  int port() const { return port_; }
  void Stop();

 private:
  MetricsHttpServer(int fd, int port, std::function<std::string()> render);
  void Loop();
  int fd_;
  int port_;
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace server

#endif  // SERVER_HTTP_SERVER_H_
