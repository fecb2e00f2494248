// Server metrics in the Prometheus text exposition format (version 0.0.4).
//
// Thread safety: every method may be called from any thread.
#ifndef SERVER_METRICS_H_
#define SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/category.h"
#include "common/mutex.h"

namespace server {

// A cumulative histogram with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Appends name_bucket/_sum/_count lines with `labels` ("" or `a="b"`).
  void Render(const std::string& name, const std::string& labels,
              std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // one per bound, plus +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // One finished RPC: `method` ("Search", ...), `code` (gRPC code name, e.g.
  // "OK", "INVALID_ARGUMENT"), latency in seconds, and the model version
  // that answered it; 0: none (refused before a version was chosen), which
  // renders without a version label (an empty label in Prometheus terms).
  void RecordRequest(const std::string& method, const std::string& code,
                     double seconds, int64_t version);
  void RecordRequest(const std::string& method, const std::string& code,
                     double seconds) {
    RecordRequest(method, code, seconds, 0);
  }
  // Texts encoded together in one model call.
  void RecordBatch(int64_t texts);
  void SetQueueDepth(int64_t texts) { queue_depth_.store(texts); }
  void RecordCache(bool hit) {
    (hit ? cache_hits_ : cache_misses_).fetch_add(1);
  }
  // The loaded model versions and the default one (0: none loaded).
  struct LoadedModel {
    int64_t version = 0;
    int64_t gallery_images = 0;
    // ServedModel::memory_bytes / memory_file_bytes, and the bytes of its
    // index file mapped (GalleryIndex::mapped_bytes()).
    int64_t memory_bytes = 0;
    int64_t memory_file_bytes = 0;
    int64_t index_mapped_bytes = 0;
  };
  void SetModels(std::vector<LoadedModel> loaded, int64_t default_version);
  // One loaded version, the default.
  void SetModel(int64_t version, int64_t gallery_size) {
    LoadedModel m;
    m.version = version;
    m.gallery_images = gallery_size;
    SetModels({m}, version);
  }
  void RecordReloadFailure() { reload_failures_.fetch_add(1); }
  // A CATEGORY_AUTO query and the category it was routed to (unspecified:
  // the version has no attribute heads).
  void RecordRouted(common::Category category) {
    routed_[static_cast<int>(category)].fetch_add(1);
  }
  // Queries whose hits were re-ranked by attribute agreement.
  void RecordReranked(int64_t queries) { reranked_.fetch_add(queries); }
  // A query with attribute conditions: searched over the matching rows only
  // (`exact_subset`) or deeper over its category, then filtered.
  void RecordFiltered(bool exact_subset) {
    (exact_subset ? filtered_exact_ : filtered_deep_).fetch_add(1);
  }

  std::string Render() const;

  // For tests: requests of `method` with `code`, over all versions or of
  // one (0: those without a version).
  uint64_t RequestCount(const std::string& method,
                        const std::string& code) const;
  uint64_t RequestCount(const std::string& method, const std::string& code,
                        int64_t version) const;

 private:
  mutable common::Mutex mu_;
  // By (method, code, version).
  std::map<std::tuple<std::string, std::string, int64_t>, uint64_t> requests_
      ABSL_GUARDED_BY(mu_);
  // By (method, version).
  std::map<std::pair<std::string, int64_t>, Histogram> latency_
      ABSL_GUARDED_BY(mu_);
  Histogram batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<LoadedModel> loaded_ ABSL_GUARDED_BY(mu_);  // ascending
  int64_t default_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> queue_depth_{0};
  std::atomic<uint64_t> cache_hits_{0}, cache_misses_{0};
  std::atomic<uint64_t> reload_failures_{0};
  // Indexed by common::Category.
  std::array<std::atomic<uint64_t>, 3> routed_{};
  std::atomic<uint64_t> reranked_{0};
  std::atomic<uint64_t> filtered_exact_{0}, filtered_deep_{0};
};

}  // namespace server

#endif  // SERVER_METRICS_H_
