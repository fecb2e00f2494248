// End-to-end tests of the retrieval server on a loopback port chosen by the
// kernel, with small model versions built in the test.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "eval/attributes.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"
#include "retrieval/v1/retrieval.grpc.pb.h"
#include "server/server.h"
#include "tests/server_test_util.h"
#include "tests/test_model.h"

namespace {

namespace fs = std::filesystem;
using retrieval::v1::BatchSearchRequest;
using retrieval::v1::BatchSearchResponse;
using retrieval::v1::SearchRequest;
using retrieval::v1::SearchResponse;
using ::testing::HasSubstr;
using ::testing::Not;

// Waits up to a minute for `done` to hold; false when it never did.
template <typename Pred>
bool WaitUntil(Pred done) {
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

using tests::FreshDir;

server::ServerOptions BaseOptions(const std::string& models) {
  return tests::TestServerOptions(models);
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(const server::ServerOptions& o,
             std::shared_ptr<grpc::ChannelCredentials> creds =
                 grpc::InsecureChannelCredentials(),
             const std::string& target_host = "127.0.0.1") {
    auto s = server::Server::Create(o);
    ASSERT_OK(s);
    server_ = std::move(*s);
    grpc::ChannelArguments args;
    if (target_host == "localhost") args.SetSslTargetNameOverride("localhost");
    channel_ = grpc::CreateCustomChannel(
        target_host + ":" + std::to_string(server_->port()), creds, args);
    stub_ = retrieval::v1::TextImageRetrieval::NewStub(channel_);
  }
  retrieval::v1::GetModelInfoResponse ModelInfo() {
    grpc::ClientContext ctx;
    retrieval::v1::GetModelInfoResponse info;
    grpc::Status st = stub_->GetModelInfo(&ctx, {}, &info);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return info;
  }
  grpc::Status Search(
      const std::string& text, SearchResponse* out, int top_k = 0,
      retrieval::v1::Category category = retrieval::v1::CATEGORY_UNSPECIFIED,
      const std::string& token = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    SearchRequest req;
    req.set_text(text);
    req.set_top_k(top_k);
    req.set_category(category);
    return stub_->Search(&ctx, req, out);
  }
  // Asks the reflection service to list the services (a hand-encoded
  // ServerReflectionRequest{list_services: ""}: field 7, empty string) and
  // returns the first response's bytes in `response`.
  grpc::Status ListServices(std::string* response,
                            const std::vector<std::string>& auth_headers = {}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    for (const std::string& h : auth_headers)
      ctx.AddMetadata("authorization", h);
    const grpc::internal::RpcMethod method(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        grpc::internal::RpcMethod::BIDI_STREAMING);
    std::unique_ptr<
        grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>
        stream(grpc::internal::ClientReaderWriterFactory<
               grpc::ByteBuffer, grpc::ByteBuffer>::Create(channel_.get(),
                                                           method, &ctx));
    const std::string request("\x3a\x00", 2);
    grpc::Slice slice(request);
    grpc::ByteBuffer out(&slice, 1);
    stream->Write(out);
    stream->WritesDone();
    grpc::ByteBuffer in;
    if (stream->Read(&in)) {
      std::vector<grpc::Slice> slices;
      (void)in.Dump(&slices);
      response->clear();
      for (const grpc::Slice& s : slices) {
        response->append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return stream->Finish();
  }
  grpc::health::v1::HealthCheckResponse::ServingStatus Health() {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service("retrieval.v1.TextImageRetrieval");
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status st = health->Check(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.status();
  }
  std::unique_ptr<server::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<retrieval::v1::TextImageRetrieval::Stub> stub_;
};

TEST_F(ServerTest, SearchRanksTheMatchingImageFirst) {
  const std::string models = FreshDir("e2e_search");
  const tests::TestVersionOptions v = tests::SampleVersion(40);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  Start(BaseOptions(models));
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  for (int i : {0, 7, 22, 39}) {
    SearchResponse resp;
    grpc::Status st = Search(v.texts[i], &resp, 5);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.hits_size(), 5);
    EXPECT_EQ(resp.hits(0).image_name(), tests::ImageName(i));
    EXPECT_NEAR(resp.hits(0).score(), 1.0, 1e-4);
    EXPECT_EQ(resp.model_version(), 1);
    for (int j = 1; j < resp.hits_size(); ++j) {
      EXPECT_GE(resp.hits(j - 1).score(), resp.hits(j).score());
    }
  }
  // Default top_k is 10; the category filter keeps to one category.
  SearchResponse all, vehicles;
  ASSERT_TRUE(Search(v.texts[3], &all).ok());
  EXPECT_EQ(all.hits_size(), 10);
  ASSERT_TRUE(
      Search(v.texts[3], &vehicles, 30, retrieval::v1::CATEGORY_VEHICLE).ok());
  EXPECT_EQ(vehicles.hits_size(), 20);
  EXPECT_EQ(vehicles.routed_category(), retrieval::v1::CATEGORY_VEHICLE);
  for (const auto& h : vehicles.hits()) {
    EXPECT_EQ(h.category(), retrieval::v1::CATEGORY_VEHICLE);
  }
  // Without re-ranking a score is the cosine.
  EXPECT_EQ(all.routed_category(), retrieval::v1::CATEGORY_UNSPECIFIED);
  for (const auto& h : all.hits()) EXPECT_EQ(h.score(), h.similarity());
  // A version without attribute heads searches everything for AUTO.
  SearchResponse routed;
  ASSERT_TRUE(
      Search(v.texts[3], &routed, 40, retrieval::v1::CATEGORY_AUTO).ok());
  EXPECT_EQ(routed.routed_category(), retrieval::v1::CATEGORY_UNSPECIFIED);
  EXPECT_EQ(routed.hits_size(), 40);
  // Model info.
  const retrieval::v1::GetModelInfoResponse info = ModelInfo();
  EXPECT_EQ(info.num_images(), 40);
  EXPECT_EQ(info.embedding_dim(), 64);
  EXPECT_EQ(info.index_type(), "Flat");
  EXPECT_EQ(info.num_vehicle_images(), 20);
  EXPECT_FALSE(info.has_attribute_heads());
  EXPECT_EQ(info.rerank_weights(), "");
  EXPECT_EQ(info.rerank_candidates(), 0);
  EXPECT_THAT(server_->metrics_text(),
              HasSubstr("retrieval_routed_queries_total{category="
                        "\"unspecified\"} 1\n"));
}

// A 12-image version with attribute heads (even rows vehicles, odd rows
// pedestrians). The text head's category logits are 1000 times the cosine
// to texts[0] (vehicle) and to texts[1] (pedestrian), so those two texts
// route to their own category; every query is predicted white (colour
// class 0). The gallery's vehicles are white, except img0, which is black;
// pedestrians have no colour. The fitted weights weigh vehicle attributes
// only, over a short list of the whole gallery.
tests::TestVersionOptions AttributeVersion() {
  using eval::AttributeLayout;
  using eval::VehicleField;
  constexpr int k = AttributeLayout::kSize;
  tests::TestVersionOptions v = tests::SampleVersion(12);
  tests::TestAttributes& a = v.attributes;
  a.image_probs.assign(12 * k, 0.0f);
  for (int i = 0; i < 12; ++i) {
    float* row = a.image_probs.data() + i * k;
    const bool vehicle = i % 2 == 0;
    row[AttributeLayout::kCategory + (vehicle ? 1 : 0)] = 1;
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      row[AttributeLayout::kFlags + f] = 0.5f;
    }
    const int colour = !vehicle ? eval::NoneClass(VehicleField::kColor)
                       : i == 0 ? 1
                                : 0;
    row[AttributeLayout::kColor + colour] = 1;
    row[AttributeLayout::kType +
        (vehicle ? 0 : eval::NoneClass(VehicleField::kType))] = 1;
    row[AttributeLayout::kBrand +
        (vehicle ? 0 : eval::NoneClass(VehicleField::kBrand))] = 1;
  }
  a.text_rows = {{AttributeLayout::kCategory + 1, v.texts[0], 1000},
                 {AttributeLayout::kCategory, v.texts[1], 1000}};
  a.text_bias.assign(k, 0.0f);
  a.text_bias[AttributeLayout::kColor + 0] = 10;
  a.rerank_weights = "category=0,pedestrian=0,vehicle=1";
  a.rerank_candidates = 12;
  return v;
}

bool IsVehicleImage(const std::string& name) {
  const int i = std::stoi(name.substr(3));  // "img<i>.jpg"
  return i % 2 == 0;
}

TEST_F(ServerTest, AttributeHeadsRouteAutoAndReRankTheShortList) {
  const std::string models = FreshDir("e2e_attributes");
  const tests::TestVersionOptions v = AttributeVersion();
  ASSERT_OK(tests::PublishTestVersion(models, v));

  // Re-ranking off: the cosine order, img0 first for texts[0].
  server::ServerOptions off = BaseOptions(models);
  off.rerank_candidates = 0;
  Start(off);
  SearchResponse plain;
  ASSERT_TRUE(Search(v.texts[0], &plain, 12).ok());
  ASSERT_EQ(plain.hits_size(), 12);
  EXPECT_EQ(plain.hits(0).image_name(), tests::ImageName(0));
  std::map<std::string, float> cosine;
  for (const auto& h : plain.hits()) {
    EXPECT_EQ(h.score(), h.similarity());
    cosine[h.image_name()] = h.similarity();
  }
  retrieval::v1::GetModelInfoResponse info = ModelInfo();
  EXPECT_TRUE(info.has_attribute_heads());
  EXPECT_EQ(info.rerank_candidates(), 0);
  // Routing does not depend on re-ranking.
  SearchResponse routed;
  ASSERT_TRUE(
      Search(v.texts[0], &routed, 12, retrieval::v1::CATEGORY_AUTO).ok());
  EXPECT_EQ(routed.routed_category(), retrieval::v1::CATEGORY_VEHICLE);
  EXPECT_EQ(routed.hits(0).image_name(), tests::ImageName(0));
  server_->Shutdown(std::chrono::milliseconds(0));

  // The manifest's re-ranking: the black img0 falls behind every white
  // vehicle; the white vehicles keep their cosine order, and the rest
  // (img0 and the colourless pedestrians) follow in theirs.
  Start(BaseOptions(models));
  info = ModelInfo();
  EXPECT_TRUE(info.has_attribute_heads());
  EXPECT_EQ(info.rerank_weights(), "category=0,pedestrian=0,vehicle=1");
  EXPECT_EQ(info.rerank_candidates(), 12);
  std::vector<std::string> expected;
  for (const auto& h : plain.hits()) {
    if (IsVehicleImage(h.image_name()) && h.image_name() != "img0.jpg") {
      expected.push_back(h.image_name());
    }
  }
  for (const auto& h : plain.hits()) {
    if (!IsVehicleImage(h.image_name()) || h.image_name() == "img0.jpg") {
      expected.push_back(h.image_name());
    }
  }
  SearchResponse reranked;
  ASSERT_TRUE(Search(v.texts[0], &reranked, 12).ok());
  ASSERT_EQ(reranked.hits_size(), 12);
  EXPECT_EQ(reranked.routed_category(), retrieval::v1::CATEGORY_UNSPECIFIED);
  std::vector<std::string> got;
  for (int j = 0; j < reranked.hits_size(); ++j) {
    const auto& h = reranked.hits(j);
    got.push_back(h.image_name());
    EXPECT_NEAR(h.similarity(), cosine[h.image_name()], 1e-5) << h.image_name();
    EXPECT_LE(h.score(), h.similarity()) << h.image_name();
    if (j > 0) {
      EXPECT_GE(reranked.hits(j - 1).score(), h.score());
    }
  }
  EXPECT_EQ(got, expected);
  EXPECT_NE(reranked.hits(0).image_name(), tests::ImageName(0));
  EXPECT_LT(reranked.hits(0).similarity(), plain.hits(0).similarity());
  // A shorter top_k re-ranks the same short list and keeps its head.
  SearchResponse top3;
  ASSERT_TRUE(Search(v.texts[0], &top3, 3).ok());
  ASSERT_EQ(top3.hits_size(), 3);
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(top3.hits(j).image_name(), expected[j]);
  }

  // AUTO: texts[0] searches the vehicles, texts[1] the pedestrians.
  SearchResponse vehicles, pedestrians;
  ASSERT_TRUE(
      Search(v.texts[0], &vehicles, 12, retrieval::v1::CATEGORY_AUTO).ok());
  EXPECT_EQ(vehicles.routed_category(), retrieval::v1::CATEGORY_VEHICLE);
  ASSERT_EQ(vehicles.hits_size(), 6);
  for (const auto& h : vehicles.hits()) {
    EXPECT_EQ(h.category(), retrieval::v1::CATEGORY_VEHICLE);
  }
  EXPECT_EQ(vehicles.hits(5).image_name(), tests::ImageName(0));
  ASSERT_TRUE(
      Search(v.texts[1], &pedestrians, 12, retrieval::v1::CATEGORY_AUTO).ok());
  EXPECT_EQ(pedestrians.routed_category(), retrieval::v1::CATEGORY_PEDESTRIAN);
  ASSERT_EQ(pedestrians.hits_size(), 6);
  for (const auto& h : pedestrians.hits()) {
    EXPECT_EQ(h.category(), retrieval::v1::CATEGORY_PEDESTRIAN);
  }
  EXPECT_EQ(pedestrians.hits(0).image_name(), tests::ImageName(1));

  // One BatchSearch mixing routed and fixed categories answers each as
  // alone.
  BatchSearchRequest batch;
  const std::vector<std::pair<int, retrieval::v1::Category>> mix = {
      {0, retrieval::v1::CATEGORY_AUTO},
      {1, retrieval::v1::CATEGORY_AUTO},
      {1, retrieval::v1::CATEGORY_VEHICLE},
      {0, retrieval::v1::CATEGORY_UNSPECIFIED}};
  for (const auto& [text, category] : mix) {
    auto* r = batch.add_requests();
    r->set_text(v.texts[text]);
    r->set_top_k(4);
    r->set_category(category);
  }
  BatchSearchResponse answers;
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->BatchSearch(&ctx, batch, &answers);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(answers.responses_size(), 4);
  for (size_t j = 0; j < mix.size(); ++j) {
    SearchResponse alone;
    ASSERT_TRUE(Search(v.texts[mix[j].first], &alone, 4, mix[j].second).ok());
    const SearchResponse& in_batch = answers.responses(j);
    EXPECT_EQ(in_batch.routed_category(), alone.routed_category()) << j;
    ASSERT_EQ(in_batch.hits_size(), alone.hits_size()) << j;
    for (int h = 0; h < alone.hits_size(); ++h) {
      EXPECT_EQ(in_batch.hits(h).image_name(), alone.hits(h).image_name()) << j;
    }
  }
  EXPECT_EQ(answers.responses(2).routed_category(),
            retrieval::v1::CATEGORY_VEHICLE);
  const std::string metrics = server_->metrics_text();
  EXPECT_THAT(metrics, HasSubstr("retrieval_routed_queries_total{category="
                                 "\"pedestrian\"} 3\n"));
  EXPECT_THAT(metrics, HasSubstr("retrieval_routed_queries_total{category="
                                 "\"vehicle\"} 3\n"));
  EXPECT_THAT(metrics, ::testing::Not(
                           HasSubstr("retrieval_reranked_queries_total 0\n")));
  server_->Shutdown(std::chrono::milliseconds(0));

  // The server's weights replace the manifest's: by category alone the
  // vehicles come first for texts[0], in cosine order, img0 at their head.
  server::ServerOptions by_category = BaseOptions(models);
  by_category.rerank_weights = "category=1";
  Start(by_category);
  EXPECT_EQ(ModelInfo().rerank_weights(), "category=1,pedestrian=0,vehicle=0");
  SearchResponse categorised;
  ASSERT_TRUE(Search(v.texts[0], &categorised, 12).ok());
  ASSERT_EQ(categorised.hits_size(), 12);
  EXPECT_EQ(categorised.hits(0).image_name(), tests::ImageName(0));
  for (int j = 0; j < 6; ++j) {
    EXPECT_TRUE(IsVehicleImage(categorised.hits(j).image_name())) << j;
  }
}

// A small PNG: a gradient with a coloured square, so that its embedding is
// not that of a blank image.
std::string TestPng(int seed) {
  cv::Mat image(48, 32, CV_8UC3);
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(
          static_cast<uint8_t>(x * 7 + seed * 40), static_cast<uint8_t>(y * 5),
          static_cast<uint8_t>(seed * 90));
    }
  }
  cv::rectangle(image, {4, 4}, {16 + seed, 20}, cv::Scalar(200, 30, 10), -1);
  std::vector<uint8_t> png;
  EXPECT_TRUE(cv::imencode(".png", image, png));
  return std::string(png.begin(), png.end());
}

std::vector<std::pair<std::string, float>> NamesAndScores(
    const SearchResponse& r) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& h : r.hits()) out.push_back({h.image_name(), h.score()});
  return out;
}

void ExpectSameRanking(const SearchResponse& a, const SearchResponse& b) {
  ASSERT_EQ(a.hits_size(), b.hits_size());
  for (int i = 0; i < a.hits_size(); ++i) {
    EXPECT_EQ(a.hits(i).image_name(), b.hits(i).image_name()) << "rank " << i;
    EXPECT_NEAR(a.hits(i).score(), b.hits(i).score(), 1e-5) << "rank " << i;
  }
}

TEST_F(ServerTest, EmbeddingAndImageQueriesRankLikeWhatTheyEmbed) {
  const std::string models = FreshDir("e2e_query_kinds");
  const tests::TestVersionOptions v = tests::SampleVersion(40);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  Start(BaseOptions(models));
  EXPECT_TRUE(ModelInfo().image_queries());
  const std::string png = TestPng(1);

  retrieval::v1::EncodeRequest enc;
  enc.add_texts(v.texts[5]);
  enc.add_images(png);
  retrieval::v1::EncodeResponse embedded;
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->Encode(&ctx, enc, &embedded);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(embedded.model_version(), 1);
  ASSERT_EQ(embedded.text_embeddings_size(), 1);
  ASSERT_EQ(embedded.image_embeddings_size(), 1);
  ASSERT_EQ(embedded.text_embeddings(0).values_size(), 64);
  ASSERT_EQ(embedded.image_embeddings(0).values_size(), 64);
  double norm = 0;
  for (float x : embedded.image_embeddings(0).values()) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);

  // A text's embedding, scaled (it is normalised again), ranks as the text.
  SearchResponse by_text, by_embedding;
  ASSERT_TRUE(Search(v.texts[5], &by_text, 8).ok());
  SearchRequest req;
  for (float x : embedded.text_embeddings(0).values()) req.add_embedding(3 * x);
  req.set_top_k(8);
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->Search(&ctx, req, &by_embedding);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(by_embedding.hits(0).image_name(), tests::ImageName(5));
  ExpectSameRanking(by_text, by_embedding);

  // An image query ranks as its Encode embedding.
  SearchRequest image_req, image_embedding_req;
  image_req.set_image(png);
  image_req.set_top_k(8);
  for (float x : embedded.image_embeddings(0).values()) {
    image_embedding_req.add_embedding(x);
  }
  image_embedding_req.set_top_k(8);
  SearchResponse by_image, by_image_embedding;
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->Search(&ctx, image_req, &by_image);
    ASSERT_TRUE(st.ok()) << st.error_message();
    grpc::ClientContext ctx2;
    st = stub_->Search(&ctx2, image_embedding_req, &by_image_embedding);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(by_image.hits_size(), 8);
  ExpectSameRanking(by_image, by_image_embedding);
  // Another image ranks differently.
  SearchRequest other = image_req;
  other.set_image(TestPng(2));
  SearchResponse by_other;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Search(&ctx, other, &by_other).ok());
  }
  EXPECT_NE(NamesAndScores(by_image), NamesAndScores(by_other));

  // Bad queries name the field.
  auto expect_invalid = [&](const SearchRequest& r, const std::string& what) {
    grpc::ClientContext ctx;
    SearchResponse resp;
    grpc::Status st = stub_->Search(&ctx, r, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << what;
    EXPECT_THAT(st.error_message(), HasSubstr(what));
  };
  SearchRequest none;
  expect_invalid(none, "text, image, embedding: none is set");
  SearchRequest two = image_req;
  two.set_text("a white car");
  expect_invalid(two, "more than one is set");
  SearchRequest not_image;
  not_image.set_image("this is not an image");
  expect_invalid(not_image, "image: ");
  SearchRequest short_embedding;
  short_embedding.add_embedding(1);
  short_embedding.add_embedding(2);
  expect_invalid(short_embedding,
                 "embedding: 2 values, the model version's embeddings have 64");
  SearchRequest nan = image_embedding_req;
  nan.set_embedding(3, std::nanf(""));
  expect_invalid(nan, "embedding[3]: not a finite number");
  {
    grpc::ClientContext ctx;
    retrieval::v1::EncodeResponse out;
    grpc::Status st = stub_->Encode(&ctx, {}, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), HasSubstr("texts, images: both are empty"));
    retrieval::v1::EncodeRequest bad;
    bad.add_texts("fine");
    bad.add_texts("  ");
    grpc::ClientContext ctx2;
    st = stub_->Encode(&ctx2, bad, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), HasSubstr("texts[1]: empty"));
  }
}

TEST_F(ServerTest, PagesConcatenateToTheFullRanking) {
  const std::string models = FreshDir("e2e_paging");
  const tests::TestVersionOptions v = tests::SampleVersion(40);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  Start(BaseOptions(models));
  for (auto category :
       {retrieval::v1::CATEGORY_UNSPECIFIED, retrieval::v1::CATEGORY_VEHICLE}) {
    SearchResponse full;
    ASSERT_TRUE(Search(v.texts[9], &full, 21, category).ok());
    const int64_t candidates =
        category == retrieval::v1::CATEGORY_VEHICLE ? 20 : 40;
    EXPECT_EQ(full.num_candidates(), candidates);
    std::vector<std::string> pages;
    for (int offset = 0; offset < 49; offset += 7) {
      SearchRequest req;
      req.set_text(v.texts[9]);
      req.set_top_k(7);
      req.set_offset(offset);
      req.set_category(category);
      SearchResponse page;
      grpc::ClientContext ctx;
      grpc::Status st = stub_->Search(&ctx, req, &page);
      ASSERT_TRUE(st.ok()) << st.error_message();
      EXPECT_EQ(page.num_candidates(), candidates);
      EXPECT_EQ(page.hits_size(),
                std::max<int64_t>(0, std::min<int64_t>(7, candidates - offset)))
          << "offset " << offset;
      for (const auto& h : page.hits()) pages.push_back(h.image_name());
    }
    ASSERT_EQ(static_cast<int64_t>(pages.size()), candidates);
    for (int i = 0; i < full.hits_size(); ++i) {
      EXPECT_EQ(pages[i], full.hits(i).image_name()) << "rank " << i;
    }
  }
  SearchRequest too_deep;
  too_deep.set_text(v.texts[0]);
  too_deep.set_top_k(10);
  too_deep.set_offset(991);
  grpc::ClientContext ctx;
  SearchResponse resp;
  grpc::Status st = stub_->Search(&ctx, too_deep, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("offset: 991 is outside [0, 990]"));
}

TEST_F(ServerTest, AttributeFiltersKeepTheImagesWhoseRecordedAttributesMatch) {
  using eval::VehicleField;
  const std::string models = FreshDir("e2e_filters");
  const tests::TestVersionOptions v = AttributeVersion();
  ASSERT_OK(tests::PublishTestVersion(models, v));
  server::ServerOptions o = BaseOptions(models);
  o.rerank_candidates = 0;
  Start(o);
  const retrieval::v1::GetModelInfoResponse info = ModelInfo();
  EXPECT_EQ(info.attribute_vocabulary().vehicle_colors_size(),
            eval::VehicleFieldClasses(VehicleField::kColor));
  EXPECT_EQ(info.attribute_vocabulary().pedestrian_flags_size(),
            eval::kNumPedestrianFlags);
  const std::string white = eval::VehicleClassName(VehicleField::kColor, 0);
  const std::string black = eval::VehicleClassName(VehicleField::kColor, 1);
  const std::string flag = info.attribute_vocabulary().pedestrian_flags(0);

  auto search = [&](const retrieval::v1::AttributeFilter& filter,
                    SearchResponse* out, int top_k = 12) {
    SearchRequest req;
    req.set_text(v.texts[3]);
    req.set_top_k(top_k);
    *req.mutable_filter() = filter;
    grpc::ClientContext ctx;
    return stub_->Search(&ctx, req, out);
  };
  SearchResponse all;
  ASSERT_TRUE(Search(v.texts[3], &all, 12).ok());
  // Every hit reports what was recorded for it.
  for (const auto& h : all.hits()) {
    const bool vehicle = IsVehicleImage(h.image_name());
    EXPECT_EQ(h.attributes().category(),
              vehicle ? retrieval::v1::CATEGORY_VEHICLE
                      : retrieval::v1::CATEGORY_PEDESTRIAN);
    if (vehicle) {
      EXPECT_EQ(h.attributes().vehicle_color(),
                h.image_name() == "img0.jpg" ? black : white);
      EXPECT_TRUE(h.attributes().pedestrian_flags().empty());
    } else {
      EXPECT_EQ(h.attributes().vehicle_color(), "");
      EXPECT_EQ(h.attributes().pedestrian_flags_size(),
                eval::kNumPedestrianFlags);  // every flag at 0.5
    }
  }
  // The filtered ranking is the unfiltered one without the others.
  auto expect_subsequence = [&](const SearchResponse& filtered, auto keep,
                                int64_t expected_count) {
    std::vector<std::string> expected;
    for (const auto& h : all.hits()) {
      if (keep(h.image_name())) expected.push_back(h.image_name());
    }
    std::vector<std::string> got;
    for (const auto& h : filtered.hits()) got.push_back(h.image_name());
    EXPECT_EQ(got, expected);
    EXPECT_EQ(filtered.num_candidates(), expected_count);
  };
  retrieval::v1::AttributeFilter f;
  f.set_vehicle_color(white);
  SearchResponse whites;
  ASSERT_TRUE(search(f, &whites).ok());
  expect_subsequence(
      whites,
      [](const std::string& n) { return IsVehicleImage(n) && n != "img0.jpg"; },
      5);
  f.set_vehicle_color(black);
  SearchResponse blacks;
  ASSERT_TRUE(search(f, &blacks).ok());
  expect_subsequence(
      blacks, [](const std::string& n) { return n == "img0.jpg"; }, 1);
  // AND: a black vehicle of the first type; then also with a flag, nothing.
  f.set_vehicle_type(eval::VehicleClassName(VehicleField::kType, 0));
  SearchResponse black_typed;
  ASSERT_TRUE(search(f, &black_typed).ok());
  EXPECT_EQ(black_typed.hits_size(), 1);
  (*f.mutable_pedestrian_flags())[flag] = true;
  SearchResponse nothing;
  ASSERT_TRUE(search(f, &nothing).ok());
  EXPECT_EQ(nothing.hits_size(), 0);
  EXPECT_EQ(nothing.num_candidates(), 0);
  retrieval::v1::AttributeFilter p;
  (*p.mutable_pedestrian_flags())[flag] = true;
  SearchResponse with_flag;
  ASSERT_TRUE(search(p, &with_flag, 4).ok());
  EXPECT_EQ(with_flag.num_candidates(), 6);
  ASSERT_EQ(with_flag.hits_size(), 4);
  for (const auto& h : with_flag.hits()) {
    EXPECT_FALSE(IsVehicleImage(h.image_name()));
  }
  (*p.mutable_pedestrian_flags())[flag] = false;
  SearchResponse without_flag;
  ASSERT_TRUE(search(p, &without_flag).ok());
  EXPECT_EQ(without_flag.hits_size(), 0);

  retrieval::v1::AttributeFilter unknown;
  unknown.set_vehicle_color("mauve");
  SearchResponse resp;
  grpc::Status st = search(unknown, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(),
              HasSubstr("filter.vehicle_color: unknown colour 'mauve'"));
  server_->Shutdown(std::chrono::milliseconds(0));

  // A version without attribute heads records nothing to filter on.
  const std::string plain_models = FreshDir("e2e_filters_plain");
  ASSERT_OK(tests::PublishTestVersion(plain_models, tests::SampleVersion(8)));
  Start(BaseOptions(plain_models));
  retrieval::v1::AttributeFilter colour;
  colour.set_vehicle_color(white);
  st = search(colour, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(),
              HasSubstr("filter: model version 1 records no image attributes"));
}

TEST_F(ServerTest, RequestsNameTheModelVersionTheyWant) {
  const std::string models = FreshDir("e2e_versions");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  Start(BaseOptions(models));
  const retrieval::v1::GetModelInfoResponse info = ModelInfo();
  ASSERT_EQ(info.loaded_versions_size(), 1);
  EXPECT_EQ(info.loaded_versions(0), 1);
  EXPECT_EQ(info.default_version(), 1);
  SearchRequest req;
  req.set_text(v.texts[2]);
  req.set_model_version(1);
  SearchResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->Search(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.model_version(), 1);
  }
  req.set_model_version(7);
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->Search(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(
        st.error_message(),
        HasSubstr("model_version: version 7 is not loaded (loaded: 1)"));
  }
  req.set_model_version(-2);
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->Search(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), HasSubstr("model_version: -2"));
  }
  BatchSearchRequest batch;
  batch.add_requests()->set_text(v.texts[1]);
  auto* second = batch.add_requests();
  second->set_text(v.texts[2]);
  second->set_model_version(1);
  {
    grpc::ClientContext ctx;
    BatchSearchResponse out;
    grpc::Status st = stub_->BatchSearch(&ctx, batch, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(),
                HasSubstr("requests[1].model_version: 1 differs"));
  }
  retrieval::v1::GetModelInfoRequest info_req;
  info_req.set_model_version(3);
  {
    grpc::ClientContext ctx;
    retrieval::v1::GetModelInfoResponse out;
    grpc::Status st = stub_->GetModelInfo(&ctx, info_req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(ServerTest, RerankFlagsAreCheckedAtStartUp) {
  const std::string models = FreshDir("e2e_rerank_flags");
  server::ServerOptions o = BaseOptions(models);
  for (int bad : {-2, 1001}) {
    o.rerank_candidates = bad;
    EXPECT_THAT(server::ValidateServerOptions(o),
                common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("--rerank_candidates")));
  }
  o.rerank_candidates = 1000;
  EXPECT_OK(server::ValidateServerOptions(o));
  o.rerank_weights = "colour=1";
  EXPECT_THAT(server::ValidateServerOptions(o),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("--rerank_weights")));
  o.rerank_weights = "category=0.5,vehicle=0.25";
  EXPECT_OK(server::ValidateServerOptions(o));
}

TEST_F(ServerTest, VersionFlagsAreCheckedAtStartUp) {
  const std::string models = FreshDir("e2e_version_flags");
  server::ServerOptions o = BaseOptions(models);
  for (const char* bad : {"", "latest:0", "latest:17", "oldest", "3,x"}) {
    o.model_versions = bad;
    EXPECT_THAT(server::ValidateServerOptions(o),
                common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("--model_versions")))
        << bad;
  }
  o.model_versions = "specific:3,5";
  EXPECT_OK(server::ValidateServerOptions(o));
  o.default_version = 4;
  EXPECT_THAT(server::ValidateServerOptions(o),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("--default_version")));
  o.default_version = 5;
  EXPECT_OK(server::ValidateServerOptions(o));
  o.model_versions = "latest:2";
  o.default_version = -1;
  EXPECT_THAT(server::ValidateServerOptions(o),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("--default_version")));
  o.default_version = 9;
  EXPECT_OK(server::ValidateServerOptions(o));
}

TEST_F(ServerTest, ServesSeveralVersionsAndReportsThemInTheMetrics) {
  const std::string models = FreshDir("e2e_versions");
  for (uint64_t seed : {1, 2, 3}) {
    tests::TestVersionOptions v = tests::SampleVersion(6, seed);
    // The newest with an IVF index, whose inverted lists the server maps.
    if (seed == 3) v.index_factory = "IVF2,Flat";
    ASSERT_OK(tests::PublishTestVersion(models, v));
  }
  server::ServerOptions o = BaseOptions(models);
  o.model_versions = "latest:2";
  Start(o);
  ASSERT_TRUE(server_->serving());
  const std::string metrics = server_->metrics_text();
  EXPECT_THAT(metrics, HasSubstr("retrieval_model_loaded{version=\"2\"} 1\n"
                                 "retrieval_model_loaded{version=\"3\"} 1\n"));
  EXPECT_THAT(metrics, Not(HasSubstr("retrieval_model_loaded{version=\"1\"}")));
  EXPECT_THAT(metrics,
              HasSubstr("retrieval_model_gallery_images{version=\"2\"} 6\n"));
  EXPECT_THAT(metrics, HasSubstr("retrieval_model_version 3\n"));
  EXPECT_THAT(metrics, HasSubstr("retrieval_gallery_images 6\n"));
  // What each version's load cost: version 3, loaded first, maps its index
  // and the warm-up search touched the lists, so file-backed pages grew.
  auto gauge = [&](const std::string& name, int version) -> int64_t {
    const std::string key = absl::StrCat(name, "{version=\"", version, "\"} ");
    const size_t at = metrics.find(key);
    if (at == std::string::npos) return -1;
    int64_t value = -1;
    const size_t begin = at + key.size();
    if (!absl::SimpleAtoi(
            metrics.substr(begin, metrics.find('\n', begin) - begin), &value)) {
      return -1;
    }
    return value;
  };
  EXPECT_GT(gauge("retrieval_model_memory_bytes", 3), 0) << metrics;
  EXPECT_GT(gauge("retrieval_model_memory_file_bytes", 3), 0) << metrics;
  EXPECT_GE(gauge("retrieval_model_memory_bytes", 2), 0) << metrics;
  EXPECT_GT(gauge("retrieval_model_index_mapped_bytes", 3), 0) << metrics;
  EXPECT_EQ(gauge("retrieval_model_index_mapped_bytes", 2), 0) << metrics;
  const retrieval::v1::GetModelInfoResponse info = ModelInfo();
  EXPECT_EQ(info.model_version(), 3);
  EXPECT_EQ(info.memory_bytes(), gauge("retrieval_model_memory_bytes", 3));
  EXPECT_EQ(info.memory_file_bytes(),
            gauge("retrieval_model_memory_file_bytes", 3));
  EXPECT_EQ(info.index_mapped_bytes(),
            gauge("retrieval_model_index_mapped_bytes", 3));
  SearchResponse resp;
  ASSERT_TRUE(Search(tests::SampleCaptions(6)[0], &resp).ok());
  EXPECT_EQ(resp.model_version(), 3);  // the default: the newest
  SearchRequest pinned;
  pinned.set_text(tests::SampleCaptions(6)[1]);
  pinned.set_model_version(2);
  grpc::ClientContext ctx;
  SearchResponse old;
  ASSERT_TRUE(stub_->Search(&ctx, pinned, &old).ok());
  EXPECT_EQ(old.model_version(), 2);
  // Request metrics carry the version that answered.
  const std::string after = server_->metrics_text();
  EXPECT_THAT(after, HasSubstr("retrieval_requests_total{method=\"Search\","
                               "code=\"OK\",version=\"3\"} 1\n"));
  EXPECT_THAT(after, HasSubstr("retrieval_requests_total{method=\"Search\","
                               "code=\"OK\",version=\"2\"} 1\n"));
}

TEST_F(ServerTest, BatchSearchAnswersInOrderAndNamesTheBadRequest) {
  const std::string models = FreshDir("e2e_batch");
  const tests::TestVersionOptions v = tests::SampleVersion(30);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  Start(BaseOptions(models));
  BatchSearchRequest req;
  std::vector<int> order = {5, 1, 29, 5, 12};  // a duplicate on purpose
  for (int i : order) {
    auto* r = req.add_requests();
    r->set_text(v.texts[i]);
    r->set_top_k(3);
  }
  BatchSearchResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status st = stub_->BatchSearch(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(resp.responses_size(), 5);
  for (size_t j = 0; j < order.size(); ++j) {
    EXPECT_EQ(resp.responses(j).hits(0).image_name(),
              tests::ImageName(order[j]));
  }
  req.mutable_requests(3)->set_text("   ");
  grpc::ClientContext ctx;
  grpc::Status st = stub_->BatchSearch(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("requests[3].text"));
  BatchSearchRequest big;
  for (int i = 0; i < 257; ++i) big.add_requests()->set_text("a car");
  grpc::ClientContext ctx2;
  st = stub_->BatchSearch(&ctx2, big, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("requests"));
}

TEST_F(ServerTest, InvalidRequestsGetInvalidArgumentNamingTheField) {
  const std::string models = FreshDir("e2e_invalid");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  Start(BaseOptions(models));
  SearchResponse resp;
  struct Case {
    std::string text;
    int top_k;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{{"", 0, "text"},
                                         {" \t ", 0, "text"},
                                         {"bad \xc3\x28 utf8", 0, "text"},
                                         {std::string(2049, 'x'), 0, "text"},
                                         {"a white car", 1001, "top_k"},
                                         {"a white car", -1, "top_k"}}) {
    grpc::Status st = Search(c.text, &resp, c.top_k);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(st.error_message(), HasSubstr(c.field));
  }
}

TEST_F(ServerTest, UnavailableUntilAVersionLoadsThenServing) {
  const std::string models = FreshDir("e2e_unavailable");
  Start(BaseOptions(models));
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  SearchResponse resp;
  EXPECT_EQ(Search("a white car", &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  const tests::TestVersionOptions v = tests::SampleVersion(12);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  ASSERT_OK(server_->ReloadNow());
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(Search(v.texts[2], &resp).ok());
}

TEST_F(ServerTest, ExpiredDeadlineAndFullQueue) {
  const std::string models = FreshDir("e2e_deadline");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  server::ServerOptions o = BaseOptions(models);
  o.max_queue = 1;
  // Each batch waits 2 s: long enough for the second call to arrive while
  // the first is queued, even on a loaded machine under a sanitizer.
  o.batch_delay_for_testing_us = 2000000;
  o.cache_size = 0;
  Start(o);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(50));
    SearchRequest req;
    req.set_text(v.texts[0]);
    SearchResponse resp;
    EXPECT_EQ(stub_->Search(&ctx, req, &resp).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // The expired call leaves the queue when its batch would have formed.
  ASSERT_TRUE(WaitUntil([&] { return server_->queued_texts() == 0; }));
  std::thread first([&] {
    SearchResponse resp;
    grpc::Status st = Search(v.texts[1], &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
  });
  ASSERT_TRUE(WaitUntil([&] { return server_->queued_texts() == 1; }));
  SearchResponse resp;
  grpc::Status st = Search(v.texts[2], &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr("queue is full"));
  first.join();
}

TEST_F(ServerTest, BearerTokenIsRequiredWhenConfigured) {
  const std::string models = FreshDir("e2e_auth");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  server::ServerOptions o = BaseOptions(models);
  o.auth_token_file = models + "/../token.txt";
  ASSERT_OK(common::WriteFileAtomically(o.auth_token_file, "s3cret\n"));
  Start(o);
  SearchResponse resp;
  grpc::Status missing = Search(v.texts[0], &resp);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      Search(v.texts[0], &resp, 0, retrieval::v1::CATEGORY_UNSPECIFIED, "wrong")
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Search(v.texts[0], &resp, 0, retrieval::v1::CATEGORY_UNSPECIFIED,
                     "s3cret")
                  .ok());
  // Health needs no token (load balancers and kubelets probe it).
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ServerTest, SeveralAuthorizationHeadersAreRefused) {
  const std::string models = FreshDir("e2e_auth_several");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  server::ServerOptions o = BaseOptions(models);
  o.auth_token_file = models + "/../token_several.txt";
  ASSERT_OK(common::WriteFileAtomically(o.auth_token_file, "s3cret\n"));
  Start(o);
  for (const std::vector<std::string>& headers :
       {std::vector<std::string>{"Bearer s3cret", "Bearer wrong"},
        std::vector<std::string>{"Bearer s3cret", "Bearer s3cret"},
        std::vector<std::string>{"Bearer wrong", "Bearer s3cret"}}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    for (const std::string& h : headers) ctx.AddMetadata("authorization", h);
    SearchRequest req;
    req.set_text(v.texts[0]);
    SearchResponse resp;
    grpc::Status st = stub_->Search(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << headers[1];
    EXPECT_THAT(st.error_message(), HasSubstr("2 'authorization'"));
  }
}

TEST_F(ServerTest, TokenFilesNoClientCanSendAreRefusedAtStartUp) {
  const std::string models = FreshDir("e2e_bad_token");
  server::ServerOptions o = BaseOptions(models);
  o.auth_token_file = models + "/../token_bad.txt";
  for (const std::string& contents :
       {std::string("s3c\nret\n"), std::string("s3c\x1b[2Jret"),
        std::string("s3c ret"), std::string("s3c\rret\n"),
        std::string("s3c\0ret", 7), std::string("\n\n")}) {
    ASSERT_OK(common::WriteFileAtomically(o.auth_token_file, contents));
    EXPECT_THAT(server::ValidateServerOptions(o),
                common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("token_bad.txt")));
    EXPECT_THAT(server::Server::Create(o),
                common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("token_bad.txt")));
  }
  ASSERT_OK(common::WriteFileAtomically(o.auth_token_file, " s3cret\r\n"));
  auto token = server::ReadAuthToken(o.auth_token_file);
  ASSERT_OK(token);
  EXPECT_EQ(*token, "s3cret");
}

TEST_F(ServerTest, ReflectionFollowsTheReflectionOption) {
  const std::string models = FreshDir("e2e_reflection");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  const std::string token_file = models + "/../token_reflection.txt";
  ASSERT_OK(common::WriteFileAtomically(token_file, "s3cret\n"));
  std::string listed;

  // No token: reflection is on by default.
  Start(BaseOptions(models));
  grpc::Status st = ListServices(&listed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(listed, HasSubstr("retrieval.v1.TextImageRetrieval"));
  server_->Shutdown(std::chrono::milliseconds(0));

  // A token: reflection needs it by default.
  server::ServerOptions o = BaseOptions(models);
  o.auth_token_file = token_file;
  Start(o);
  st = ListServices(&listed);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << st.error_message();
  st = ListServices(&listed, {"Bearer wrong"});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << st.error_message();
  st = ListServices(&listed, {"Bearer s3cret", "Bearer s3cret"});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << st.error_message();
  listed.clear();
  st = ListServices(&listed, {"Bearer s3cret"});
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(listed, HasSubstr("retrieval.v1.TextImageRetrieval"));
  // The service's own calls are unaffected by the reflection guard.
  SearchResponse resp;
  EXPECT_TRUE(Search(v.texts[0], &resp, 0, retrieval::v1::CATEGORY_UNSPECIFIED,
                     "s3cret")
                  .ok());
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  server_->Shutdown(std::chrono::milliseconds(0));

  // on: open to every caller even with a token; off: not served.
  o.reflection = server::ReflectionMode::kOn;
  Start(o);
  st = ListServices(&listed);
  EXPECT_TRUE(st.ok()) << st.error_message();
  server_->Shutdown(std::chrono::milliseconds(0));
  o.reflection = server::ReflectionMode::kOff;
  Start(o);
  st = ListServices(&listed, {"Bearer s3cret"});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED)
      << st.error_message();
  server_->Shutdown(std::chrono::milliseconds(0));

  // auth needs a token to check.
  server::ServerOptions no_token = BaseOptions(models);
  no_token.reflection = server::ReflectionMode::kAuth;
  EXPECT_THAT(server::ValidateServerOptions(no_token),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("--reflection")));
  EXPECT_THAT(server::ParseReflectionMode("yes"),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("off, on, auth")));
}

TEST_F(ServerTest, TlsWithACertificateMadeHere) {
  const std::string dir = FreshDir("e2e_tls");
  const std::string models = dir + "/models";
  fs::create_directories(models);
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  ASSERT_OK(
      tests::WriteSelfSignedCertificate(dir + "/key.pem", dir + "/cert.pem"));
  server::ServerOptions o = BaseOptions(models);
  o.tls_cert = dir + "/cert.pem";
  o.tls_key = dir + "/key.pem";
  grpc::SslCredentialsOptions ssl;
  auto cert = common::ReadFile(o.tls_cert);
  ASSERT_OK(cert);
  ssl.pem_root_certs = *cert;
  Start(o, grpc::SslCredentials(ssl), "localhost");
  SearchResponse resp;
  grpc::Status st = Search(v.texts[4], &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.hits(0).image_name(), tests::ImageName(4));
  // A plaintext client cannot talk to the TLS port.
  auto plain = retrieval::v1::TextImageRetrieval::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  SearchRequest req;
  req.set_text(v.texts[4]);
  EXPECT_FALSE(plain->Search(&ctx, req, &resp).ok());
}

TEST_F(ServerTest,
       ReloadUnderLoadDropsNoRequestAndKeepsServingOnABrokenVersion) {
  const std::string models = FreshDir("e2e_reload");
  const tests::TestVersionOptions v = tests::SampleVersion(30);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  server::ServerOptions o = BaseOptions(models);
  o.cache_size = 0;
  Start(o);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, saw_v2{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      int i = t;
      while (!stop.load()) {
        SearchResponse resp;
        grpc::Status st = Search(v.texts[i++ % 30], &resp, 3);
        if (st.ok()) {
          ++ok;
          if (resp.model_version() == 2) ++saw_v2;
        } else {
          ++failed;
        }
      }
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return ok.load() >= 10; }));
  tests::TestVersionOptions v2 = v;
  v2.seed = 2;
  ASSERT_OK(tests::PublishTestVersion(models, v2));
  ASSERT_OK(server_->ReloadNow());
  ASSERT_TRUE(WaitUntil([&] { return saw_v2.load() >= 10; }));
  // A broken version 3: the weights no longer match the manifest's hash.
  ASSERT_OK(tests::PublishTestVersion(models, v2));
  ASSERT_OK(
      common::WriteFileAtomically(models + "/3/model.safetensors", "garbage"));
  EXPECT_FALSE(server_->ReloadNow().ok());
  const int ok_before = ok.load();
  ASSERT_TRUE(WaitUntil([&] { return ok.load() >= ok_before + 10; }));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 30);
  EXPECT_GT(saw_v2.load(), 0);
  SearchResponse resp;
  ASSERT_TRUE(Search(v.texts[0], &resp).ok());
  EXPECT_EQ(resp.model_version(), 2);
}

TEST_F(ServerTest, GracefulShutdownFinishesInFlightCalls) {
  const std::string models = FreshDir("e2e_shutdown");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  server::ServerOptions o = BaseOptions(models);
  o.batch_delay_for_testing_us = 300000;  // keeps the call in flight for 0.3 s
  o.cache_size = 0;
  Start(o);
  grpc::Status in_flight;
  std::thread t([&] {
    SearchResponse resp;
    in_flight = Search(v.texts[1], &resp);
  });
  ASSERT_TRUE(WaitUntil([&] { return server_->queued_texts() == 1; }));
  server_->Shutdown(std::chrono::seconds(5));
  t.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  SearchResponse resp;
  EXPECT_FALSE(Search(v.texts[1], &resp).ok());
}

// The raw bytes of a unary call to `method` of the retrieval service.
grpc::Status RawUnaryCall(grpc::Channel* channel, const std::string& method,
                          const std::string& request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  const std::string name = "/retrieval.v1.TextImageRetrieval/" + method;
  const grpc::internal::RpcMethod rpc(name.c_str(),
                                      grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1), out;
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, rpc, &ctx, in, &out);
}

TEST_F(ServerTest, BytesThatAreNotTheRequestMessageAreInvalidArgument) {
  const std::string models = FreshDir("e2e_unparsable");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  Start(BaseOptions(models));
  // Field 1 (text) says 100 bytes follow; 3 do.
  const std::string truncated(
      "\x0a\x64"
      "abc",
      5);
  for (const char* method : {"Search", "BatchSearch", "GetModelInfo"}) {
    grpc::Status st = RawUnaryCall(channel_.get(), method, truncated);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
    EXPECT_THAT(st.error_message(), HasSubstr("do not parse as retrieval.v1."))
        << method;
  }
  // A well-formed request over the same raw path is answered.
  SearchRequest req;
  req.set_text(v.texts[3]);
  EXPECT_TRUE(
      RawUnaryCall(channel_.get(), "Search", req.SerializeAsString()).ok());
}

TEST_F(ServerTest, CancelledCallsAreDroppedUnencodedAndFreeTheQueue) {
  const std::string models = FreshDir("e2e_cancel");
  const tests::TestVersionOptions v = tests::SampleVersion(10);
  ASSERT_OK(tests::PublishTestVersion(models, v));
  server::ServerOptions o = BaseOptions(models);
  o.max_queue = 8;
  o.cache_size = 0;
  // Batches wait 3 s: the calls stay queued until cancelled, even on a
  // loaded machine under a sanitizer.
  o.batch_delay_for_testing_us = 3000000;
  Start(o);
  BatchSearchRequest big;
  for (int i = 0; i < 8; ++i) big.add_requests()->set_text(v.texts[i]);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  BatchSearchResponse resp;
  grpc::Status cancelled_status;
  std::thread caller(
      [&] { cancelled_status = stub_->BatchSearch(&ctx, big, &resp); });
  ASSERT_TRUE(WaitUntil([&] { return server_->queued_texts() == 8; }));
  ctx.TryCancel();
  caller.join();
  EXPECT_EQ(cancelled_status.error_code(), grpc::StatusCode::CANCELLED);
  // The queue is full of the cancelled call's texts, yet a new call gets in.
  ASSERT_TRUE(WaitUntil([&] {
    return absl::StrContains(server_->metrics_text(),
                             "code=\"CANCELLED\"} 1\n");
  })) << server_->metrics_text();
  SearchResponse one;
  grpc::Status st = Search(v.texts[2], &one);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(one.hits(0).image_name(), tests::ImageName(2));
  // Only that one text was encoded; the cancelled 8 never were.
  const std::string metrics = server_->metrics_text();
  EXPECT_THAT(metrics, HasSubstr("retrieval_batch_size_count 1\n"));
  EXPECT_THAT(metrics, HasSubstr("retrieval_batch_size_sum 1\n"));
  EXPECT_THAT(metrics, HasSubstr("retrieval_requests_total{method="
                                 "\"BatchSearch\",code=\"CANCELLED\"} 1\n"));
}

TEST_F(ServerTest, ThePortIsNotSharedWithAnotherListener) {
  const std::string models = FreshDir("e2e_reuseport");
  Start(BaseOptions(models));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  EXPECT_EQ(rc, -1)
      << "a second SO_REUSEPORT socket could bind the server's port";
  EXPECT_EQ(err, EADDRINUSE);
}

TEST_F(ServerTest, BadTlsMaterialIsNamedAtStartUp) {
  const std::string dir = FreshDir("e2e_bad_tls");
  const std::string models = dir + "/models";
  fs::create_directories(models);
  for (const char* name : {"a", "b"}) {
    ASSERT_OK(tests::WriteSelfSignedCertificate(
        absl::StrCat(dir, "/", name, "_key.pem"),
        absl::StrCat(dir, "/", name, "_cert.pem")));
  }
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/garbage.pem", "not a certificate\n"));
  server::ServerOptions o = BaseOptions(models);
  o.tls_cert = dir + "/garbage.pem";
  o.tls_key = dir + "/a_key.pem";
  EXPECT_THAT(server::Server::Create(o).status(),
              common_testing::StatusIs(
                  absl::StatusCode::kInvalidArgument,
                  HasSubstr("--tls_cert: " + dir + "/garbage.pem")));
  o.tls_cert = dir + "/a_cert.pem";
  o.tls_key = dir + "/garbage.pem";
  EXPECT_THAT(
      server::Server::Create(o).status(),
      common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("no unencrypted PEM private key")));
  o.tls_key = dir + "/b_key.pem";
  EXPECT_THAT(server::Server::Create(o).status(),
              common_testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("is not the private key")));
}

}  // namespace
