// Serves the newest complete model version of a directory and swaps in newer
// ones as they appear.
//
// A version (index/model_version.h) is loaded, verified, and its text
// encoder checked against the index (embedding size) before it becomes
// current. A version whose manifest records an attribute layout also brings
// its text attribute head (from the weights file) and the gallery's
// predicted attributes (the embeddings file's attribute_probs, one row per
// index row), checked against this build's eval::AttributeLayoutId(), the
// index size and the embedding size: what CATEGORY_AUTO routing and
// re-ranking (rerank/) use; a version that fails these checks is refused
// like any other broken version. The swap is one pointer exchange, so
// requests holding the old version finish on it and the next ones see the
// new one. A version that fails to load is logged and the current one keeps
// serving; the failed version is tried again after a backoff (doubling from
// retry_initial up to retry_max), since a failure may be transient (a read
// error, a copy still being written by hand) or fixed in place by an
// operator.
//
// Thread safety: every method may be called from any thread. Polls are
// serialised: one version is loaded at a time.
#ifndef SERVER_MODEL_MANAGER_H_
#define SERVER_MODEL_MANAGER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clip/encoder.h"
#include "common/mutex.h"
#include "index/model_version.h"
#include "rerank/attribute_head.h"
#include "rerank/gallery_attributes.h"
#include "rerank/reranker.h"

namespace server {

// The longest short list a query may re-rank (--rerank_candidates).
inline constexpr int kMaxRerankCandidates = 1000;

// Everything one answer depends on. Immutable once built.
struct ServedModel {
  int64_t version = 0;
  std::string model_name;
  gallery::Manifest manifest;
  std::unique_ptr<clip::ClipEncoder> encoder;
  std::unique_ptr<gallery::GalleryIndex> index;
  // The text attribute head; null when the version has no attribute heads.
  std::unique_ptr<rerank::AttributeHead> text_head;
  // The gallery's attribute probabilities, [index->size(),
  // eval::AttributeLayout::kSize] in index row order; empty without heads.
  std::vector<float> attribute_probs;
  // What attribute filters test: attribute_probs reduced to one value per
  // attribute (rerank/gallery_attributes.h); null without heads.
  std::unique_ptr<rerank::GalleryAttributes> gallery_attributes;
  // Re-ranking in use: the weights (the manifest's unless the server
  // overrides them) and the short-list length; rerank_candidates is 0 when
  // hits are not re-ranked (no heads, turned off, or all weights zero).
  rerank::RerankWeights rerank_weights;
  int rerank_candidates = 0;

  bool has_attribute_heads() const { return text_head != nullptr; }
  bool reranks() const { return rerank_candidates > 0; }
};

class ModelManager {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::string models_dir;
    std::string device = "cpu";
    // Query encoding precision; the gallery's (manifest) may differ.
    clip::Precision precision = clip::Precision::kFp32;
    int max_batch_size = 64;
    bool gpu_index = false;
    // Re-ranking of versions with attribute heads: -1 takes the manifest's
    // rerank_candidates, 0 turns re-ranking off, a positive value (at most
    // kMaxRerankCandidates) replaces the manifest's. Weights: unset takes the
    // manifest's rerank_weights.
    int rerank_candidates = -1;
    std::optional<rerank::RerankWeights> rerank_weights;
    // Backoff before a version that failed to load is tried again.
    std::chrono::milliseconds retry_initial{30'000};
    std::chrono::milliseconds retry_max{15 * 60'000};
  };
  // Called on the polling thread after each successful swap (new version)
  // and each failed load; it may call Current(), not Poll().
  using LoadCallback =
      std::function<void(const ServedModel* loaded, const absl::Status& error)>;

  ModelManager(Options options, LoadCallback on_load);
  ~ModelManager();

  // The version being served; null until one is loaded.
  std::shared_ptr<const ServedModel> Current() const;

  // The model of `version` (0: the default version). NOT_FOUND naming
  // model_version when it is not loaded; UNAVAILABLE when none is.
  absl::StatusOr<std::shared_ptr<const ServedModel>> Get(
      int64_t version) const;
  // Loaded versions, ascending, and the default one (0 when none).
  std::vector<int64_t> LoadedVersions() const;
  int64_t DefaultVersion() const;

  // Loads the newest version that is newer than the current one and not
  // waiting out a retry backoff: newest first, and a version that fails
  // gives way to the next older one in the same call. Returns the first load
  // error (even when an older version was then swapped in), OK when nothing
  // failed.
  absl::Status Poll();

  // Polls every `interval_s` seconds on a background thread until Stop().
  void StartPolling(double interval_s);
  void Stop();

  // Failed loads of `version` so far (0 once it loaded).
  int failures(int64_t version) const;

 private:
  struct Failure {
    int attempts = 0;
    Clock::time_point retry_at;
  };
  absl::StatusOr<std::shared_ptr<ServedModel>> Load(int64_t version);
  // Reads and checks the attribute heads' data of `loaded` into `model`
  // when its manifest records an attribute layout.
  absl::Status LoadAttributes(const gallery::LoadedVersion& loaded,
                              ServedModel& model) const;

  const Options options_;
  const LoadCallback on_load_;

  mutable common::Mutex mu_;
  std::shared_ptr<const ServedModel> current_ ABSL_GUARDED_BY(mu_);

  // Held for a whole Poll(), so that the poller and ReloadNow() never load
  // at the same time. Acquired before mu_.
  common::Mutex poll_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::map<int64_t, Failure> failed_ ABSL_GUARDED_BY(mu_);

  common::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread poller_;
};

}  // namespace server

#endif  // SERVER_MODEL_MANAGER_H_
