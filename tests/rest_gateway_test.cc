// End-to-end tests of the server's REST/JSON gateway (server/rest_gateway.h)
// on loopback ports chosen by the kernel, against small model versions built
// in the test and gallery images written here.
#include "server/rest_gateway.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "absl/strings/str_cat.h"
#include "client/loadgen.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "retrieval/v1/retrieval.grpc.pb.h"
#include "server/server.h"
#include "tests/server_test_util.h"
#include "tests/test_model.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = retrieval::v1;
using ::testing::HasSubstr;

constexpr int kImages = 8;

using tests::FreshDir;

server::ServerOptions BaseOptions(const std::string& models) {
  server::ServerOptions o = tests::TestServerOptions(models);
  o.metrics_port = -1;
  o.http_port = 0;
  o.http_threads = 4;
  return o;
}

// The google.rpc.Status body of an error response, checked for its shape.
nlohmann::json ErrorBody(const httplib::Result& r) {
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  EXPECT_TRUE(j.is_object()) << r->body;
  if (!j.is_object()) return nlohmann::json::object();
  const bool shaped = j.contains("code") && j["code"].is_number_integer() &&
                      j.contains("status") && j["status"].is_string() &&
                      j.contains("message") && j["message"].is_string();
  EXPECT_TRUE(shaped) << r->body;
  return shaped ? j : nlohmann::json::object();
}

template <typename Message>
Message FromJson(const std::string& json) {
  Message m;
  const auto st = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << json;
  return m;
}

// One server with a version of kImages images whose files are written to
// images/ (img<i>.jpg of distinct sizes and colours), beside a file outside
// the directory that img<kImages-1>.jpg links to, and without a file for
// img<kImages-2>.jpg.
class RestGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(FreshDir("rest_gateway"));
    const std::string models = *dir_ + "/models";
    const std::string images = *dir_ + "/images";
    fs::create_directories(models);
    fs::create_directories(images);
    fs::create_directories(*dir_ + "/outside");
    version_ = new tests::TestVersionOptions(tests::SampleVersion(kImages));
    ASSERT_OK(tests::PublishTestVersion(models, *version_));
    for (int i = 0; i < kImages - 2; ++i) {
      cv::Mat bgr(24 + 4 * i, 40 + 8 * i, CV_8UC3,
                  cv::Scalar(30 * i, 255 - 30 * i, 100));
      ASSERT_TRUE(cv::imwrite(images + "/" + tests::ImageName(i), bgr));
    }
    cv::Mat secret(20, 20, CV_8UC3, cv::Scalar(1, 2, 3));
    ASSERT_TRUE(cv::imwrite(*dir_ + "/outside/secret.jpg", secret));
    fs::create_symlink(*dir_ + "/outside/secret.jpg",
                       images + "/" + tests::ImageName(kImages - 1));
    server::ServerOptions o = BaseOptions(models);
    o.metrics_port = 0;
    o.gallery_images_dir = images;
    auto s = server::Server::Create(o);
    ASSERT_OK(s);
    server_ = s->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete version_;
    delete dir_;
  }

  static std::unique_ptr<httplib::Client> Client() {
    auto c =
        std::make_unique<httplib::Client>("127.0.0.1", server_->http_port());
    c->set_read_timeout(30, 0);
    return c;
  }
  static std::string Images() { return *dir_ + "/images"; }

  static std::string* dir_;
  static tests::TestVersionOptions* version_;
  static server::Server* server_;
};

std::string* RestGatewayTest::dir_ = nullptr;
tests::TestVersionOptions* RestGatewayTest::version_ = nullptr;
server::Server* RestGatewayTest::server_ = nullptr;

TEST(HttpStatusTest, CodesMapAsTheGoogleApisDo) {
  using C = absl::StatusCode;
  const std::vector<std::pair<C, int>> table = {
      {C::kOk, 200},
      {C::kInvalidArgument, 400},
      {C::kFailedPrecondition, 400},
      {C::kOutOfRange, 400},
      {C::kUnauthenticated, 401},
      {C::kPermissionDenied, 403},
      {C::kNotFound, 404},
      {C::kAlreadyExists, 409},
      {C::kAborted, 409},
      {C::kResourceExhausted, 429},
      {C::kCancelled, 499},
      {C::kUnimplemented, 501},
      {C::kUnavailable, 503},
      {C::kDeadlineExceeded, 504},
      {C::kInternal, 500},
      {C::kUnknown, 500},
      {C::kDataLoss, 500},
  };
  for (const auto& [code, http] : table) {
    EXPECT_EQ(server::HttpStatusFor(code), http)
        << absl::StatusCodeToString(code);
  }
  const nlohmann::json j = nlohmann::json::parse(server::StatusJson(
      absl::InvalidArgumentError("text: \"a\\b\"\n\x01 \xc3\xa9")));
  EXPECT_EQ(j["code"], 3);
  EXPECT_EQ(j["status"], "INVALID_ARGUMENT");
  EXPECT_EQ(j["message"], "text: \"a\\b\"\n\x01 \xc3\xa9");
}

TEST_F(RestGatewayTest, JsonSearchAnswersAsGrpcDoes) {
  auto stub = v1::TextImageRetrieval::NewStub(grpc::CreateChannel(
      server_->address(), grpc::InsecureChannelCredentials()));
  auto http = Client();
  for (int i : {1, 4}) {
    v1::SearchRequest req;
    req.set_text(version_->texts[i]);
    req.set_top_k(5);
    req.set_category(v1::CATEGORY_VEHICLE);
    grpc::ClientContext ctx;
    v1::SearchResponse want;
    ASSERT_TRUE(stub->Search(&ctx, req, &want).ok());
    // The same request in both spellings of the field names.
    for (const std::string& body :
         {absl::StrCat(R"({"text": ")", version_->texts[i],
                       R"(", "topK": 5, "category": "CATEGORY_VEHICLE"})"),
          absl::StrCat(R"({"text": ")", version_->texts[i],
                       R"(", "top_k": 5, "category": 2})")}) {
      auto r = http->Post("/v1/search", body, "application/json");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
      EXPECT_THAT(r->body, HasSubstr("\"imageName\""));
      EXPECT_THAT(r->body, HasSubstr("\"modelVersion\""));
      const auto got = FromJson<v1::SearchResponse>(r->body);
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, want))
          << got.DebugString() << "\nvs\n"
          << want.DebugString();
      ASSERT_EQ(got.hits_size(), kImages / 2);  // the vehicles
    }
  }
  // BatchSearch in order.
  auto r =
      http->Post("/v1/batchSearch",
                 absl::StrCat(R"({"requests": [{"text": ")", version_->texts[2],
                              R"(", "topK": 1}, {"text": ")",
                              version_->texts[5], R"(", "topK": 1}]})"),
                 "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto batch = FromJson<v1::BatchSearchResponse>(r->body);
  ASSERT_EQ(batch.responses_size(), 2);
  EXPECT_EQ(batch.responses(0).hits(0).image_name(), tests::ImageName(2));
  EXPECT_EQ(batch.responses(1).hits(0).image_name(), tests::ImageName(5));
  // Encode: text fields are JSON strings (not base64), and the embedding is
  // gRPC's.
  v1::EncodeRequest ereq;
  ereq.add_texts(version_->texts[3]);
  ereq.add_texts("a car \xc3\xa9");
  grpc::ClientContext ectx;
  v1::EncodeResponse ewant;
  ASSERT_TRUE(stub->Encode(&ectx, ereq, &ewant).ok());
  r = http->Post("/v1/encode",
                 absl::StrCat(R"({"texts": [")", version_->texts[3],
                              R"(", "a car \u00e9"]})"),
                 "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto enc = FromJson<v1::EncodeResponse>(r->body);
  ASSERT_EQ(enc.text_embeddings_size(), 2);
  EXPECT_GT(enc.text_embeddings(0).values_size(), 0);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(enc, ewant));
  EXPECT_THAT(r->body, HasSubstr("\"textEmbeddings\""));
  // Metrics name the transport.
  EXPECT_THAT(server_->metrics_text(), HasSubstr("rest:Search"));
  EXPECT_THAT(server_->metrics_text(), HasSubstr("rest:Encode"));
}

TEST_F(RestGatewayTest, BadBodiesAreBadRequestsNamingTheField) {
  auto http = Client();
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"text": "a white car", "topKk": 3})", "topKk"},
      {R"({"text": "a white car", "topK": "many"})", "top_k"},
      {R"({"text": "a white car", "category": "CATEGORY_BOAT"})", "category"},
      {"not json", "retrieval.v1.SearchRequest"},
      {R"({"text": "a white car", "topK": -1})", "top_k"},
      {R"({"text": "   "})", "text"},
  };
  for (const Case& c : cases) {
    auto r = http->Post("/v1/search", c.body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << c.body;
    const nlohmann::json j = ErrorBody(r);
    EXPECT_EQ(j.value("code", 0), 3) << c.body;
    EXPECT_EQ(j.value("status", ""), "INVALID_ARGUMENT") << c.body;
    EXPECT_THAT(j.value("message", ""), HasSubstr(c.message)) << c.body;
  }
  // A JSON body of another shape names the message type expected.
  auto r =
      http->Post("/v1/batchSearch", R"({"text": "x"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(ErrorBody(r).value("message", ""),
              HasSubstr("retrieval.v1.BatchSearchRequest"));
  // A bad timeout header names the header.
  r = http->Post("/v1/search", {{"X-Request-Timeout-Ms", "soon"}},
                 R"({"text": "a white car"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(ErrorBody(r).value("message", ""),
              HasSubstr("X-Request-Timeout-Ms"));
}

TEST_F(RestGatewayTest, ModelInfoAndUnknownVersions) {
  auto http = Client();
  auto r = http->Get("/v1/modelInfo");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto info = FromJson<v1::GetModelInfoResponse>(r->body);
  EXPECT_EQ(info.model_version(), 1);
  EXPECT_EQ(info.num_images(), kImages);
  r = http->Get("/v1/modelInfo?model_version=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = http->Post("/v1/modelInfo", R"({"modelVersion": "1"})",
                 "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(FromJson<v1::GetModelInfoResponse>(r->body).model_version(), 1);

  for (const auto& res :
       {http->Get("/v1/modelInfo?model_version=7"),
        http->Post("/v1/modelInfo", R"({"model_version": 7})",
                   "application/json"),
        http->Post("/v1/search", R"({"text": "a car", "modelVersion": 7})",
                   "application/json"),
        http->Get("/v1/images/img0.jpg?model_version=7")}) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << res->body;
    const nlohmann::json j = ErrorBody(res);
    EXPECT_EQ(j.value("status", ""), "NOT_FOUND");
    EXPECT_EQ(j.value("code", 0), 5);
    EXPECT_THAT(j.value("message", ""), HasSubstr("model_version"));
  }
  r = http->Get("/v1/modelInfo?model_version=one");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(ErrorBody(r).value("message", ""), HasSubstr("model_version"));
  r = http->Get("/v1/modelInfo?version=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(ErrorBody(r).value("message", ""), HasSubstr("version"));
}

TEST_F(RestGatewayTest, ThumbnailsAndOriginalsOfGalleryImages) {
  auto http = Client();
  // img3.jpg is 64 x 36.
  auto r = http->Get("/v1/images/img3.jpg");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_THAT(r->get_header_value("Cache-Control"), HasSubstr("max-age"));
  cv::Mat thumb = cv::imdecode(
      std::vector<uchar>(r->body.begin(), r->body.end()), cv::IMREAD_COLOR);
  ASSERT_FALSE(thumb.empty());
  EXPECT_EQ(thumb.cols, 160);
  EXPECT_EQ(thumb.rows, 90);
  r = http->Get("/v1/images/img5.jpg?size=40&model_version=1");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  thumb = cv::imdecode(std::vector<uchar>(r->body.begin(), r->body.end()),
                       cv::IMREAD_COLOR);
  ASSERT_FALSE(thumb.empty());
  EXPECT_EQ(thumb.cols, 40);  // 80 x 44 scaled by a half
  EXPECT_EQ(thumb.rows, 22);
  // The colour survives (BGR 150, 105, 100 written).
  const cv::Vec3b px = thumb.at<cv::Vec3b>(10, 20);
  EXPECT_NEAR(px[0], 150, 6);
  EXPECT_NEAR(px[1], 105, 6);
  EXPECT_NEAR(px[2], 100, 6);
  // size=0: the file's bytes.
  r = http->Get("/v1/images/img2.jpg?size=0");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  auto file = common::ReadFile(Images() + "/img2.jpg");
  ASSERT_OK(file);
  EXPECT_EQ(r->body, *file);

  for (const char* bad : {"size=8", "size=2000", "size=-1", "size=big"}) {
    r = http->Get(absl::StrCat("/v1/images/img2.jpg?", bad));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_THAT(ErrorBody(r).value("message", ""), HasSubstr("size")) << bad;
  }
  // Not in the gallery, or in it without a file: 404.
  for (const char* missing :
       {"/v1/images/img99.jpg", "/v1/images/BUILD", "/v1/images/img6.jpg"}) {
    r = http->Get(missing);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << missing;
    EXPECT_EQ(ErrorBody(r).value("status", ""), "NOT_FOUND") << missing;
  }
}

TEST_F(RestGatewayTest, NothingOutsideTheImageDirectoryIsServed) {
  auto http = Client();
  http->set_url_encode(false);  // the paths go out exactly as written
  const std::string outside = *dir_ + "/outside/secret.jpg";
  for (const std::string& path :
       {std::string("/v1/images/../x"), std::string("/v1/images/..%2fx"),
        std::string("/v1/images/%2e%2e%2fx"),
        std::string("/v1/images/%2e%2e%2foutside%2fsecret.jpg"),
        std::string("/v1/images/..%2F..%2Fimages%2Fimg1.jpg"),
        "/v1/images/" + outside, "/v1/images/%2F" + outside.substr(1),
        std::string("/v1/images/img1.jpg%00.png"),
        std::string("/v1/images/..")}) {
    auto r = http->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_GE(r->status, 400) << path;
    EXPECT_LT(r->status, 500) << path;
    EXPECT_NE(r->get_header_value("Content-Type"), "image/jpeg") << path;
  }
  // The gallery name that is a link out of the directory is refused.
  auto r = http->Get("/v1/images/img7.jpg?size=0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  const nlohmann::json j = ErrorBody(r);
  EXPECT_EQ(j.value("status", ""), "PERMISSION_DENIED");
  EXPECT_THAT(j.value("message", ""), HasSubstr("outside"));
  // Names with a separator are refused before any lookup.
  r = http->Get("/v1/images/%2e%2e%2fx");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(ErrorBody(r).value("message", ""), HasSubstr("not a file name"));
}

TEST_F(RestGatewayTest, PageMethodsAndLimits) {
  auto http = Client();
  auto r = http->Get("/");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(r->body, HasSubstr("<html"));
  r = http->Get("/static/index.html");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = http->Get("/static/nothing.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = http->Get("/v1/nothing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrorBody(r).value("status", ""), "NOT_FOUND");
  r = http->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "SERVING\n");

  r = http->Get("/v1/search");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  ErrorBody(r);
  r = http->Delete("/v1/modelInfo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, POST");
  r = http->Post("/", "x", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET");
  r = http->Put("/v1/images/img1.jpg", "x", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);

  // Bodies beyond the limit: 413, and the server answers the next request.
  const std::string big(server::RestGatewayOptions::kMaxRestBodyBytes + 1, ' ');
  r = http->Post("/v1/search", big, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_THAT(ErrorBody(r).value("message", ""), HasSubstr("exceeds"));
  // Just under it: parsed (the text is then required).
  const std::string fits(server::RestGatewayOptions::kMaxRestBodyBytes - 2,
                         ' ');
  r = Client()->Post("/v1/search", "{" + fits + "}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(ErrorBody(r).value("message", ""), HasSubstr("text"));
}

TEST_F(RestGatewayTest, LoadgenOverRestGetsTheCodesGrpcGets) {
  client::RestTarget target;
  target.host = "127.0.0.1";
  target.port = server_->http_port();
  client::LoadgenOptions o;
  o.concurrency = 3;
  o.duration = absl::ZeroDuration();
  o.requests = 60;
  o.invalid_fraction = 0.4;
  o.seed = 7;
  auto stats =
      client::RunLoadgen(o, version_->texts, client::RestSenders(target));
  ASSERT_OK(stats);
  EXPECT_EQ(stats->requests, 60);
  EXPECT_GT(stats->invalid_requests, 0);
  EXPECT_OK(client::CheckCodes(*stats)) << client::FormatLoadStats(*stats);
  EXPECT_THAT(client::ParseRestAddress("localhost"),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("--server")));
  auto v6 = client::ParseRestAddress("[::1]:8080");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
}

TEST(RestGatewayAuthTest, BearerTokenGuardsTheApiButNotThePage) {
  const std::string dir = FreshDir("rest_auth");
  const std::string models = dir + "/models";
  fs::create_directories(models);
  const tests::TestVersionOptions v = tests::SampleVersion(4);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  { std::ofstream(dir + "/token") << "s3cret-token\n"; }
  server::ServerOptions o = BaseOptions(models);
  o.auth_token_file = dir + "/token";
  o.batch_delay_for_testing_us = 300'000;
  auto s = server::Server::Create(o);
  ASSERT_OK(s);
  httplib::Client http("127.0.0.1", (*s)->http_port());
  http.set_read_timeout(30, 0);
  const std::string body = absl::StrCat(R"({"text": ")", v.texts[1], R"("})");
  struct Case {
    httplib::Headers headers;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "missing 'authorization: Bearer <token>' header"},
           {{{"Authorization", "Bearer wrong-token!"}}, "invalid bearer token"},
           {{{"Authorization", "Bearer s3cret-tokeN"}}, "invalid bearer token"},
           {{{"Authorization", "s3cret-token"}}, "invalid bearer token"},
           {{{"Authorization", "Bearer s3cret-token"},
             {"authorization", "Bearer s3cret-token"}},
            "2 'authorization' header entries"}}) {
    SCOPED_TRACE(c.message);
    for (const auto& r :
         {http.Post("/v1/search", c.headers, body, "application/json"),
          http.Get("/v1/modelInfo", c.headers),
          http.Get("/v1/images/img0.jpg", c.headers)}) {
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401);
      const nlohmann::json j = ErrorBody(r);
      EXPECT_EQ(j.value("status", ""), "UNAUTHENTICATED");
      EXPECT_EQ(j.value("code", 0), 16);
      EXPECT_THAT(j.value("message", ""), HasSubstr(c.message));
    }
  }
  const httplib::Headers good = {{"Authorization", "Bearer s3cret-token"}};
  auto r = http.Post("/v1/search", good, body, "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(FromJson<v1::SearchResponse>(r->body).hits(0).image_name(),
            tests::ImageName(1));
  // The page and the health check are public.
  EXPECT_EQ(http.Get("/")->status, 200);
  EXPECT_EQ(http.Get("/healthz")->status, 200);
  // The version's manifest names no image directory and none was given.
  r = http.Get("/v1/images/img0.jpg", good);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(ErrorBody(r).value("status", ""), "FAILED_PRECONDITION");
  // A deadline shorter than the batcher's delay expires: 504.
  httplib::Headers hurried = good;
  hurried.emplace("X-Request-Timeout-Ms", "20");
  r = http.Post("/v1/search", hurried, body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_EQ(ErrorBody(r).value("status", ""), "DEADLINE_EXCEEDED");
}

TEST(RestGatewayHealthTest, NotServingUntilAVersionLoads) {
  const std::string models = FreshDir("rest_health");
  auto s = server::Server::Create(BaseOptions(models));
  ASSERT_OK(s);
  httplib::Client http("127.0.0.1", (*s)->http_port());
  auto r = http.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "NOT_SERVING\n");
  r = http.Post("/v1/search", R"({"text": "a red car"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(ErrorBody(r).value("status", ""), "UNAVAILABLE");
  // Off by default.
  server::ServerOptions off = BaseOptions(models);
  off.http_port = -1;
  auto s2 = server::Server::Create(off);
  ASSERT_OK(s2);
  EXPECT_EQ((*s2)->http_port(), -1);
  // Bad values are named.
  server::ServerOptions bad = BaseOptions(models);
  bad.http_threads = 0;
  EXPECT_THAT(server::ValidateServerOptions(bad),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("--http_threads")));
  bad = BaseOptions(models);
  bad.gallery_images_dir = models + "/nope";
  EXPECT_THAT(server::ValidateServerOptions(bad),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("--gallery_images_dir")));
}

TEST(RestGatewayTlsTest, HttpsWithTheGrpcCertificate) {
  const std::string dir = FreshDir("rest_tls");
  const std::string models = dir + "/models";
  fs::create_directories(models);
  const tests::TestVersionOptions v = tests::SampleVersion(4);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  ASSERT_OK(
      tests::WriteSelfSignedCertificate(dir + "/key.pem", dir + "/cert.pem"));
  server::ServerOptions o = BaseOptions(models);
  o.tls_cert = dir + "/cert.pem";
  o.tls_key = dir + "/key.pem";
  auto s = server::Server::Create(o);
  ASSERT_OK(s);
  httplib::SSLClient https("localhost", (*s)->http_port());
  https.set_ca_cert_path(o.tls_cert.c_str());
  https.enable_server_certificate_verification(true);
  https.set_read_timeout(30, 0);
  auto r = https.Post("/v1/search",
                      absl::StrCat(R"({"text": ")", v.texts[2], R"("})"),
                      "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(FromJson<v1::SearchResponse>(r->body).hits(0).image_name(),
            tests::ImageName(2));
  // Plain HTTP to the HTTPS port gets no answer.
  httplib::Client plain("127.0.0.1", (*s)->http_port());
  plain.set_read_timeout(2, 0);
  auto p = plain.Get("/healthz");
  EXPECT_FALSE(p && p->status == 200);
}

}  // namespace
