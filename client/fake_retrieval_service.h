// A deterministic in-process TextImageRetrieval service for client tests,
// and a server around it on 127.0.0.1 with a kernel-chosen port.
//
// Answers: the hits for a text are FakeImageNames(text, top_k, category)
// with scores (and similarities) 0.9, 0.89, ... and the category searched,
// FakeRoutedCategory(text, category), also the response's routed_category;
// model_version is kFakeModelVersion. Validation follows retrieval.proto: empty
// or whitespace-only text, text over 2,048 bytes or not valid UTF-8, top_k
// outside [1, 1000] (0 means 10), a category value the proto does not define
// and more than 256 requests per BatchSearch are INVALID_ARGUMENT naming the
// field ("requests[3].text: ..." in a batch). Knobs make it fail the first
// calls (with UNAVAILABLE or another code), sleep, or demand a bearer token.
//
// Thread safety: every method may be called from any thread; the recorded
// calls are guarded by a mutex.
#ifndef CLIENT_FAKE_RETRIEVAL_SERVICE_H_
#define CLIENT_FAKE_RETRIEVAL_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/mutex.h"
#include "retrieval/v1/retrieval.grpc.pb.h"

namespace client_testing {

inline constexpr int64_t kFakeModelVersion = 7;

// The category the fake searches: for CATEGORY_AUTO, CATEGORY_PEDESTRIAN
// when `text` contains "pedestrian" (any case) and CATEGORY_VEHICLE
// otherwise; any other category is itself.
retrieval::v1::Category FakeRoutedCategory(const std::string& text,
                                           retrieval::v1::Category category);

// The names the fake answers for `text`: "<16 hex digits of FNV-1a(text)>_
// <rank>[_p|_v].jpg" for ranks 0 .. top_k-1 (top_k 0 means 10), the suffix
// that of FakeRoutedCategory(text, category).
std::vector<std::string> FakeImageNames(
    const std::string& text, int top_k,
    retrieval::v1::Category category = retrieval::v1::CATEGORY_UNSPECIFIED);

class FakeRetrievalService final
    : public retrieval::v1::TextImageRetrieval::Service {
 public:
  grpc::Status Search(grpc::ServerContext* context,
                      const retrieval::v1::SearchRequest* request,
                      retrieval::v1::SearchResponse* response) override;
  grpc::Status BatchSearch(
      grpc::ServerContext* context,
      const retrieval::v1::BatchSearchRequest* request,
      retrieval::v1::BatchSearchResponse* response) override;
  grpc::Status GetModelInfo(
      grpc::ServerContext* context,
      const retrieval::v1::GetModelInfoRequest* request,
      retrieval::v1::GetModelInfoResponse* response) override;

  // The next `n` calls (any method) fail with `code`.
  void FailNextCalls(int n,
                     grpc::StatusCode code = grpc::StatusCode::UNAVAILABLE) {
    fail_code_.store(static_cast<int>(code));
    fail_next_.store(n);
  }
  // Every call sleeps this long before answering.
  void SetDelay(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);
  // Non-empty: calls without "authorization: Bearer <token>" fail with
  // UNAUTHENTICATED.
  void RequireToken(const std::string& token) ABSL_LOCKS_EXCLUDED(mu_);

  // Texts of every BatchSearch call answered OK, one vector per call.
  std::vector<std::vector<std::string>> answered_batches() const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Texts of every Search call (answered or rejected as invalid).
  std::vector<std::string> search_texts() const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls of any method that reached the service, including failed ones.
  int total_calls() const { return total_calls_.load(); }
  // Values of the "authorization" metadata of the calls, in order.
  std::vector<std::string> authorizations() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Common prologue: records the call, applies delay, injected failures and
  // the token check. OK means "go on and answer".
  grpc::Status Admit(grpc::ServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);

  std::atomic<int> fail_next_{0};
  std::atomic<int> fail_code_{static_cast<int>(grpc::StatusCode::UNAVAILABLE)};
  std::atomic<int> total_calls_{0};
  mutable common::Mutex mu_;
  absl::Duration delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::string required_token_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> answered_batches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> search_texts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
};

// Runs a FakeRetrievalService on 127.0.0.1:0 until destroyed. Stop() and
// Start() take it down and bring it back on the same port (a server
// restart, as clients see it); the service and its records are kept.
class FakeServer {
 public:
  // Plaintext server.
  FakeServer();
  // Server with the given credentials (e.g. TLS).
  explicit FakeServer(std::shared_ptr<grpc::ServerCredentials> credentials);
  ~FakeServer();

  // "127.0.0.1:<port>"; empty when the server failed to start.
  const std::string& address() const { return address_; }
  FakeRetrievalService& service() { return service_; }

  // Shuts the server down: calls in flight get `grace` to finish, then are
  // cancelled; the port is closed. No-op when stopped.
  void Stop(absl::Duration grace = absl::Milliseconds(100));
  // Listens again on the port of address(). False when the port could not
  // be bound again or the server was never started.
  bool Start();

 private:
  FakeRetrievalService service_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
};

}  // namespace client_testing

#endif  // CLIENT_FAKE_RETRIEVAL_SERVICE_H_
