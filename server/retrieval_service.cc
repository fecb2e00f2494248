#include "server/retrieval_service.h"

#include <glog/logging.h>
#include <openssl/crypto.h>

#include <atomic>
#include <chrono>
#include <iterator>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "proto/category.h"
#include "server/request_validation.h"

namespace server {
namespace {

using Clock = std::chrono::steady_clock;

void FillResponse(const BatchResult& result, size_t i,
                  retrieval::v1::SearchResponse* out) {
  out->set_model_version(result.model->version);
  out->set_routed_category(
      retrieval_proto::ToProto(result.results[i].category));
  for (const RankedHit& h : result.results[i].hits) {
    auto* hit = out->add_hits();
    hit->set_image_name(result.model->index->names()[h.row]);
    hit->set_score(h.score);
    hit->set_similarity(h.cosine);
    hit->set_category(
        retrieval_proto::ToProto(result.model->index->category(h.row)));
  }
}

// Parses the request bytes; INVALID_ARGUMENT naming the message type when
// they are not one.
template <typename Message>
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, Message* out) {
  grpc::ByteBuffer copy(bytes);  // parsing consumes the buffer
  grpc::Status st = grpc::SerializationTraits<Message>::Deserialize(&copy, out);
  if (st.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the request bytes (", bytes.Length(), ") do not parse as ",
                   Message::descriptor()->full_name()));
}

}  // namespace

// One call: answers it once, records its metrics, and tells the batcher when
// the client cancels. Deletes itself when gRPC is done with the call.
class RetrievalService::Call final : public grpc::ServerUnaryReactor {
 public:
  Call(Metrics* metrics, const char* method, grpc::ByteBuffer* response)
      : metrics_(metrics), method_(method), response_(response) {}

  std::shared_ptr<const std::atomic<bool>> cancelled() const {
    return cancelled_;
  }

  // Finishes the call with `status`, sending `message` when OK.
  template <typename Message>
  void Reply(const absl::Status& status, const Message& message) {
    grpc::Status g = common::ToGrpcStatus(status);
    if (g.ok()) {
      bool own_buffer = false;
      g = grpc::SerializationTraits<Message>::Serialize(message, response_,
                                                        &own_buffer);
    }
    metrics_->RecordRequest(
        method_, common::GrpcCodeName(g.error_code()),
        std::chrono::duration<double>(Clock::now() - start_).count());
    if (!g.ok()) VLOG(1) << method_ << " failed: " << status;
    Finish(g);
  }

  void OnCancel() override { cancelled_->store(true); }
  void OnDone() override { delete this; }

 private:
  Metrics* const metrics_;
  const char* const method_;
  grpc::ByteBuffer* const response_;
  const Clock::time_point start_ = Clock::now();
  const std::shared_ptr<std::atomic<bool>> cancelled_ =
      std::make_shared<std::atomic<bool>>(false);
};

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
    return absl::UnauthenticatedError(
        absl::StrCat("the call carries ", count,
                     " 'authorization' metadata entries; send exactly one"));
  }
  const grpc::string_ref& v = range.first->second;
  if (v.size() == expected_header.size() &&
      CRYPTO_memcmp(v.data(), expected_header.data(), v.size()) == 0) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError("invalid bearer token");
}

absl::Status RetrievalService::Authenticate(
    const grpc::ServerContextBase& context) const {
  return CheckAuthorization(context.client_metadata(), auth_header_);
}

void RetrievalService::StartSearch(
    grpc::CallbackServerContext* context, Call* call,
    std::vector<const retrieval::v1::SearchRequest*> requests, bool batch,
    std::function<void(absl::Status, const BatchResult*)> finish) {
  std::vector<Query> queries(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string prefix = batch ? absl::StrCat("requests[", i, "].") : "";
    const auto& r = *requests[i];
    absl::Status st = ValidateText(r.text(), prefix + "text");
    if (st.ok())
      st = ValidateTopK(r.top_k(), prefix + "top_k", &queries[i].top_k);
    if (st.ok()) st = ValidateCategory(r.category(), prefix + "category");
    if (!st.ok()) {
      finish(st, nullptr);
      return;
    }
    queries[i].text = r.text();
    queries[i].category = retrieval_proto::FromProto(r.category());
    queries[i].route = r.category() == retrieval::v1::CATEGORY_AUTO;
  }
  if (queries.empty()) {
    finish(absl::OkStatus(), nullptr);
    return;
  }
  // The client's deadline, mapped onto the steady clock.
  auto deadline = Clock::now() + std::chrono::hours(1);
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    deadline = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(
                   context->deadline() - std::chrono::system_clock::now());
  }
  batcher_->Submit(
      std::move(queries), deadline,
      [finish = std::move(finish)](absl::StatusOr<BatchResult> result) {
        finish(result.status(), result.ok() ? &*result : nullptr);
      },
      CallInfo{context->peer(), call->cancelled()});
}

grpc::ServerUnaryReactor* RetrievalService::Search(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call = new Call(metrics_, "Search", response);
  retrieval::v1::SearchRequest parsed;
  absl::Status st = Authenticate(*context);
  if (st.ok()) st = ParseRequest(*request, &parsed);
  if (!st.ok()) {
    call->Reply(st, retrieval::v1::SearchResponse());
    return call;
  }
  StartSearch(context, call, {&parsed}, /*batch=*/false,
              [call](absl::Status st, const BatchResult* result) {
                retrieval::v1::SearchResponse out;
                if (st.ok()) FillResponse(*result, 0, &out);
                call->Reply(st, out);
              });
  return call;
}

grpc::ServerUnaryReactor* RetrievalService::BatchSearch(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call = new Call(metrics_, "BatchSearch", response);
  retrieval::v1::BatchSearchRequest parsed;
  absl::Status st = Authenticate(*context);
  if (st.ok()) st = ParseRequest(*request, &parsed);
  if (st.ok()) st = ValidateBatchSize(parsed.requests_size());
  if (!st.ok()) {
    call->Reply(st, retrieval::v1::BatchSearchResponse());
    return call;
  }
  std::vector<const retrieval::v1::SearchRequest*> in;
  for (const auto& r : parsed.requests()) in.push_back(&r);
  const size_t n = in.size();
  StartSearch(context, call, std::move(in), /*batch=*/true,
              [call, n](absl::Status st, const BatchResult* result) {
                retrieval::v1::BatchSearchResponse out;
                if (st.ok()) {
                  for (size_t i = 0; i < n; ++i) {
                    FillResponse(*result, i, out.add_responses());
                  }
                }
                call->Reply(st, out);
              });
  return call;
}

grpc::ServerUnaryReactor* RetrievalService::GetModelInfo(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* call = new Call(metrics_, "GetModelInfo", response);
  retrieval::v1::GetModelInfoRequest parsed;
  retrieval::v1::GetModelInfoResponse out;
  absl::Status st = Authenticate(*context);
  if (st.ok()) st = ParseRequest(*request, &parsed);
  if (st.ok()) {
    auto model = models_->Current();
    if (model == nullptr) {
      st = absl::UnavailableError("no model version is loaded yet");
    } else {
      out.set_model_version(model->version);
      out.set_model_name(model->model_name);
      out.set_architecture(model->manifest.architecture_description);
      out.set_embedding_dim(static_cast<int32_t>(model->index->dim()));
      out.set_num_images(model->index->size());
      out.set_index_type(model->manifest.index_type);
      out.set_metric(model->manifest.metric);
      out.set_created_at(model->manifest.created_at);
      out.set_num_pedestrian_images(
          model->index->CountOf(gallery::Category::kPedestrian));
      out.set_num_vehicle_images(
          model->index->CountOf(gallery::Category::kVehicle));
      out.set_has_attribute_heads(model->has_attribute_heads());
      if (model->has_attribute_heads()) {
        out.set_rerank_weights(model->rerank_weights.ToString());
      }
      out.set_rerank_candidates(model->rerank_candidates);
    }
  }
  call->Reply(st, out);
  return call;
}

}  // namespace server
