#include "server/retrieval_service.h"

#include <glog/logging.h>
#include <openssl/crypto.h>

#include <chrono>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "server/request_validation.h"

namespace server {
namespace {

using Clock = std::chrono::steady_clock;

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

retrieval::v1::Category ToProto(gallery::Category c) {
  switch (c) {
    case gallery::Category::kPedestrian: return retrieval::v1::CATEGORY_PEDESTRIAN;
    case gallery::Category::kVehicle: return retrieval::v1::CATEGORY_VEHICLE;
    default: return retrieval::v1::CATEGORY_UNSPECIFIED;
  }
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

RetrievalService::RetrievalService(Batcher* batcher, ModelManager* models,
                                   Metrics* metrics, std::string auth_token)
    : batcher_(batcher), models_(models), metrics_(metrics) {
  if (!auth_token.empty()) auth_header_ = "Bearer " + auth_token;
}

absl::Status CheckAuthorization(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    const std::string& expected_header) {
  if (expected_header.empty()) return absl::OkStatus();
  const auto range = metadata.equal_range("authorization");
  const auto count = std::distance(range.first, range.second);
  if (count == 0) {
    return absl::UnauthenticatedError(
        "missing 'authorization: Bearer <token>' metadata");
  }
  if (count > 1) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the call carries ", count,
        " 'authorization' metadata entries; send exactly one"));
  }
  const grpc::string_ref& v = range.first->second;
  if (v.size() == expected_header.size() &&
      CRYPTO_memcmp(v.data(), expected_header.data(), v.size()) == 0) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError("invalid bearer token");
}

absl::Status RetrievalService::Authenticate(const grpc::ServerContext& context) const {
  return CheckAuthorization(context.client_metadata(), auth_header_);
}

grpc::Status RetrievalService::Finish(const char* method, absl::Status status,
                                      Clock::time_point start) {
  grpc::Status g = ToGrpcStatus(status);
  metrics_->RecordRequest(
      method, CodeName(g.error_code()),
      std::chrono::duration<double>(Clock::now() - start).count());
  if (!status.ok()) VLOG(1) << method << " failed: " << status;
  return g;
}

absl::Status RetrievalService::RunSearch(
    grpc::ServerContext* context,
    const std::vector<const retrieval::v1::SearchRequest*>& requests, bool batch,
    std::vector<retrieval::v1::SearchResponse*>& out) {
  std::vector<Query> queries(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string prefix = batch ? absl::StrCat("requests[", i, "].") : "";
    const auto& r = *requests[i];
    absl::Status st = ValidateText(r.text(), prefix + "text");
    if (st.ok()) st = ValidateTopK(r.top_k(), prefix + "top_k", &queries[i].top_k);
    if (st.ok()) st = ValidateCategory(r.category(), prefix + "category");
    if (!st.ok()) return st;
    queries[i].text = r.text();
    queries[i].category = r.category() == retrieval::v1::CATEGORY_PEDESTRIAN
                              ? gallery::Category::kPedestrian
                          : r.category() == retrieval::v1::CATEGORY_VEHICLE
                              ? gallery::Category::kVehicle
                              : gallery::Category::kUnspecified;
  }
  if (queries.empty()) return absl::OkStatus();
  // The client's deadline, mapped onto the steady clock.
  auto deadline = Clock::now() + std::chrono::hours(1);
  const auto remaining = context->deadline() - std::chrono::system_clock::now();
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    deadline = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(remaining);
  }
  auto result = batcher_->Run(std::move(queries), deadline);
  if (!result.ok()) return result.status();
  for (size_t i = 0; i < out.size(); ++i) {
    out[i]->set_model_version(result->model->version);
    for (const gallery::Hit& h : result->results[i].hits) {
      auto* hit = out[i]->add_hits();
      hit->set_image_name(result->model->index->names()[h.row]);
      hit->set_score(h.score);
      hit->set_category(ToProto(result->model->index->category(h.row)));
    }
  }
  return absl::OkStatus();
}

grpc::Status RetrievalService::Search(grpc::ServerContext* context,
                                      const retrieval::v1::SearchRequest* request,
                                      retrieval::v1::SearchResponse* response) {
  const auto start = Clock::now();
  absl::Status st = Authenticate(*context);
  if (st.ok()) {
    std::vector<const retrieval::v1::SearchRequest*> in = {request};
    std::vector<retrieval::v1::SearchResponse*> out = {response};
    st = RunSearch(context, in, /*batch=*/false, out);
  }
  return Finish("Search", st, start);
}

grpc::Status RetrievalService::BatchSearch(
    grpc::ServerContext* context, const retrieval::v1::BatchSearchRequest* request,
    retrieval::v1::BatchSearchResponse* response) {
  const auto start = Clock::now();
  absl::Status st = Authenticate(*context);
  if (st.ok()) st = ValidateBatchSize(request->requests_size());
  if (st.ok()) {
    std::vector<const retrieval::v1::SearchRequest*> in;
    std::vector<retrieval::v1::SearchResponse*> out;
    for (const auto& r : request->requests()) {
      in.push_back(&r);
      out.push_back(response->add_responses());
    }
    st = RunSearch(context, in, /*batch=*/true, out);
    if (!st.ok()) response->Clear();
  }
  return Finish("BatchSearch", st, start);
}

grpc::Status RetrievalService::GetModelInfo(
    grpc::ServerContext* context, const retrieval::v1::GetModelInfoRequest*,
    retrieval::v1::GetModelInfoResponse* response) {
  const auto start = Clock::now();
  absl::Status st = Authenticate(*context);
  if (st.ok()) {
    auto model = models_->Current();
    if (model == nullptr) {
      st = absl::UnavailableError("no model version is loaded yet");
    } else {
      response->set_model_version(model->version);
      response->set_model_name(model->model_name);
      response->set_architecture(model->manifest.architecture_description);
      response->set_embedding_dim(static_cast<int32_t>(model->index->dim()));
      response->set_num_images(model->index->size());
      response->set_index_type(model->manifest.index_type);
      response->set_metric(model->manifest.metric);
      response->set_created_at(model->manifest.created_at);
      response->set_num_pedestrian_images(model->index->CountOf(gallery::Category::kPedestrian));
      response->set_num_vehicle_images(model->index->CountOf(gallery::Category::kVehicle));
    }
  }
  return Finish("GetModelInfo", st, start);
}

}  // namespace server
