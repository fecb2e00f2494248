#include "server/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http_server.h"

namespace server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, RendersCountersAndCumulativeHistograms) {
  Metrics m;
  m.RecordRequest("Search", "OK", 0.004);
  m.RecordRequest("Search", "OK", 0.04);
  m.RecordRequest("Search", "INVALID_ARGUMENT", 0.0001);
  m.RecordBatch(3);
  m.RecordBatch(40);
  m.RecordCache(true);
  m.SetModel(7, 17611);
  m.RecordRouted(common::Category::kVehicle);
  m.RecordRouted(common::Category::kVehicle);
  m.RecordRouted(common::Category::kUnspecified);
  m.RecordReranked(5);
  std::string text = m.Render();
  EXPECT_THAT(
      text,
      HasSubstr("retrieval_requests_total{method=\"Search\",code=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_requests_total{method=\"Search\",code="
                              "\"INVALID_ARGUMENT\"} 1\n"));
  // Cumulative buckets: 0.005 holds the 0.0001 and 0.004 observations.
  EXPECT_THAT(text, HasSubstr("retrieval_request_latency_seconds_bucket{method="
                              "\"Search\",le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_request_latency_seconds_bucket{method="
                              "\"Search\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_batch_size_bucket{le=\"4\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_batch_size_bucket{le=\"64\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_batch_size_count 2\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_model_version 7\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_gallery_images 17611\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_model_loaded{version=\"7\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_cache_hits_total 1\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_routed_queries_total{category="
                              "\"vehicle\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_routed_queries_total{category="
                              "\"pedestrian\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_routed_queries_total{category="
                              "\"unspecified\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_reranked_queries_total 5\n"));
  EXPECT_EQ(m.RequestCount("Search", "OK"), 2u);
}

TEST(MetricsTest, LabelsRequestsWithTheModelVersionThatAnsweredThem) {
  Metrics m;
  m.RecordRequest("Search", "OK", 0.004, 3);
  m.RecordRequest("Search", "OK", 0.006, 3);
  m.RecordRequest("Search", "OK", 0.2, 5);
  m.RecordRequest("Search", "NOT_FOUND", 0.0001);  // refused: no version
  m.RecordRequest("Search", "NOT_FOUND", 0.0001, 0);
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("retrieval_requests_total{method=\"Search\","
                              "code=\"OK\",version=\"3\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_requests_total{method=\"Search\","
                              "code=\"OK\",version=\"5\"} 1\n"));
  // Version 0 carries no version label (an empty label in Prometheus).
  EXPECT_THAT(text, HasSubstr("retrieval_requests_total{method=\"Search\","
                              "code=\"NOT_FOUND\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("version=\"0\"")));
  EXPECT_THAT(text, Not(HasSubstr("version=\"\"")));
  // Latency per (method, version); `le` stays the last label.
  EXPECT_THAT(text, HasSubstr("retrieval_request_latency_seconds_bucket{method="
                              "\"Search\",version=\"3\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_request_latency_seconds_count{method="
                              "\"Search\",version=\"3\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_request_latency_seconds_count{method="
                              "\"Search\",version=\"5\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_request_latency_seconds_count{method="
                              "\"Search\"} 2\n"));
  EXPECT_EQ(m.RequestCount("Search", "OK"), 3u);  // over all versions
  EXPECT_EQ(m.RequestCount("Search", "OK", 3), 2u);
  EXPECT_EQ(m.RequestCount("Search", "OK", 4), 0u);
  EXPECT_EQ(m.RequestCount("Search", "NOT_FOUND", 0), 2u);
}

TEST(MetricsTest, RendersEveryLoadedVersionAndTheDefault) {
  Metrics m;
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("retrieval_model_version 0\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_gallery_images 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("retrieval_model_loaded{")));
  m.SetModels({{5, 120}, {3, 100}}, 3);
  text = m.Render();
  EXPECT_THAT(text, HasSubstr("retrieval_model_version 3\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_gallery_images 100\n"));
  // Ascending by version.
  EXPECT_THAT(text, HasSubstr("retrieval_model_loaded{version=\"3\"} 1\n"
                              "retrieval_model_loaded{version=\"5\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("retrieval_model_gallery_images{version=\"3\"} 100\n"
                        "retrieval_model_gallery_images{version=\"5\"} 120\n"));
  // Version 3 dropped: its series go.
  m.SetModels({{5, 120}, {6, 130}}, 6);
  text = m.Render();
  EXPECT_THAT(text, HasSubstr("retrieval_model_version 6\n"));
  EXPECT_THAT(text, HasSubstr("retrieval_gallery_images 130\n"));
  EXPECT_THAT(text, Not(HasSubstr("version=\"3\"")));
  EXPECT_THAT(text, HasSubstr("retrieval_model_loaded{version=\"6\"} 1\n"));
}

TEST(MetricsTest, RendersTheMemoryOfEachLoadedVersion) {
  Metrics m;
  EXPECT_THAT(m.Render(), Not(HasSubstr("retrieval_model_memory_bytes{")));
  m.SetModels({{2, 10, 5000, 1000, 0}, {4, 20, 9000, 3000, 65536}}, 4);
  const std::string text = m.Render();
  EXPECT_THAT(text,
              HasSubstr("# TYPE retrieval_model_memory_bytes gauge\n"
                        "retrieval_model_memory_bytes{version=\"2\"} 5000\n"
                        "retrieval_model_memory_bytes{version=\"4\"} "
                        "9000\n"));
  EXPECT_THAT(
      text, HasSubstr("retrieval_model_memory_file_bytes{version=\"2\"} 1000\n"
                      "retrieval_model_memory_file_bytes{version=\"4\"} "
                      "3000\n"));
  EXPECT_THAT(text,
              HasSubstr("retrieval_model_index_mapped_bytes{version=\"2\"} 0\n"
                        "retrieval_model_index_mapped_bytes{version=\"4\"} "
                        "65536\n"));
}

// A connected socket to 127.0.0.1:port, or -1.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The whole response to one request, or "" when none came within 5 s.
std::string Fetch(int port, const std::string& path) {
  int fd = Connect(port);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, n);
  close(fd);
  return out;
}

TEST(MetricsHttpServerTest, ServesMetricsAnd404) {
  auto srv = MetricsHttpServer::Start("127.0.0.1", 0,
                                      [] { return std::string("x 1\n"); });
  ASSERT_TRUE(srv.ok()) << srv.status();
  ASSERT_GT((*srv)->port(), 0);
  std::string ok = Fetch((*srv)->port(), "/metrics");
  EXPECT_THAT(ok, HasSubstr("200 OK"));
  EXPECT_THAT(ok, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(ok, ::testing::EndsWith("\r\n\r\nx 1\n"));
  EXPECT_THAT(Fetch((*srv)->port(), "/other"), HasSubstr("404"));
}

TEST(MetricsHttpServerTest, SlowAndIdleClientsDoNotDelayAScrape) {
  auto srv = MetricsHttpServer::Start("127.0.0.1", 0,
                                      [] { return std::string("x 1\n"); });
  ASSERT_TRUE(srv.ok()) << srv.status();
  const int port = (*srv)->port();
  // Five connections that send nothing, and one that drips a request a
  // byte at a time for as long as the test runs.
  std::vector<int> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(Connect(port));
    ASSERT_GE(idle.back(), 0);
  }
  std::atomic<bool> stop{false};
  std::thread dripper([&] {
    const int fd = Connect(port);
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    for (size_t i = 0; !stop.load(); i = (i + 1) % request.size()) {
      if (send(fd, &request[i], 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    close(fd);
  });
  // Each scrape is answered while they hold their connections (Fetch gives
  // up after 5 s without an answer).
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(Fetch(port, "/metrics"), ::testing::EndsWith("\r\n\r\nx 1\n"))
        << i;
  }
  stop = true;
  dripper.join();
  for (int fd : idle) close(fd);
  (*srv)->Stop();
}

TEST(MetricsHttpServerTest, APortInUseIsUnavailable) {
  auto first =
      MetricsHttpServer::Start("127.0.0.1", 0, [] { return std::string(); });
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsHttpServer::Start("127.0.0.1", (*first)->port(),
                                         [] { return std::string(); });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace server
