// The retrieval.v1.TextImageRetrieval gRPC service: validates requests,
// checks the bearer token, and hands the texts to the Batcher. Handlers stay
// thin: every error is an absl::Status converted once with ToGrpcStatus.
#ifndef SERVER_RETRIEVAL_SERVICE_H_
#define SERVER_RETRIEVAL_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "retrieval/v1/retrieval.grpc.pb.h"
#include "server/batcher.h"
#include "server/metrics.h"
#include "server/model_manager.h"

namespace server {

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

class RetrievalService final
    : public retrieval::v1::TextImageRetrieval::Service {
 public:
  // `auth_token` empty: no authentication. Pointers must outlive the service.
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
