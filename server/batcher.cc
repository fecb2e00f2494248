#include "server/batcher.h"

#include <glog/logging.h>

#include <algorithm>
#include <future>
#include <map>

#include "absl/strings/str_cat.h"

namespace server {

Batcher::Batcher(Options options, ModelManager* models, TextCache* cache,
                 Metrics* metrics)
    : options_(options), models_(models), cache_(cache), metrics_(metrics) {
  worker_ = std::thread([this] { Loop(); });
}

Batcher::~Batcher() { Stop(); }

int64_t Batcher::queued_texts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_texts_;
}

void Batcher::Submit(std::vector<Query> queries, Clock::time_point deadline,
                     Callback done) {
  auto req = std::make_shared<Request>();
  req->model = models_->Current();
  if (req->model == nullptr) {
    done(absl::UnavailableError("no model version is loaded yet"));
    return;
  }
  req->queries = std::move(queries);
  req->deadline = deadline;
  req->enqueued = Clock::now();
  req->done = std::move(done);
  const int64_t dim = req->model->encoder->embed_dim();
  req->embeddings.resize(req->queries.size());
  req->cached.assign(req->queries.size(), false);
  for (size_t i = 0; i < req->queries.size(); ++i) {
    if (cache_->Get(req->model->version, req->queries[i].text, &req->embeddings[i]) &&
        static_cast<int64_t>(req->embeddings[i].size()) == dim) {
      req->cached[i] = true;
      metrics_->RecordCache(true);
    } else {
      ++req->pending;
      if (cache_->capacity() > 0) metrics_->RecordCache(false);
    }
  }
  std::vector<std::shared_ptr<Request>> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queued_texts_ + req->pending > options_.max_queue) {
      // Make room by dropping queued work whose deadline has passed.
      const auto now = Clock::now();
      for (auto it = queue_.begin(); it != queue_.end();) {
        if ((*it)->deadline <= now) {
          queued_texts_ -= (*it)->pending;
          expired.push_back(std::move(*it));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& r : expired) {
    r->done(absl::DeadlineExceededError("deadline passed while queued"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      req->done(absl::UnavailableError("the server is shutting down"));
      return;
    }
    if (queued_texts_ + std::max<int64_t>(req->pending, 1) > options_.max_queue &&
        !queue_.empty()) {
      req->done(absl::ResourceExhaustedError(absl::StrCat(
          "request queue is full (", queued_texts_, " texts waiting, limit ",
          options_.max_queue, "); retry with backoff")));
      return;
    }
    queued_texts_ += req->pending;
    metrics_->SetQueueDepth(queued_texts_);
    queue_.push_back(std::move(req));
  }
  cv_.notify_one();
}

absl::StatusOr<BatchResult> Batcher::Run(std::vector<Query> queries,
                                         Clock::time_point deadline) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<BatchResult>>>();
  std::future<absl::StatusOr<BatchResult>> future = promise->get_future();
  Submit(std::move(queries), deadline,
         [promise](absl::StatusOr<BatchResult> r) { promise->set_value(std::move(r)); });
  if (future.wait_until(deadline) != std::future_status::ready) {
    return absl::DeadlineExceededError("deadline passed before the answer was ready");
  }
  return future.get();
}

void Batcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Batcher::Loop() {
  int64_t last_batch = 0;  // texts in the previous model call
  while (true) {
    std::vector<std::shared_ptr<Request>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Clients answered by the previous batch usually send their next
      // request within a millisecond; together with those already waiting
      // they make the next batch. Waiting briefly for them keeps batches
      // full under load, while a lone client (previous batch of one, nobody
      // waiting) is served at once.
      const int64_t waiting = queued_texts_;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      const int64_t want = std::min<int64_t>(
          options_.max_batch_size, std::max<int64_t>(1, waiting + last_batch));
      const auto linger_until = Clock::now() + options_.batch_timeout;
      cv_.wait_until(lock, linger_until, [&] {
        return stopping_ || queued_texts_ >= want;
      });
      if (options_.delay_for_testing.count() > 0) {
        cv_.wait_until(lock, queue_.front()->enqueued + options_.delay_for_testing,
                       [&] { return stopping_; });
      }
      int64_t texts = 0;
      while (!queue_.empty()) {
        const int64_t n = queue_.front()->pending;
        if (!batch.empty() && texts + n > options_.max_batch_size) break;
        texts += n;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_texts_ -= texts;
      last_batch = texts;
      metrics_->SetQueueDepth(queued_texts_);
    }
    Process(batch);
  }
}

void Batcher::Process(std::vector<std::shared_ptr<Request>>& batch) {
  const auto now = Clock::now();
  // Drop work whose client has given up.
  std::vector<std::shared_ptr<Request>> live;
  for (auto& r : batch) {
    if (r->deadline <= now) {
      r->done(absl::DeadlineExceededError("deadline passed while queued"));
    } else {
      live.push_back(std::move(r));
    }
  }
  // Requests are grouped by the model version they started on, so a swap
  // mid-queue never mixes versions inside one answer.
  std::map<const ServedModel*, std::vector<std::shared_ptr<Request>>> by_model;
  for (auto& r : live) by_model[r->model.get()].push_back(r);
  for (auto& [model_ptr, requests] : by_model) {
    const ServedModel& model = *requests.front()->model;
    const int64_t dim = model.encoder->embed_dim();
    std::vector<std::string> texts;
    std::vector<std::pair<Request*, size_t>> owners;
    for (auto& r : requests) {
      for (size_t i = 0; i < r->queries.size(); ++i) {
        if (r->cached[i]) continue;
        texts.push_back(r->queries[i].text);
        owners.push_back({r.get(), i});
      }
    }
    absl::Status failure;
    if (!texts.empty()) {
      metrics_->RecordBatch(static_cast<int64_t>(texts.size()));
      auto embedded = model.encoder->EncodeTexts(texts);
      if (!embedded.ok()) {
        failure = embedded.status();
      } else {
        for (size_t j = 0; j < owners.size(); ++j) {
          const float* row = embedded->data() + j * dim;
          owners[j].first->embeddings[owners[j].second].assign(row, row + dim);
          cache_->Put(model.version, texts[j], row, dim);
        }
      }
    }
    if (!failure.ok()) {
      LOG(ERROR) << "text encoding failed: " << failure;
      for (auto& r : requests) r->done(failure);
      continue;
    }
    // One search per (category) group, at the group's largest k.
    std::map<int, std::vector<std::pair<Request*, size_t>>> groups;
    for (auto& r : requests) {
      for (size_t i = 0; i < r->queries.size(); ++i) {
        groups[static_cast<int>(r->queries[i].category)].push_back({r.get(), i});
      }
    }
    std::map<Request*, BatchResult> results;
    for (auto& r : requests) {
      results[r.get()].model = r->model;
      results[r.get()].results.resize(r->queries.size());
    }
    for (auto& [category, members] : groups) {
      std::vector<float> queries(members.size() * dim);
      int k = 1;
      for (size_t j = 0; j < members.size(); ++j) {
        const auto& e = members[j].first->embeddings[members[j].second];
        std::copy(e.begin(), e.end(), queries.begin() + j * dim);
        k = std::max(k, members[j].first->queries[members[j].second].top_k);
      }
      auto hits = model.index->Search(queries.data(),
                                      static_cast<int64_t>(members.size()), k,
                                      static_cast<gallery::Category>(category));
      if (!hits.ok()) {
        failure = hits.status();
        break;
      }
      for (size_t j = 0; j < members.size(); ++j) {
        auto& list = (*hits)[j];
        const int want = members[j].first->queries[members[j].second].top_k;
        if (static_cast<int>(list.size()) > want) list.resize(want);
        results[members[j].first].results[members[j].second].hits = std::move(list);
      }
    }
    for (auto& r : requests) {
      if (!failure.ok()) {
        r->done(failure);
      } else {
        r->done(std::move(results[r.get()]));
      }
    }
  }
}

}  // namespace server
