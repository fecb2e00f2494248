// The operations of retrieval.v1.TextImageRetrieval, independent of the
// transport: the gRPC service (server/retrieval_service.h) and the REST/JSON
// gateway (server/rest_gateway.h) both parse their requests into the proto
// messages, authenticate the caller, and hand the messages to this class,
// which validates them (INVALID_ARGUMENT naming the field), resolves the
// model version, preprocesses query images, and submits the queries to the
// Batcher. So both transports accept and refuse exactly the same requests and
// answer them with the same bytes.
//
// Thread safety: every method may be called from any thread. Callbacks run
// exactly once, on the batcher's worker thread or inline for an immediate
// answer (an invalid request, an unknown version); they must not block.
#ifndef SERVER_RETRIEVAL_API_H_
#define SERVER_RETRIEVAL_API_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "retrieval/v1/retrieval.pb.h"
#include "server/batcher.h"
#include "server/metrics.h"
#include "server/model_manager.h"

namespace server {

// Limits of requests beyond those of request_validation.h: one query image,
// the images of one Encode call together, and a whole request message
// (larger ones are refused by the transport, RESOURCE_EXHAUSTED over gRPC).
inline constexpr int64_t kMaxImageBytes = 8 << 20;
inline constexpr int64_t kMaxEncodeImageBytes = 32 << 20;
inline constexpr int kMaxRequestBytes = 40 << 20;
inline constexpr int kMaxEncodeTexts = 256;
inline constexpr int kMaxEncodeImages = 32;

// What the API needs to know of one call, whatever carried it.
struct ApiCall {
  using Clock = std::chrono::steady_clock;
  // When the caller stops waiting.
  Clock::time_point deadline = Clock::now() + std::chrono::hours(1);
  // The connection it came on ("ipv4:127.0.0.1:5555"); its share of the
  // batch queue is bounded (Batcher).
  std::string connection;
  // Set when the caller gave up; null for never.
  std::shared_ptr<const std::atomic<bool>> cancelled;
};

// The model version that produced a response, for metrics labels: its
// model_version (the first response's for a batch; 0 for an empty one).
inline int64_t AnsweringVersion(const retrieval::v1::SearchResponse& r) {
  return r.model_version();
}
inline int64_t AnsweringVersion(const retrieval::v1::BatchSearchResponse& r) {
  return r.responses_size() > 0 ? r.responses(0).model_version() : 0;
}
inline int64_t AnsweringVersion(const retrieval::v1::EncodeResponse& r) {
  return r.model_version();
}
inline int64_t AnsweringVersion(const retrieval::v1::GetModelInfoResponse& r) {
  return r.model_version();
}

class RetrievalApi {
 public:
  template <typename T>
  using Callback = std::function<void(absl::StatusOr<T>)>;

  // Pointers must outlive the API. `image_queries` false: SearchRequest.image
  // and EncodeRequest.images are UNIMPLEMENTED (the server loaded no image
  // tower).
  RetrievalApi(Batcher* batcher, ModelManager* models, bool image_queries);

  void Search(const retrieval::v1::SearchRequest& request, const ApiCall& call,
              Callback<retrieval::v1::SearchResponse> done);
  void BatchSearch(const retrieval::v1::BatchSearchRequest& request,
                   const ApiCall& call,
                   Callback<retrieval::v1::BatchSearchResponse> done);
  void Encode(const retrieval::v1::EncodeRequest& request, const ApiCall& call,
              Callback<retrieval::v1::EncodeResponse> done);
  absl::StatusOr<retrieval::v1::GetModelInfoResponse> GetModelInfo(
      const retrieval::v1::GetModelInfoRequest& request) const;

  // The model version `version` (0: the default) serves; NOT_FOUND naming
  // `field` when it is not loaded, UNAVAILABLE when none is.
  absl::StatusOr<std::shared_ptr<const ServedModel>> ResolveVersion(
      int64_t version, const std::string& field = "model_version") const;

  bool image_queries() const { return image_queries_; }

 private:
  Batcher* batcher_;
  ModelManager* models_;
  bool image_queries_;
};

}  // namespace server

#endif  // SERVER_RETRIEVAL_API_H_
