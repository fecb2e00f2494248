// What one batch of queries costs: embeddings from the cache or the text
// tower (the texts of a batch in one EncodeTexts call, which groups them by
// token length), from the image tower for image queries (one EncodeImages
// call), or as given; then one index search per (model version, category)
// at the group's largest short list, trimmed to each query's own. A query
// with attribute conditions is searched on its own, over the rows whose
// recorded attributes match (gallery::GalleryIndex::SearchSelected, exact
// for a narrow selection). A query's short list starts at rank 0 and holds
// offset + top_k hits; the answer is its last top_k.
//
// On a version with attribute heads (ServedModel::has_attribute_heads) each
// text query's attribute probabilities come from its embedding through the
// text head. Image and embedding queries are neither routed nor re-ranked. A
// routed query (CATEGORY_AUTO) searches the category they predict
// (rerank::PredictedCategory); without heads it searches the whole gallery.
// When the version re-ranks (ServedModel::reranks), a query's short list is
// its max(offset + top_k, rerank_candidates) best images by cosine, re-scored
// by rerank::Rerank and trimmed to top_k; otherwise it is its top_k. Either way
// a query's hits do not depend on the other queries of its batch.
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
#include "rerank/gallery_attributes.h"
#include "rerank/reranker.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/text_cache.h"

namespace server {

// One query: a text, a preprocessed image or an embedding (exactly one).
struct Query {
  // A text query; empty for the other kinds.
  std::string text;
  // An image query: [3, R, R] pixels preprocessed as the version's gallery
  // (clip/image_preprocess.h); empty for the other kinds.
  std::vector<float> pixels;
  // An embedding query (L2-normalised, the version's embed_dim); empty for
  // the other kinds. Nothing is encoded for it.
  std::vector<float> embedding;
  int top_k = 10;
  // Hits skipped: the answer is ranks [offset, offset + top_k).
  int offset = 0;
  // The category to search; ignored when `route` is set.
  gallery::Category category = gallery::Category::kUnspecified;
  // CATEGORY_AUTO: search the category the version predicts from the text
  // (text queries on versions with attribute heads; others search the whole
  // gallery).
  bool route = false;
  // Recorded attributes the hits must have (AND); empty: none. Needs a
  // version with attribute heads.
  rerank::AttributeConditions conditions;
  // Encode only: the result carries the embedding and no hits.
  bool encode_only = false;

  bool is_text() const { return pixels.empty() && embedding.empty(); }
  bool is_image() const { return !pixels.empty(); }
};

// One ranked image: its index row, `score` (the re-ranked score, or the
// cosine when the version does not re-rank) and `cosine`.
using RankedHit = rerank::Candidate;

struct QueryResult {
  std::vector<RankedHit> hits;  // ranks offset.., best first, by score
  // The category searched: the query's, or for a routed query the predicted
  // one (kUnspecified when the version has no attribute heads).
  gallery::Category category = gallery::Category::kUnspecified;
  // Images the search ranked: those of the category matching the
  // conditions.
  int64_t num_candidates = 0;
  // The query's embedding (encode-only queries).
  std::vector<float> embedding;
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
  int64_t pending_ = 0;  // texts and images still to encode
};

class QueryProcessor {
 public:
  // Pointers must outlive the processor.
  QueryProcessor(TextCache* cache, Metrics* metrics)
      : cache_(cache), metrics_(metrics) {}

  // Fills the task's embeddings from the cache (texts) or the queries
  // (embeddings); size() is then the number of texts and images left to
  // encode.
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
