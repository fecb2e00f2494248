// What one batch of text queries costs: embeddings from the cache or the
// text tower (the texts of a batch in one EncodeTexts call, which groups them
// by token length), then one index search per (model version, category) at
// the group's largest short list, trimmed to each query's own.
//
// On a version with attribute heads (ServedModel::has_attribute_heads) each
// query's attribute probabilities come from its embedding through the text
// head. A routed query (CATEGORY_AUTO) searches the category they predict
// (rerank::PredictedCategory); without heads it searches the whole gallery.
// When the version re-ranks (ServedModel::reranks), a query's short list is
// its max(top_k, rerank_candidates) best images by cosine, re-scored by
// rerank::Rerank and trimmed to top_k; otherwise it is its top_k. Either
// way a query's hits do not depend on the other queries of its batch.
//
// The processor holds no queue and no thread: server/batcher.h feeds it the
// batches a BatchQueue forms.
//
// Thread safety: Prepare may run on any thread; Process on one thread at a
// time (the batch worker).
#ifndef SERVER_QUERY_PROCESSOR_H_
#define SERVER_QUERY_PROCESSOR_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/gallery_index.h"
#include "rerank/reranker.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/text_cache.h"

namespace server {

struct Query {
  std::string text;
  int top_k = 10;
  // The category to search; ignored when `route` is set.
  gallery::Category category = gallery::Category::kUnspecified;
  // CATEGORY_AUTO: search the category the version predicts from the text.
  bool route = false;
};

// One ranked image: its index row, `score` (the re-ranked score, or the
// cosine when the version does not re-rank) and `cosine`.
using RankedHit = rerank::Candidate;

struct QueryResult {
  std::vector<RankedHit> hits;  // best first, by score
  // The category searched: the query's, or for a routed query the predicted
  // one (kUnspecified when the version has no attribute heads).
  gallery::Category category = gallery::Category::kUnspecified;
};

// All results of one request, from one model version.
struct BatchResult {
  std::shared_ptr<const ServedModel> model;
  std::vector<QueryResult> results;
};

// The queries of one call and what is known of them: the BatchQueue task
// type (server/batch_queue.h), sized by the texts still to encode.
class QueryTask {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(absl::StatusOr<BatchResult>)>;

  QueryTask(std::vector<Query> queries,
            std::shared_ptr<const ServedModel> model,
            Clock::time_point deadline, std::string owner,
            std::shared_ptr<const std::atomic<bool>> cancelled, Callback done);

  int64_t size() const { return pending_; }
  Clock::time_point deadline() const { return deadline_; }
  bool cancelled() const { return cancelled_ != nullptr && cancelled_->load(); }
  const std::string& owner() const { return owner_; }

  // Answers the call; the first answer wins, later ones are ignored.
  void Finish(absl::StatusOr<BatchResult> result);

 private:
  friend class QueryProcessor;
  std::vector<Query> queries_;
  std::shared_ptr<const ServedModel> model_;
  Clock::time_point deadline_;
  std::string owner_;
  std::shared_ptr<const std::atomic<bool>> cancelled_;
  Callback done_;
  std::vector<std::vector<float>> embeddings_;  // from the cache, or empty
  std::vector<bool> cached_;
  int64_t pending_ = 0;  // texts still to encode
};

class QueryProcessor {
 public:
  // Pointers must outlive the processor.
  QueryProcessor(TextCache* cache, Metrics* metrics)
      : cache_(cache), metrics_(metrics) {}

  // Fills the task's embeddings from the cache; size() is then the number
  // of texts left to encode.
  void Prepare(QueryTask& task) const;

  // Encodes what is not cached, searches, and finishes every task of the
  // batch exactly once (with the model's or the index's error when one
  // fails). Tasks are grouped by the model version they started on, so a
  // swap mid-queue never mixes versions inside one answer.
  void Process(std::vector<std::unique_ptr<QueryTask>> batch);

 private:
  void ProcessModel(const ServedModel& model,
                    const std::vector<QueryTask*>& tasks);

  TextCache* cache_;
  Metrics* metrics_;
};

}  // namespace server

#endif  // SERVER_QUERY_PROCESSOR_H_
