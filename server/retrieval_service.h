// The retrieval.v1.TextImageRetrieval gRPC service: validates requests,
// checks the bearer token, and hands the texts to the Batcher. Handlers stay
// thin: every error is an absl::Status converted once with ToGrpcStatus.
#ifndef SERVER_RETRIEVAL_SERVICE_H_
#define SERVER_RETRIEVAL_SERVICE_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "retrieval/v1/retrieval.grpc.pb.h"
#include "server/batcher.h"
#include "server/metrics.h"
#include "server/model_manager.h"

namespace server {

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The bearer-token check of a call's client metadata, shared by the service
// and the reflection guard of the server. OK when `expected_header` is empty
// (no authentication) or when the metadata carries exactly one
// "authorization" entry equal to it (compared in constant time).
// UNAUTHENTICATED when it is missing or wrong, and when several
// "authorization" entries are sent: a proxy in front may check one of them
// and the server another, so such calls are refused rather than matched.
absl::Status CheckAuthorization(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    const std::string& expected_header);

class RetrievalService final
    : public retrieval::v1::TextImageRetrieval::Service {
 public:
  // `auth_token` empty: no authentication; otherwise every call must send
  // the header "authorization: Bearer <auth_token>" exactly once (see
  // CheckAuthorization). Pointers must outlive the service.
  RetrievalService(Batcher* batcher, ModelManager* models, Metrics* metrics,
                   std::string auth_token);

  grpc::Status Search(grpc::ServerContext* context,
                      const retrieval::v1::SearchRequest* request,
                      retrieval::v1::SearchResponse* response) override;
  grpc::Status BatchSearch(grpc::ServerContext* context,
                           const retrieval::v1::BatchSearchRequest* request,
                           retrieval::v1::BatchSearchResponse* response) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context,
                            const retrieval::v1::GetModelInfoRequest* request,
                            retrieval::v1::GetModelInfoResponse* response) override;

 private:
  absl::Status Authenticate(const grpc::ServerContext& context) const;
  absl::Status RunSearch(grpc::ServerContext* context,
                         const std::vector<const retrieval::v1::SearchRequest*>& requests,
                         bool batch, std::vector<retrieval::v1::SearchResponse*>& out);
  grpc::Status Finish(const char* method, absl::Status status,
                      std::chrono::steady_clock::time_point start);

  Batcher* batcher_;
  ModelManager* models_;
  Metrics* metrics_;
  std::string auth_header_;  // "Bearer <token>"
};

}  // namespace server

#endif  // SERVER_RETRIEVAL_SERVICE_H_
