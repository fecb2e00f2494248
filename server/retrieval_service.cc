#include "server/retrieval_service.h"

#include <glog/logging.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "server/auth.h"

namespace server {
namespace {

using Clock = std::chrono::steady_clock;

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
        std::chrono::duration<double>(Clock::now() - start_).count(),
        g.ok() ? AnsweringVersion(message) : 0);
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

RetrievalService::RetrievalService(RetrievalApi* api, Metrics* metrics,
                                   std::string auth_token)
    : api_(api), metrics_(metrics) {
  if (!auth_token.empty()) auth_header_ = "Bearer " + auth_token;
}

absl::Status CheckAuthorization(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    const std::string& expected_header) {
  if (expected_header.empty()) return absl::OkStatus();
  const auto range = metadata.equal_range("authorization");
  std::vector<absl::string_view> values;
  for (auto it = range.first; it != range.second; ++it) {
    values.emplace_back(it->second.data(), it->second.size());
  }
  return CheckBearerToken(values, expected_header, "metadata");
}

absl::Status RetrievalService::Authenticate(
    const grpc::ServerContextBase& context) const {
  return CheckAuthorization(context.client_metadata(), auth_header_);
}

ApiCall RetrievalService::MakeCall(grpc::CallbackServerContext* context,
                                   const Call* call) {
  ApiCall out;
  // The client's deadline, mapped onto the steady clock.
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    out.deadline = Clock::now() +
                   std::chrono::duration_cast<Clock::duration>(
                       context->deadline() - std::chrono::system_clock::now());
  }
  out.connection = context->peer();
  out.cancelled = call->cancelled();
  return out;
}

// Answers one unary call: authenticates, parses the request bytes and
// hands the message to `run`, which replies through the Call.
template <typename Request, typename Response, typename Run>
grpc::ServerUnaryReactor* RetrievalService::Handle(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response, const char* method, Run run) {
  auto* call = new Call(metrics_, method, response);
  auto parsed = std::make_shared<Request>();
  absl::Status st = Authenticate(*context);
  if (st.ok()) st = ParseRequest(*request, parsed.get());
  if (!st.ok()) {
    call->Reply(st, Response());
    return call;
  }
  run(*parsed, MakeCall(context, call),
      [call, parsed](absl::StatusOr<Response> out) {
        call->Reply(out.status(), out.ok() ? *out : Response());
      });
  return call;
}

grpc::ServerUnaryReactor* RetrievalService::Search(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Handle<retrieval::v1::SearchRequest, retrieval::v1::SearchResponse>(
      context, request, response, "Search",
      [this](const auto& req, const ApiCall& call, auto done) {
        api_->Search(req, call, std::move(done));
      });
}

grpc::ServerUnaryReactor* RetrievalService::BatchSearch(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Handle<retrieval::v1::BatchSearchRequest,
                retrieval::v1::BatchSearchResponse>(
      context, request, response, "BatchSearch",
      [this](const auto& req, const ApiCall& call, auto done) {
        api_->BatchSearch(req, call, std::move(done));
      });
}

grpc::ServerUnaryReactor* RetrievalService::Encode(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Handle<retrieval::v1::EncodeRequest, retrieval::v1::EncodeResponse>(
      context, request, response, "Encode",
      [this](const auto& req, const ApiCall& call, auto done) {
        api_->Encode(req, call, std::move(done));
      });
}

grpc::ServerUnaryReactor* RetrievalService::GetModelInfo(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Handle<retrieval::v1::GetModelInfoRequest,
                retrieval::v1::GetModelInfoResponse>(
      context, request, response, "GetModelInfo",
      [this](const auto& req, const ApiCall&, auto done) {
        done(api_->GetModelInfo(req));
      });
}

}  // namespace server
