#include "client/fake_retrieval_service.h"

#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "server/request_validation.h"

namespace client_testing {
namespace {

using retrieval::v1::Category;
using retrieval::v1::SearchRequest;
using retrieval::v1::SearchResponse;

// OK when `request` is valid, else INVALID_ARGUMENT naming the field after
// `prefix` ("requests[3]." in a batch).
// The server's own validation, so the fake refuses what the server refuses
// with the same messages.
grpc::Status Validate(const SearchRequest& request, const std::string& prefix) {
  int top_k = 0;
  absl::Status st = server::ValidateText(request.text(), prefix + "text");
  if (st.ok())
    st = server::ValidateTopK(request.top_k(), prefix + "top_k", &top_k);
  if (st.ok())
    st = server::ValidateCategory(request.category(), prefix + "category");
  return common::ToGrpcStatus(st);
}

void Answer(const SearchRequest& request, SearchResponse* response) {
  const Category routed =
      FakeRoutedCategory(request.text(), request.category());
  const std::vector<std::string> names =
      FakeImageNames(request.text(), request.top_k(), request.category());
  for (size_t i = 0; i < names.size(); ++i) {
    retrieval::v1::Hit* hit = response->add_hits();
    hit->set_image_name(names[i]);
    hit->set_score(0.9f - 0.01f * static_cast<float>(i));
    hit->set_similarity(hit->score());
    hit->set_category(routed);
  }
  response->set_model_version(kFakeModelVersion);
  response->set_routed_category(routed);
}

}  // namespace

Category FakeRoutedCategory(const std::string& text, Category category) {
  if (category != retrieval::v1::CATEGORY_AUTO) return category;
  return absl::StrContains(absl::AsciiStrToLower(text), "pedestrian")
             ? retrieval::v1::CATEGORY_PEDESTRIAN
             : retrieval::v1::CATEGORY_VEHICLE;
}

std::vector<std::string> FakeImageNames(const std::string& text, int top_k,
                                        Category category) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(hash));
  const Category routed = FakeRoutedCategory(text, category);
  const char* suffix = routed == retrieval::v1::CATEGORY_PEDESTRIAN ? "_p"
                       : routed == retrieval::v1::CATEGORY_VEHICLE  ? "_v"
                                                                    : "";
  std::vector<std::string> names;
  const int k = top_k == 0 ? 10 : top_k;
  for (int rank = 0; rank < k; ++rank) {
    names.push_back(absl::StrCat(hex, "_", rank, suffix, ".jpg"));
  }
  return names;
}

void FakeRetrievalService::SetDelay(absl::Duration delay) {
  common::MutexLock lock(&mu_);
  delay_ = delay;
}

void FakeRetrievalService::RequireToken(const std::string& token) {
  common::MutexLock lock(&mu_);
  required_token_ = token;
}

std::vector<std::vector<std::string>> FakeRetrievalService::answered_batches()
    const {
  common::MutexLock lock(&mu_);
  return answered_batches_;
}

std::vector<std::string> FakeRetrievalService::search_texts() const {
  common::MutexLock lock(&mu_);
  return search_texts_;
}

std::vector<std::string> FakeRetrievalService::authorizations() const {
  common::MutexLock lock(&mu_);
  return authorizations_;
}

grpc::Status FakeRetrievalService::Admit(grpc::ServerContext* context) {
  total_calls_.fetch_add(1);
  std::string authorization;
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    authorization.assign(it->second.data(), it->second.size());
  }
  absl::Duration delay;
  std::string required_token;
  {
    common::MutexLock lock(&mu_);
    authorizations_.push_back(authorization);
    delay = delay_;
    required_token = required_token_;
  }
  if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  int remaining = fail_next_.load();
  while (remaining > 0 &&
         !fail_next_.compare_exchange_weak(remaining, remaining - 1)) {
  }
  if (remaining > 0) {
    return grpc::Status(static_cast<grpc::StatusCode>(fail_code_.load()),
                        "fake: injected failure");
  }
  if (!required_token.empty() &&
      authorization != absl::StrCat("Bearer ", required_token)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "fake: missing or wrong bearer token");
  }
  return grpc::Status::OK;
}

grpc::Status FakeRetrievalService::Search(grpc::ServerContext* context,
                                          const SearchRequest* request,
                                          SearchResponse* response) {
  grpc::Status status = Admit(context);
  if (!status.ok()) return status;
  {
    common::MutexLock lock(&mu_);
    search_texts_.push_back(request->text());
  }
  status = Validate(*request, "");
  if (!status.ok()) return status;
  Answer(*request, response);
  return grpc::Status::OK;
}

grpc::Status FakeRetrievalService::BatchSearch(
    grpc::ServerContext* context,
    const retrieval::v1::BatchSearchRequest* request,
    retrieval::v1::BatchSearchResponse* response) {
  grpc::Status status = Admit(context);
  if (!status.ok()) return status;
  status =
      common::ToGrpcStatus(server::ValidateBatchSize(request->requests_size()));
  if (!status.ok()) return status;
  std::vector<std::string> texts;
  for (int i = 0; i < request->requests_size(); ++i) {
    status = Validate(request->requests(i), absl::StrCat("requests[", i, "]."));
    if (!status.ok()) return status;
    texts.push_back(request->requests(i).text());
  }
  for (const SearchRequest& one : request->requests()) {
    Answer(one, response->add_responses());
  }
  common::MutexLock lock(&mu_);
  answered_batches_.push_back(std::move(texts));
  return grpc::Status::OK;
}

grpc::Status FakeRetrievalService::GetModelInfo(
    grpc::ServerContext* context, const retrieval::v1::GetModelInfoRequest*,
    retrieval::v1::GetModelInfoResponse* response) {
  grpc::Status status = Admit(context);
  if (!status.ok()) return status;
  response->set_model_version(kFakeModelVersion);
  response->set_model_name("fake");
  response->set_embedding_dim(4);
  return grpc::Status::OK;
}

FakeServer::FakeServer() : FakeServer(grpc::InsecureServerCredentials()) {}

FakeServer::FakeServer(std::shared_ptr<grpc::ServerCredentials> credentials)
    : credentials_(std::move(credentials)) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", credentials_, &port);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (server_ != nullptr && port > 0) {
    port_ = port;
    address_ = absl::StrCat("127.0.0.1:", port);
  }
}

FakeServer::~FakeServer() { Stop(absl::Seconds(1)); }

void FakeServer::Stop(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

bool FakeServer::Start() {
  if (server_ != nullptr) return true;
  if (port_ == 0) return false;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port_), credentials_,
                           &port);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port != port_) {
    server_.reset();
    return false;
  }
  return true;
}

}  // namespace client_testing
