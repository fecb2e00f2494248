// Serves the model versions of a directory that a version policy asks for,
// loading new ones as they appear and dropping those no longer wanted.
//
// A version (index/model_version.h) is loaded, verified, and its text
// encoder checked against the index (embedding size) before it is served. A
// version whose manifest records an attribute layout also brings its text
// attribute head (from the weights file) and the gallery's predicted
// attributes (the embeddings file's attribute_probs, one row per index row),
// checked against this build's eval::AttributeLayoutId(), the index size and
// the embedding size: what CATEGORY_AUTO routing and re-ranking (rerank/)
// use; a version that fails these checks is refused like any other broken
// version. A loaded version is then warmed up (one text, one image when the
// image tower is loaded, one index search, each result checked to be finite)
// and only then becomes visible to Get(); a version that fails the warm-up is
// refused like one that fails to load.
//
// Publishing and dropping a version are pointer operations on the set of
// loaded versions, so requests holding a version's ServedModel finish on it
// whatever happens to the set meanwhile. A version that fails to load is
// logged and the loaded ones keep serving; the failed version is tried again
// after a backoff (doubling from retry_initial up to retry_max), since a
// failure may be transient (a read error, a copy still being written by hand)
// or fixed in place by an operator.
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
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clip/encoder.h"
#include "common/mutex.h"
#include "index/model_version.h"
#include "rerank/attribute_head.h"
#include "rerank/gallery_attributes.h"
#include "rerank/reranker.h"

namespace server {

// The longest short list a query may re-rank (--rerank_candidates).
inline constexpr int kMaxRerankCandidates = 1000;

// The most versions a policy may keep loaded at once: each one holds its own
// weights and index in memory.
inline constexpr int kMaxLoadedVersions = 16;

// Which versions of the models directory are served (--model_versions),
// after TensorFlow Serving's model_version_policy.
struct VersionPolicy {
  enum class Kind {
    kLatest,    // the newest `latest` complete versions that load
    kSpecific,  // exactly `versions`, each once it appears
  };
  Kind kind = Kind::kLatest;
  int latest = 1;                 // kLatest: in [1, kMaxLoadedVersions]
  std::vector<int64_t> versions;  // kSpecific: ascending, distinct, >= 1

  static VersionPolicy Latest(int n);
  static VersionPolicy Specific(std::vector<int64_t> versions);

  // Whether a kSpecific policy names `version` (always true for kLatest).
  bool Allows(int64_t version) const;
  // "latest:2", "specific:3,5,8": what ParseVersionPolicy reads back.
  std::string ToString() const;
  bool operator==(const VersionPolicy& other) const {
    return kind == other.kind && latest == other.latest &&
           versions == other.versions;
  }
};

// Reads a --model_versions value: "latest" (= "latest:1"), "latest:N" with N
// in [1, kMaxLoadedVersions], "specific:V,V,..." or just "V,V,..." (at most
// kMaxLoadedVersions distinct versions >= 1, in any order). Whitespace around
// the value and around each version is ignored. INVALID_ARGUMENT naming
// --model_versions and what is wrong otherwise.
absl::StatusOr<VersionPolicy> ParseVersionPolicy(absl::string_view text);

// INVALID_ARGUMENT naming --default_version when `default_version` is
// negative, or is not one of the versions of a kSpecific `policy` (0, the
// newest loaded version, always fits).
absl::Status ValidateDefaultVersion(const VersionPolicy& policy,
                                    int64_t default_version);

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
  // Whether the encoder has the image tower (EncodeImages works), so that
  // this version can answer image queries.
  bool image_queries = false;
  // How long the warm-up took before the version was served.
  double warmup_seconds = 0;
  // How much the process's resident memory grew while this version loaded
  // and warmed up (common::ProcessMemory, bytes; 0 when unknown): the
  // weights, the index (as far as it was read; mapped inverted lists count
  // once touched), the names and the attribute data. memory_bytes is the
  // sum of the growth of `anon`, private memory, and of `file`, resident
  // pages of mapped files (page cache, shared with other processes mapping
  // the same files, reclaimable), each 0 if it shrank. Approximate:
  // requests served meanwhile by other versions allocate too, memory freed
  // earlier may be reused, and the first version also pays for the code
  // pages and allocator arenas it is the first to touch.
  int64_t memory_bytes = 0;
  int64_t memory_file_bytes = 0;
  int64_t memory_anon_bytes = 0;

  bool has_attribute_heads() const { return text_head != nullptr; }
  bool reranks() const { return rerank_candidates > 0; }
};

class ModelManager {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::string models_dir;
    // The versions to serve.
    VersionPolicy policy;
    // The version Get(0) and Current() answer with: 0 = the newest loaded
    // one; otherwise that version (see ValidateDefaultVersion) while it is
    // loaded, and the newest loaded one (with a warning, logged once) while
    // it is not. A kLatest policy does not load a default that is not among
    // its newest versions.
    int64_t default_version = 0;
    // Load the image tower too (clip::EncoderOptions::image_tower), so that
    // versions can encode query images; false reads only the text tower.
    bool image_tower = true;
    std::string device = "cpu";
    // Query encoding precision; the gallery's (manifest) may differ.
    clip::Precision precision = clip::Precision::kFp32;
    int max_batch_size = 64;
    bool gpu_index = false;
    // Map the inverted lists of IVF indexes instead of reading them
    // (gallery::LoadOptions::mmap).
    bool mmap_index = true;
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
  // Called on the polling thread once per version loaded (`loaded` set,
  // `error` OK), after it was published and the versions it displaced were
  // dropped, and once per version refused (`loaded` null, `error` why). It
  // may call Current(), Get(), LoadedVersions() and DefaultVersion(), not
  // Poll().
  using LoadCallback =
      std::function<void(const ServedModel* loaded, const absl::Status& error)>;

  ModelManager(Options options, LoadCallback on_load);
  ~ModelManager();

  // The default version's model (see Options::default_version); null until
  // a version is loaded.
  std::shared_ptr<const ServedModel> Current() const;

  // The model of `version`, 0 = the default version. UNAVAILABLE "no model
  // version is loaded yet" when none is; NOT_FOUND "model_version: version 7
  // is not loaded (loaded: 3, 5)" when `version` is not loaded.
  absl::StatusOr<std::shared_ptr<const ServedModel>> Get(int64_t version) const;
  // The loaded versions, ascending.
  std::vector<int64_t> LoadedVersions() const;
  // The version Get(0) answers with; 0 when none is loaded.
  int64_t DefaultVersion() const;

  // Brings the loaded versions in line with the policy. Lists models_dir
  // and goes through the versions the policy may want, newest first (the
  // named default version first, when the policy wants it), loading and
  // warming up each one that is not loaded and not waiting out a retry
  // backoff, and publishing it as soon as it is warm. kLatest stops once it
  // holds `latest` loaded versions, so a version that fails gives way to the
  // next older one in the same call, and a newly published version drops
  // the loaded ones it pushes out of the newest `latest`; kSpecific tries
  // each of its versions that exists. A loaded version whose directory was
  // removed keeps serving until the policy moves past it. Returns the first
  // load error (even when another version was then loaded), OK when nothing
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
  // Encodes a text (and an image when the image tower is loaded) and runs
  // one search; FAILED_PRECONDITION when a result is not finite.
  absl::Status WarmUp(ServedModel& model) const;
  // Records a failed load of `version` and returns the backoff before the
  // next attempt and the attempt number.
  std::pair<std::chrono::milliseconds, int> RecordFailure(int64_t version);
  // Loads `version`, publishes it (adding it to `kept`, the loaded versions
  // the current Poll keeps) and drops the versions it displaces; logs and
  // reports the outcome to on_load_.
  absl::Status LoadAndPublish(int64_t version, std::set<int64_t>& kept);
  // The default version among `loaded_`.
  int64_t ChooseDefault() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<int64_t> LoadedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads and checks the attribute heads' data of `loaded` into `model`
  // when its manifest records an attribute layout.
  absl::Status LoadAttributes(const gallery::LoadedVersion& loaded,
                              ServedModel& model) const;

  const Options options_;
  const LoadCallback on_load_;

  mutable common::Mutex mu_;
  std::map<int64_t, std::shared_ptr<const ServedModel>> loaded_
      ABSL_GUARDED_BY(mu_);
  int64_t default_version_ ABSL_GUARDED_BY(mu_) = 0;
  // Whether Poll() logged that the named default version is not loaded
  // (since it was last loaded).
  bool default_missing_logged_ ABSL_GUARDED_BY(mu_) = false;

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
