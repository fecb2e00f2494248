// The retrieval.v1.TextImageRetrieval gRPC service on gRPC's callback API:
// checks the bearer token, parses requests and hands them to RetrievalApi
// (server/retrieval_api.h), which validates them and queues their queries in
// the Batcher; no thread waits while a call is queued. The methods
// take the request bytes themselves, so bytes that do not parse as the
// request message are INVALID_ARGUMENT (gRPC's own parser answers INTERNAL
// with no message). A cancelled call is marked for the batcher, which drops
// its queued work. Every error is an absl::Status converted once with
// common::ToGrpcStatus.
#ifndef SERVER_RETRIEVAL_SERVICE_H_
#define SERVER_RETRIEVAL_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "retrieval/v1/retrieval.grpc.pb.h"
#include "server/metrics.h"
#include "server/retrieval_api.h"

namespace server {

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

using RetrievalServiceBase =
    retrieval::v1::TextImageRetrieval::WithRawCallbackMethod_Search<
        retrieval::v1::TextImageRetrieval::WithRawCallbackMethod_BatchSearch<
            retrieval::v1::TextImageRetrieval::
                WithRawCallbackMethod_GetModelInfo<
                    retrieval::v1::TextImageRetrieval::
                        WithRawCallbackMethod_Encode<
                            retrieval::v1::TextImageRetrieval::Service>>>>;

class RetrievalService final : public RetrievalServiceBase {
 public:
  // `auth_token` empty: no authentication; otherwise every call must send
  // the header "authorization: Bearer <auth_token>" exactly once (see
  // CheckAuthorization). Pointers must outlive the service.
  RetrievalService(RetrievalApi* api, Metrics* metrics, std::string auth_token);

  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* BatchSearch(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  class Call;
  absl::Status Authenticate(const grpc::ServerContextBase& context) const;
  static ApiCall MakeCall(grpc::CallbackServerContext* context,
                          const Call* call);
  template <typename Request, typename Response, typename Run>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response,
                                   const char* method, Run run);

  RetrievalApi* api_;
  Metrics* metrics_;
  std::string auth_header_;  // "Bearer <token>"
};

}  // namespace server

#endif  // SERVER_RETRIEVAL_SERVICE_H_
