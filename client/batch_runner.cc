#include "client/batch_runner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace client {
namespace batch_internal {
namespace {

std::vector<std::string> Names(const retrieval::v1::SearchResponse& response) {
  std::vector<std::string> names;
  names.reserve(response.hits_size());
  for (const retrieval::v1::Hit& hit : response.hits()) {
    names.push_back(hit.image_name());
  }
  return names;
}

}  // namespace

ProgressReporter::ProgressReporter(const BatchClientOptions& options,
                                   int64_t total, int64_t already_done)
    : stream_(options.progress_stream),
      bar_(options.progress_bar),
      interval_(options.progress_bar ? absl::Milliseconds(200)
                                     : options.progress_interval),
      total_(total),
      already_done_(already_done),
      start_(absl::Now()) {
  if (stream_ != nullptr && total_ > 0) {
    thread_ = std::thread([this] { Loop(); });
  }
}

void ProgressReporter::Stop() {
  {
    common::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
    if (bar_) {
      Print();
      std::fputc('\n', stream_);
      std::fflush(stream_);
    }
  }
}

void ProgressReporter::Loop() {
  common::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopped_), interval_)) {
    Print();
  }
}

void ProgressReporter::Print() {
  const int64_t this_run = done_this_run_.load();
  const std::string text =
      FormatProgress(already_done_ + this_run, total_, this_run,
                     absl::ToDoubleSeconds(absl::Now() - start_), bar_);
  if (bar_) {
    std::fprintf(stream_, "\r%s\033[K", text.c_str());
  } else {
    std::fprintf(stream_, "batch_client: %s\n", text.c_str());
  }
  std::fflush(stream_);
}

void Runner::Run(const std::vector<int64_t>& pending) {
  pending_ = &pending;
  const int threads = static_cast<int>(std::min<int64_t>(
      options_.concurrency, static_cast<int64_t>(pending.size())));
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([this] { Work(); });
  }
  for (std::thread& worker : workers) worker.join();
}

void Runner::Work() {
  while (!stop_.load()) {
    if (options_.cancel != nullptr && options_.cancel->load()) {
      cancelled_.store(true);
      stop_.store(true);
      break;
    }
    const int64_t taken = next_.fetch_add(1);
    if (taken >= static_cast<int64_t>(pending_->size())) break;
    if (options_.max_chunks > 0 && taken >= options_.max_chunks) {
      limit_reached_.store(true);
      stop_.store(true);
      break;
    }
    const int64_t chunk = (*pending_)[taken];
    absl::StatusOr<ChunkResult> result = RunChunk(chunk);
    absl::Status status = result.status();
    if (status.ok()) {
      status = journal_.Append(DumpLine(ChunkToJson(chunk, *result)));
    }
    if (!status.ok()) {
      Fail(std::move(status));
      break;
    }
    const int64_t lines = static_cast<int64_t>(result->names.size());
    result->done = true;
    chunks_[chunk] = *std::move(result);
    queries_this_run_.fetch_add(lines);
    progress_.Add(lines);
  }
}

void Runner::Fail(absl::Status status) {
  stop_.store(true);
  common::MutexLock lock(&mu_);
  if (error_.ok()) error_ = std::move(status);
}

retrieval::v1::SearchRequest Runner::MakeRequest(int64_t line) const {
  retrieval::v1::SearchRequest request;
  request.set_text(queries_[line]);
  request.set_top_k(options_.top_k);
  request.set_category(options_.category);
  return request;
}

std::string Runner::LineRange(int64_t begin, int64_t end) const {
  return end - begin == 1
             ? absl::StrCat(options_.queries_path, ":", begin + 1)
             : absl::StrCat(options_.queries_path, ":", begin + 1, "-", end);
}

absl::StatusOr<ChunkResult> Runner::RunChunk(int64_t chunk) {
  const auto [begin, end] = ChunkRange(chunk, options_.chunk_size,
                                       static_cast<int64_t>(queries_.size()));
  retrieval::v1::BatchSearchRequest request;
  for (int64_t line = begin; line < end; ++line) {
    *request.add_requests() = MakeRequest(line);
  }
  CallStats stats;
  absl::StatusOr<retrieval::v1::BatchSearchResponse> response =
      client_.BatchSearch(request, options_.call, &stats);
  retries_.fetch_add(stats.attempts - 1);
  if (response.ok()) {
    if (response->responses_size() != end - begin) {
      return absl::InternalError(
          absl::StrCat("BatchSearch for ", LineRange(begin, end),
                       ": the server sent ", response->responses_size(),
                       " responses for ", end - begin, " requests"));
    }
    ChunkResult result;
    for (const retrieval::v1::SearchResponse& one : response->responses()) {
      result.names.push_back(Names(one));
      result.model_versions.insert(one.model_version());
    }
    return result;
  }
  if (response.status().code() != absl::StatusCode::kInvalidArgument) {
    return absl::Status(response.status().code(),
                        absl::StrCat("BatchSearch for ", LineRange(begin, end),
                                     ": ", response.status().message()));
  }
  // Some line of the chunk is invalid: find which, one Search per line.
  fallbacks_.fetch_add(1);
  return RunChunkLineByLine(begin, end);
}

absl::StatusOr<ChunkResult> Runner::RunChunkLineByLine(int64_t begin,
                                                       int64_t end) {
  ChunkResult result;
  for (int64_t line = begin; line < end; ++line) {
    CallStats stats;
    absl::StatusOr<retrieval::v1::SearchResponse> one =
        client_.Search(MakeRequest(line), options_.call, &stats);
    retries_.fetch_add(stats.attempts - 1);
    if (one.ok()) {
      result.names.push_back(Names(*one));
      result.model_versions.insert(one->model_version());
    } else if (one.status().code() == absl::StatusCode::kInvalidArgument) {
      result.names.emplace_back();
      result.failures.push_back(
          {static_cast<int>(line + 1), std::string(one.status().message())});
    } else {
      return absl::Status(one.status().code(),
                          absl::StrCat("Search for ", LineRange(line, line + 1),
                                       ": ", one.status().message()));
    }
  }
  return result;
}

}  // namespace batch_internal
}  // namespace client
