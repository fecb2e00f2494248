#include "server/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace server {
namespace {

const std::vector<double>& LatencyBounds() {
  static const auto* b = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1,
      0.15,  0.2,    0.3,   0.5,  1.0,  2.5,  5.0,  10.0};
  return *b;
}

std::string Labels(const std::string& base, const std::string& extra) {
  if (base.empty()) return extra;
  if (extra.empty()) return base;
  return base + "," + extra;
}

// `base` with the version label appended; none for version 0.
std::string WithVersion(std::string base, int64_t version) {
  if (version != 0) absl::StrAppend(&base, ",version=\"", version, "\"");
  return base;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& labels,
                       std::string* out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::string le = i < bounds_.size() ? absl::StrCat(bounds_[i]) : "+Inf";
    absl::StrAppend(out, name, "_bucket{",
                    Labels(labels, absl::StrCat("le=\"", le, "\"")), "} ",
                    cumulative, "\n");
  }
  const std::string braces =
      labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_sum", braces, " ", sum_, "\n");
  absl::StrAppend(out, name, "_count", braces, " ", count_, "\n");
}

Metrics::Metrics() : batch_sizes_({1, 2, 4, 8, 16, 32, 64, 128, 256}) {}

void Metrics::RecordRequest(const std::string& method, const std::string& code,
                            double seconds, int64_t version) {
  common::MutexLock lock(&mu_);
  ++requests_[{method, code, version}];
  auto it = latency_.find({method, version});
  if (it == latency_.end()) {
    it = latency_
             .emplace(std::make_pair(method, version),
                      Histogram(LatencyBounds()))
             .first;
  }
  it->second.Observe(seconds);
}

void Metrics::RecordBatch(int64_t texts) {
  common::MutexLock lock(&mu_);
  batch_sizes_.Observe(static_cast<double>(texts));
}

void Metrics::SetModels(std::vector<LoadedModel> loaded,
                        int64_t default_version) {
  std::sort(loaded.begin(), loaded.end(),
            [](const LoadedModel& a, const LoadedModel& b) {
              return a.version < b.version;
            });
  common::MutexLock lock(&mu_);
  loaded_ = std::move(loaded);
  default_version_ = default_version;
}

uint64_t Metrics::RequestCount(const std::string& method,
                               const std::string& code) const {
  common::MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& [key, count] : requests_) {
    if (std::get<0>(key) == method && std::get<1>(key) == code) n += count;
  }
  return n;
}

uint64_t Metrics::RequestCount(const std::string& method,
                               const std::string& code, int64_t version) const {
  common::MutexLock lock(&mu_);
  auto it = requests_.find({method, code, version});
  return it == requests_.end() ? 0 : it->second;
}

std::string Metrics::Render() const {
  std::string out;
  common::MutexLock lock(&mu_);
  int64_t default_images = 0;
  for (const LoadedModel& m : loaded_) {
    if (m.version == default_version_) default_images = m.gallery_images;
  }
  absl::StrAppend(
      &out,
      "# HELP retrieval_requests_total RPCs finished, by method, status "
      "code and the model version that answered (none: refused before a "
      "version was chosen).\n# TYPE retrieval_requests_total counter\n");
  for (const auto& [key, n] : requests_) {
    const auto& [method, code, version] = key;
    absl::StrAppend(
        &out, "retrieval_requests_total{",
        WithVersion(absl::StrCat("method=\"", method, "\",code=\"", code, "\""),
                    version),
        "} ", n, "\n");
  }
  absl::StrAppend(
      &out,
      "# HELP retrieval_request_latency_seconds RPC latency, by method and "
      "model version.\n# TYPE retrieval_request_latency_seconds histogram\n");
  for (const auto& [key, h] : latency_) {
    h.Render(
        "retrieval_request_latency_seconds",
        WithVersion(absl::StrCat("method=\"", key.first, "\""), key.second),
        &out);
  }
  absl::StrAppend(&out,
                  "# HELP retrieval_batch_size Texts encoded per model call.\n"
                  "# TYPE retrieval_batch_size histogram\n");
  batch_sizes_.Render("retrieval_batch_size", "", &out);
  absl::StrAppend(
      &out,
      "# HELP retrieval_queue_depth Texts waiting to be encoded.\n"
      "# TYPE retrieval_queue_depth gauge\nretrieval_queue_depth ",
      queue_depth_.load(), "\n",
      "# HELP retrieval_cache_hits_total Text embeddings served from the "
      "cache.\n# TYPE retrieval_cache_hits_total counter\n"
      "retrieval_cache_hits_total ",
      cache_hits_.load(), "\n",
      "# HELP retrieval_cache_misses_total Text embeddings computed.\n"
      "# TYPE retrieval_cache_misses_total counter\n"
      "retrieval_cache_misses_total ",
      cache_misses_.load(), "\n",
      "# HELP retrieval_model_version The default model version: the one "
      "requests naming no version get (0: none loaded).\n"
      "# TYPE retrieval_model_version gauge\nretrieval_model_version ",
      default_version_, "\n",
      "# HELP retrieval_gallery_images Images in the default version's "
      "index.\n# TYPE retrieval_gallery_images gauge\n"
      "retrieval_gallery_images ",
      default_images, "\n",
      "# HELP retrieval_model_loaded Model versions loaded (each holds its "
      "own weights and index).\n# TYPE retrieval_model_loaded gauge\n");
  for (const LoadedModel& m : loaded_) {
    absl::StrAppend(&out, "retrieval_model_loaded{version=\"", m.version,
                    "\"} 1\n");
  }
  // A gauge with one sample per loaded version (given loaded_ by each call,
  // under the lock).
  const auto per_version = [&out](const std::vector<LoadedModel>& loaded,
                                  const char* name, const char* help,
                                  int64_t LoadedModel::*field) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " gauge\n");
    for (const LoadedModel& m : loaded) {
      absl::StrAppend(&out, name, "{version=\"", m.version, "\"} ", m.*field,
                      "\n");
    }
  };
  per_version(loaded_, "retrieval_model_gallery_images",
              "Images in the index of each loaded model version.",
              &LoadedModel::gallery_images);
  per_version(loaded_, "retrieval_model_memory_bytes",
              "Growth of the process's resident memory while each loaded "
              "model version loaded and warmed up (approximate: other "
              "versions' requests allocate meanwhile).",
              &LoadedModel::memory_bytes);
  per_version(loaded_, "retrieval_model_memory_file_bytes",
              "Of retrieval_model_memory_bytes, pages of mapped files (page "
              "cache, shared with other processes mapping them, "
              "reclaimable).",
              &LoadedModel::memory_file_bytes);
  per_version(loaded_, "retrieval_model_index_mapped_bytes",
              "Bytes of each loaded model version's index file mapped rather "
              "than read (0: read into memory); resident only as searches "
              "touch them.",
              &LoadedModel::index_mapped_bytes);
  absl::StrAppend(
      &out,
      "# HELP retrieval_reload_failures_total New versions that failed to "
      "load.\n# TYPE retrieval_reload_failures_total counter\n"
      "retrieval_reload_failures_total ",
      reload_failures_.load(), "\n",
      "# HELP retrieval_routed_queries_total CATEGORY_AUTO queries, by the "
      "category searched (unspecified: the version has no attribute "
      "heads).\n# TYPE retrieval_routed_queries_total counter\n");
  for (common::Category c :
       {common::Category::kPedestrian, common::Category::kVehicle,
        common::Category::kUnspecified}) {
    absl::StrAppend(&out, "retrieval_routed_queries_total{category=\"",
                    common::CategoryName(c), "\"} ",
                    routed_[static_cast<int>(c)].load(), "\n");
  }
  absl::StrAppend(
      &out,
      "# HELP retrieval_reranked_queries_total Queries whose hits were "
      "re-ranked by attribute agreement.\n"
      "# TYPE retrieval_reranked_queries_total counter\n"
      "retrieval_reranked_queries_total ",
      reranked_.load(), "\n");
  absl::StrAppend(
      &out,
      "# HELP retrieval_filtered_queries_total Queries with attribute "
      "conditions, by how they were searched.\n"
      "# TYPE retrieval_filtered_queries_total counter\n"
      "retrieval_filtered_queries_total{strategy=\"exact_subset\"} ",
      filtered_exact_.load(), "\n",
      "retrieval_filtered_queries_total{strategy=\"search_then_filter\"} ",
      filtered_deep_.load(), "\n");
  return out;
}

}  // namespace server
