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
    Query& q = task.queries_[i];
    if (!q.embedding.empty()) {
      task.embeddings_[i] = std::move(q.embedding);
      q.embedding.clear();
      task.cached_[i] = true;
    } else if (q.is_text() &&
               cache_->Get(task.model_->version, q.text,
                           &task.embeddings_[i]) &&
               static_cast<int64_t>(task.embeddings_[i].size()) == dim) {
      task.cached_[i] = true;
      metrics_->RecordCache(true);
    } else {
      ++task.pending_;
      if (q.is_text() && cache_->capacity() > 0) metrics_->RecordCache(false);
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
  // Texts and images to encode, and where each embedding goes.
  std::vector<std::string> texts;
  std::vector<std::pair<QueryTask*, size_t>> text_owners, image_owners;
  std::vector<float> pixels;
  for (QueryTask* t : tasks) {
    for (size_t i = 0; i < t->queries_.size(); ++i) {
      if (t->cached_[i]) continue;
      Query& q = t->queries_[i];
      if (q.is_image()) {
        pixels.insert(pixels.end(), q.pixels.begin(), q.pixels.end());
        std::vector<float>().swap(q.pixels);
        image_owners.push_back({t, i});
      } else {
        texts.push_back(q.text);
        text_owners.push_back({t, i});
      }
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
    for (size_t j = 0; j < text_owners.size(); ++j) {
      const float* row = embedded->data() + j * dim;
      text_owners[j].first->embeddings_[text_owners[j].second].assign(
          row, row + dim);
      cache_->Put(model.version, texts[j], row, dim);
    }
  }
  if (!image_owners.empty()) {
    auto embedded = model.encoder->EncodeImages(
        pixels, static_cast<int64_t>(image_owners.size()));
    if (!embedded.ok()) {
      LOG(ERROR) << "image encoding failed: " << embedded.status();
      for (QueryTask* t : tasks) t->Finish(embedded.status());
      return;
    }
    for (size_t j = 0; j < image_owners.size(); ++j) {
      const float* row = embedded->data() + j * dim;
      image_owners[j].first->embeddings_[image_owners[j].second].assign(
          row, row + dim);
    }
  }
  std::map<QueryTask*, BatchResult> results;
  for (QueryTask* t : tasks) {
    results[t].model = t->model_;
    results[t].results.resize(t->queries_.size());
  }
  // Attribute probabilities where routing or re-ranking needs them, and the
  // category each query searches. Queries without conditions are grouped by
  // category; each query with conditions is a group of its own.
  const bool heads = model.has_attribute_heads();
  std::map<QueryTask*, std::vector<std::vector<float>>> probs;
  std::map<int, std::vector<std::pair<QueryTask*, size_t>>> groups;
  std::vector<std::pair<QueryTask*, size_t>> conditioned;
  for (QueryTask* t : tasks) {
    std::vector<std::vector<float>>& p = probs[t];
    p.resize(t->queries_.size());
    for (size_t i = 0; i < t->queries_.size(); ++i) {
      const Query& q = t->queries_[i];
      QueryResult& r = results[t].results[i];
      if (q.encode_only) {
        r.embedding = t->embeddings_[i];
        continue;
      }
      if (heads && q.is_text() && (q.route || model.reranks())) {
        p[i] = model.text_head->Predict(t->embeddings_[i].data(), 1);
      }
      gallery::Category category = q.category;
      if (q.route) {
        category = heads && q.is_text() ? rerank::PredictedCategory(p[i].data())
                                        : gallery::Category::kUnspecified;
        metrics_->RecordRouted(category);
      }
      r.category = category;
      if (q.conditions.empty()) {
        groups[static_cast<int>(category)].push_back({t, i});
      } else {
        conditioned.push_back({t, i});
      }
    }
  }
  // A query's short list: what it re-ranks, or its page and those before.
  auto reranks = [&](const std::vector<float>& query_probs) {
    return model.reranks() && !query_probs.empty();
  };
  auto shortlist = [&](const Query& q, const std::vector<float>& query_probs) {
    const int page_end = q.offset + q.top_k;
    return reranks(query_probs) ? std::max(page_end, model.rerank_candidates)
                                : page_end;
  };
  int64_t reranked = 0;
  // Re-ranks and trims one query's hits to its page.
  auto answer = [&](QueryTask* t, size_t i,
                    const std::vector<gallery::Hit>& list) {
    const Query& q = t->queries_[i];
    const std::vector<float>& query_probs = probs[t][i];
    const size_t keep =
        std::min(list.size(), static_cast<size_t>(shortlist(q, query_probs)));
    std::vector<RankedHit> ranked(keep);
    for (size_t r = 0; r < keep; ++r) {
      ranked[r] = RankedHit{list[r].row, list[r].score, list[r].score};
    }
    if (reranks(query_probs)) {
      rerank::Rerank(query_probs.data(), model.attribute_probs.data(),
                     model.rerank_weights, &ranked);
      ++reranked;
    }
    const size_t page_end =
        std::min(ranked.size(), static_cast<size_t>(q.offset + q.top_k));
    const size_t page_begin = std::min(page_end, static_cast<size_t>(q.offset));
    results[t].results[i].hits.assign(ranked.begin() + page_begin,
                                      ranked.begin() + page_end);
  };
  auto fail = [&](const absl::Status& status) {
    LOG(ERROR) << "index search failed: " << status;
    for (QueryTask* t : tasks) t->Finish(status);
  };
  // One search per category, at the group's longest short list.
  for (auto& [category, members] : groups) {
    const auto c = static_cast<gallery::Category>(category);
    std::vector<float> queries(members.size() * dim);
    int k = 1;
    for (size_t j = 0; j < members.size(); ++j) {
      const auto& [t, i] = members[j];
      std::copy(t->embeddings_[i].begin(), t->embeddings_[i].end(),
                queries.begin() + j * dim);
      k = std::max(k, shortlist(t->queries_[i], probs[t][i]));
    }
    auto hits = model.index->Search(queries.data(),
                                    static_cast<int64_t>(members.size()), k, c);
    if (!hits.ok()) return fail(hits.status());
    const int64_t candidates = c == gallery::Category::kUnspecified
                                   ? model.index->size()
                                   : model.index->CountOf(c);
    for (size_t j = 0; j < members.size(); ++j) {
      const auto& [t, i] = members[j];
      results[t].results[i].num_candidates = candidates;
      answer(t, i, (*hits)[j]);
    }
  }
  // Queries with attribute conditions: the matching rows of their category.
  for (const auto& [t, i] : conditioned) {
    QueryResult& r = results[t].results[i];
    const auto [begin, end] = model.index->RangeOf(r.category);
    std::vector<int64_t> rows = model.gallery_attributes->MatchingRows(
        begin, end, t->queries_[i].conditions);
    r.num_candidates = static_cast<int64_t>(rows.size());
    gallery::GalleryIndex::Selection used;
    auto hits = model.index->SearchSelected(
        t->embeddings_[i].data(), 1,
        std::max(1, shortlist(t->queries_[i], probs[t][i])), r.category, rows,
        &used);
    if (!hits.ok()) return fail(hits.status());
    metrics_->RecordFiltered(used ==
                             gallery::GalleryIndex::Selection::kExactSubset);
    answer(t, i, (*hits)[0]);
  }
  if (reranked > 0) metrics_->RecordReranked(reranked);
  for (QueryTask* t : tasks) t->Finish(std::move(results[t]));
}

}  // namespace server
