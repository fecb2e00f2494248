#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace server {

struct MetricsHttpServer::Impl {
  httplib::Server http;
  std::function<std::string()> render;
  int port = 0;
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, std::function<std::string()> render) {
  auto impl = std::make_unique<Impl>();
  impl->render = std::move(render);
  httplib::Server& http = impl->http;
  http.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  // A request must arrive without a 2 s pause; an idle kept-alive
  // connection is closed after 2 s.
  http.set_read_timeout(2, 0);
  http.set_write_timeout(2, 0);
  http.set_keep_alive_timeout(2);
  http.set_keep_alive_max_count(100);
  http.set_payload_max_length(16 << 10);
  // cpp-httplib's default also sets SO_REUSEPORT, which would let a second
  // server share the port unnoticed; SO_REUSEADDR alone allows a quick
  // restart over connections in TIME_WAIT.
  http.set_socket_options([](socket_t sock) {
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  Impl* raw = impl.get();
  http.Get("/metrics", [raw](const httplib::Request&, httplib::Response& res) {
    res.set_content(raw->render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(res.status == 404 ? "not found\n" : "error\n",
                      "text/plain; charset=utf-8");
    }
  });
  if (port == 0) {
    impl->port = http.bind_to_any_port(host);
  } else if (http.bind_to_port(host, port)) {
    impl->port = port;
  } else {
    impl->port = -1;
  }
  if (impl->port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on metrics port ", host, ":", port,
        ": the port is in use or the host is not an address of this machine"));
  }
  impl->thread = std::thread([raw] { raw->http.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it, so that a
  // Stop() right after Start() cannot miss it.
  while (!http.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::unique_ptr<MetricsHttpServer>(
      new MetricsHttpServer(std::move(impl)));
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

int MetricsHttpServer::port() const { return impl_->port; }

void MetricsHttpServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->http.stop();
  impl_->thread.join();
}

}  // namespace server
