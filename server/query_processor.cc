#include "server/query_processor.h"

#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

namespace server {

QueryTask::QueryTask(std::vector<Query> queries,
                     std::shared_ptr<const ServedModel> model,
                     Clock::time_point deadline, std::string owner,
                     std::shared_ptr<const std::atomic<bool>> cancelled,
                     Callback done)
    : queries_(std::move(queries)),
      model_(std::move(model)),
      deadline_(deadline),
      owner_(std::move(owner)),
      cancelled_(std::move(cancelled)),
      done_(std::move(done)) {
  pending_ = static_cast<int64_t>(queries_.size());
}

void QueryTask::Finish(absl::StatusOr<BatchResult> result) {
  if (done_ == nullptr) return;
  Callback done = std::move(done_);
  done_ = nullptr;
  done(std::move(result));
}

void QueryProcessor::Prepare(QueryTask& task) const {
  const int64_t dim = task.model_->encoder->embed_dim();
  const size_t n = task.queries_.size();
  task.embeddings_.assign(n, {});
  task.cached_.assign(n, false);
  task.pending_ = 0;
  for (size_t i = 0; i < n; ++i) {
    if (cache_->Get(task.model_->version, task.queries_[i].text,
                    &task.embeddings_[i]) &&
        static_cast<int64_t>(task.embeddings_[i].size()) == dim) {
      task.cached_[i] = true;
      metrics_->RecordCache(true);
    } else {
      ++task.pending_;
      if (cache_->capacity() > 0) metrics_->RecordCache(false);
    }
  }
}

void QueryProcessor::Process(std::vector<std::unique_ptr<QueryTask>> batch) {
  std::map<const ServedModel*, std::vector<QueryTask*>> by_model;
  for (auto& t : batch) by_model[t->model_.get()].push_back(t.get());
  for (const auto& [model, tasks] : by_model) ProcessModel(*model, tasks);
}

void QueryProcessor::ProcessModel(const ServedModel& model,
                                  const std::vector<QueryTask*>& tasks) {
  const int64_t dim = model.encoder->embed_dim();
  // Texts to encode, and where each embedding goes.
  std::vector<std::string> texts;
  std::vector<std::pair<QueryTask*, size_t>> owners;
  for (QueryTask* t : tasks) {
    for (size_t i = 0; i < t->queries_.size(); ++i) {
      if (t->cached_[i]) continue;
      texts.push_back(t->queries_[i].text);
      owners.push_back({t, i});
    }
  }
  if (!texts.empty()) {
    metrics_->RecordBatch(static_cast<int64_t>(texts.size()));
    auto embedded = model.encoder->EncodeTexts(texts);
    if (!embedded.ok()) {
      LOG(ERROR) << "text encoding failed: " << embedded.status();
      for (QueryTask* t : tasks) t->Finish(embedded.status());
      return;
    }
    for (size_t j = 0; j < owners.size(); ++j) {
      const float* row = embedded->data() + j * dim;
      owners[j].first->embeddings_[owners[j].second].assign(row, row + dim);
      cache_->Put(model.version, texts[j], row, dim);
    }
  }
  std::map<QueryTask*, BatchResult> results;
  for (QueryTask* t : tasks) {
    results[t].model = t->model_;
    results[t].results.resize(t->queries_.size());
  }
  // Attribute probabilities where routing or re-ranking needs them, and the
  // category each query searches.
  const bool heads = model.has_attribute_heads();
  std::map<QueryTask*, std::vector<std::vector<float>>> probs;
  std::map<int, std::vector<std::pair<QueryTask*, size_t>>> groups;
  for (QueryTask* t : tasks) {
    std::vector<std::vector<float>>& p = probs[t];
    p.resize(t->queries_.size());
    for (size_t i = 0; i < t->queries_.size(); ++i) {
      const Query& q = t->queries_[i];
      if (heads && (q.route || model.reranks())) {
        p[i] = model.text_head->Predict(t->embeddings_[i].data(), 1);
      }
      gallery::Category category = q.category;
      if (q.route) {
        category = heads ? rerank::PredictedCategory(p[i].data())
                         : gallery::Category::kUnspecified;
        metrics_->RecordRouted(category);
      }
      results[t].results[i].category = category;
      groups[static_cast<int>(category)].push_back({t, i});
    }
  }
  // A query's short list: what it re-ranks, or its top_k.
  auto shortlist = [&model](const Query& q) {
    return model.reranks() ? std::max(q.top_k, model.rerank_candidates)
                           : q.top_k;
  };
  // One search per category, at the group's longest short list.
  int64_t reranked = 0;
  for (auto& [category, members] : groups) {
    std::vector<float> queries(members.size() * dim);
    int k = 1;
    for (size_t j = 0; j < members.size(); ++j) {
      const auto& [t, i] = members[j];
      std::copy(t->embeddings_[i].begin(), t->embeddings_[i].end(),
                queries.begin() + j * dim);
      k = std::max(k, shortlist(t->queries_[i]));
    }
    auto hits = model.index->Search(queries.data(),
                                    static_cast<int64_t>(members.size()), k,
                                    static_cast<gallery::Category>(category));
    if (!hits.ok()) {
      LOG(ERROR) << "index search failed: " << hits.status();
      for (QueryTask* t : tasks) t->Finish(hits.status());
      return;
    }
    for (size_t j = 0; j < members.size(); ++j) {
      const auto& [t, i] = members[j];
      const Query& q = t->queries_[i];
      const std::vector<gallery::Hit>& list = (*hits)[j];
      const size_t keep =
          std::min(list.size(), static_cast<size_t>(shortlist(q)));
      std::vector<RankedHit> ranked(keep);
      for (size_t r = 0; r < keep; ++r) {
        ranked[r] = RankedHit{list[r].row, list[r].score, list[r].score};
      }
      if (model.reranks()) {
        rerank::Rerank(probs[t][i].data(), model.attribute_probs.data(),
                       model.rerank_weights, &ranked);
        ++reranked;
      }
      if (static_cast<int>(ranked.size()) > q.top_k) ranked.resize(q.top_k);
      results[t].results[i].hits = std::move(ranked);
    }
  }
  if (reranked > 0) metrics_->RecordReranked(reranked);
  for (QueryTask* t : tasks) t->Finish(std::move(results[t]));
}

}  // namespace server
