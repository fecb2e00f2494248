#include "server/query_processor.h"

#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <utility>

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
  // One search per category, at the group's largest k.
  std::map<int, std::vector<std::pair<QueryTask*, size_t>>> groups;
  for (QueryTask* t : tasks) {
    for (size_t i = 0; i < t->queries_.size(); ++i) {
      groups[static_cast<int>(t->queries_[i].category)].push_back({t, i});
    }
  }
  std::map<QueryTask*, BatchResult> results;
  for (QueryTask* t : tasks) {
    results[t].model = t->model_;
    results[t].results.resize(t->queries_.size());
  }
  for (auto& [category, members] : groups) {
    std::vector<float> queries(members.size() * dim);
    int k = 1;
    for (size_t j = 0; j < members.size(); ++j) {
      const auto& [t, i] = members[j];
      std::copy(t->embeddings_[i].begin(), t->embeddings_[i].end(),
                queries.begin() + j * dim);
      k = std::max(k, t->queries_[i].top_k);
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
      auto& list = (*hits)[j];
      if (static_cast<int>(list.size()) > t->queries_[i].top_k) {
        list.resize(t->queries_[i].top_k);
      }
      results[t].results[i].hits = std::move(list);
    }
  }
  for (QueryTask* t : tasks) t->Finish(std::move(results[t]));
}

}  // namespace server
