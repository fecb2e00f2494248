#include "client/batch_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "eval/labels.h"
#include "eval/submission.h"
#include "nlohmann/json.hpp"

namespace client {
namespace {

using Json = nlohmann::json;

constexpr char kJournalFormat[] = "retrieval.batch_client.journal";
constexpr int kJournalVersion = 1;

// The result of one chunk.
struct ChunkResult {
  bool done = false;
  std::vector<std::vector<std::string>> names;  // one per line of the chunk
  std::vector<LineFailure> failures;
  std::set<int64_t> model_versions;
};

// Everything that identifies a run's input: a journal is reusable only by a
// run with the same header.
struct JournalHeader {
  std::string queries_sha256;
  int64_t num_queries = 0;
  int chunk_size = 0;
  int top_k = 0;
  std::string category;
};

Json HeaderToJson(const JournalHeader& header, const std::string& queries) {
  return Json{{"format", kJournalFormat},
              {"version", kJournalVersion},
              {"queries_file", queries},
              {"queries_sha256", header.queries_sha256},
              {"num_queries", header.num_queries},
              {"chunk_size", header.chunk_size},
              {"top_k", header.top_k},
              {"category", header.category}};
}

std::string DumpLine(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Json ChunkToJson(int64_t chunk, const ChunkResult& result) {
  Json failures = Json::array();
  for (const LineFailure& failure : result.failures) {
    failures.push_back({{"line", failure.line}, {"message", failure.message}});
  }
  return Json{{"chunk", chunk},
              {"model_versions", result.model_versions},
              {"names", result.names},
              {"failures", failures}};
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  return absl::Status(
      err == ENOSPC ? absl::StatusCode::kResourceExhausted
                    : absl::StatusCode::kInternal,
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(err)));
}

// Appends whole lines to the journal, each followed by fdatasync.
class JournalWriter {
 public:
  ~JournalWriter() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Opens `path` for appending after truncating it to `keep_bytes` (drops a
  // torn last line); keep_bytes < 0 keeps everything.
  absl::Status Open(const std::string& path, int64_t keep_bytes) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) return ErrnoError("open the journal", path);
    if (keep_bytes >= 0 && ::ftruncate(fd_, keep_bytes) != 0) {
      return ErrnoError("truncate the journal", path);
    }
    return absl::OkStatus();
  }

  absl::Status Append(const std::string& line) {
    absl::MutexLock lock(&mu_);
    size_t written = 0;
    while (written < line.size()) {
      const ssize_t n =
          ::write(fd_, line.data() + written, line.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("append to the journal", path_);
      }
      written += static_cast<size_t>(n);
    }
    if (::fdatasync(fd_) != 0) return ErrnoError("sync the journal", path_);
    return absl::OkStatus();
  }

 private:
  absl::Mutex mu_;
  int fd_ = -1;
  std::string path_;
};

bool FileExists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// Lines [begin, end) (0-based) of chunk `chunk`.
std::pair<int64_t, int64_t> ChunkRange(int64_t chunk, int chunk_size,
                                       int64_t num_queries) {
  const int64_t begin = chunk * chunk_size;
  return {begin, std::min<int64_t>(begin + chunk_size, num_queries)};
}

absl::Status Mismatch(const std::string& journal, absl::string_view what,
                      const std::string& was, const std::string& now,
                      absl::string_view fix) {
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot resume from ", journal, ": it was written for ", what, " ", was,
      " but this run has ", now, "; ", fix, " or delete the journal to start "
      "over"));
}

// Parses the journal into `chunks` (indexed by chunk). Returns the byte
// length of the journal's valid prefix: everything but a torn last line.
absl::StatusOr<int64_t> LoadJournal(const std::string& path,
                                    const JournalHeader& expected,
                                    std::vector<ChunkResult>* chunks) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  std::vector<absl::string_view> lines;
  size_t start = 0;
  int64_t valid_bytes = 0;
  while (start < contents.size()) {
    const size_t end = contents.find('\n', start);
    if (end == std::string::npos) break;  // torn last line: no line end
    lines.push_back(absl::string_view(contents).substr(start, end - start));
    start = end + 1;
    valid_bytes = static_cast<int64_t>(start);
  }
  if (lines.empty()) {
    return absl::DataLossError(
        absl::StrCat(path, ": the journal has no header line"));
  }
  const Json header = Json::parse(lines[0], nullptr, false);
  auto field = [&](const char* key) -> const Json* {
    if (!header.is_object() || !header.contains(key)) return nullptr;
    return &header[key];
  };
  const Json* format = field("format");
  const Json* version = field("version");
  if (header.is_discarded() || format == nullptr || !format->is_string() ||
      *format != kJournalFormat || version == nullptr ||
      !version->is_number_integer()) {
    return absl::DataLossError(absl::StrCat(
        path, ":1: not a batch_client journal header"));
  }
  if (*version != kJournalVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ":1: journal version ", version->dump(),
                     " is not supported (expected ", kJournalVersion, ")"));
  }
  const Json* sha = field("queries_sha256");
  const Json* num = field("num_queries");
  const Json* chunk_size = field("chunk_size");
  const Json* top_k = field("top_k");
  const Json* category = field("category");
  if (sha == nullptr || !sha->is_string() || num == nullptr ||
      !num->is_number_integer() || chunk_size == nullptr ||
      !chunk_size->is_number_integer() || top_k == nullptr ||
      !top_k->is_number_integer() || category == nullptr ||
      !category->is_string()) {
    return absl::DataLossError(absl::StrCat(
        path, ":1: the journal header lacks a field (queries_sha256, "
              "num_queries, chunk_size, top_k or category)"));
  }
  if (sha->get<std::string>() != expected.queries_sha256 ||
      num->get<int64_t>() != expected.num_queries) {
    return Mismatch(
        path, "a queries file with",
        absl::StrCat(num->get<int64_t>(), " lines and SHA-256 ",
                     sha->get<std::string>()),
        absl::StrCat(expected.num_queries, " lines and SHA-256 ",
                     expected.queries_sha256),
        "restore the original queries file");
  }
  if (chunk_size->get<int64_t>() != expected.chunk_size) {
    return Mismatch(path, "chunk size", chunk_size->dump(),
                    absl::StrCat(expected.chunk_size),
                    absl::StrCat("rerun with --chunk_size=", chunk_size->dump()));
  }
  if (top_k->get<int64_t>() != expected.top_k) {
    return Mismatch(path, "top_k", top_k->dump(), absl::StrCat(expected.top_k),
                    absl::StrCat("rerun with --top_k=", top_k->dump()));
  }
  if (category->get<std::string>() != expected.category) {
    return Mismatch(path, "category", category->get<std::string>(),
                    expected.category,
                    absl::StrCat("rerun with --category=",
                                 category->get<std::string>()));
  }

  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string where = absl::StrCat(path, ":", i + 1, ": ");
    const Json entry = Json::parse(lines[i], nullptr, false);
    if (entry.is_discarded() || !entry.is_object()) {
      return absl::DataLossError(absl::StrCat(where, "not a JSON object"));
    }
    if (!entry.contains("chunk") || !entry["chunk"].is_number_integer()) {
      return absl::DataLossError(absl::StrCat(where, "no integer \"chunk\""));
    }
    const int64_t chunk = entry["chunk"].get<int64_t>();
    if (chunk < 0 || chunk >= static_cast<int64_t>(chunks->size())) {
      return absl::DataLossError(absl::StrCat(
          where, "chunk ", chunk, " is outside [0, ", chunks->size(), ")"));
    }
    ChunkResult& result = (*chunks)[chunk];
    if (result.done) {
      return absl::DataLossError(
          absl::StrCat(where, "chunk ", chunk, " appears twice"));
    }
    const auto [begin, end] =
        ChunkRange(chunk, expected.chunk_size, expected.num_queries);
    const Json& names = entry.contains("names") ? entry["names"] : Json();
    if (!names.is_array() || static_cast<int64_t>(names.size()) != end - begin) {
      return absl::DataLossError(absl::StrCat(
          where, "chunk ", chunk, " needs \"names\" with ", end - begin,
          " lists"));
    }
    for (const Json& list : names) {
      if (!list.is_array()) {
        return absl::DataLossError(
            absl::StrCat(where, "\"names\" holds a non-list"));
      }
      std::vector<std::string> one;
      for (const Json& name : list) {
        if (!name.is_string()) {
          return absl::DataLossError(
              absl::StrCat(where, "\"names\" holds a non-string"));
        }
        one.push_back(name.get<std::string>());
      }
      result.names.push_back(std::move(one));
    }
    if (entry.contains("model_versions") &&
        entry["model_versions"].is_array()) {
      for (const Json& v : entry["model_versions"]) {
        if (v.is_number_integer()) result.model_versions.insert(v.get<int64_t>());
      }
    }
    if (entry.contains("failures")) {
      const Json& failures = entry["failures"];
      if (!failures.is_array()) {
        return absl::DataLossError(
            absl::StrCat(where, "\"failures\" is not a list"));
      }
      for (const Json& failure : failures) {
        if (!failure.is_object() || !failure.contains("line") ||
            !failure["line"].is_number_integer() ||
            !failure.contains("message") || !failure["message"].is_string()) {
          return absl::DataLossError(
              absl::StrCat(where, "malformed entry in \"failures\""));
        }
        const int64_t line = failure["line"].get<int64_t>();
        if (line <= begin || line > end) {
          return absl::DataLossError(absl::StrCat(
              where, "failure line ", line, " is outside chunk ", chunk));
        }
        result.failures.push_back(
            {static_cast<int>(line), failure["message"].get<std::string>()});
      }
    }
    result.done = true;
  }
  return valid_bytes;
}

std::string Plural(int64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// Reports progress from a thread of its own until Stop().
class ProgressReporter {
 public:
  ProgressReporter(const BatchClientOptions& options, int64_t total,
                   int64_t already_done)
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

  ~ProgressReporter() { Stop(); }

  void Add(int64_t queries) { done_this_run_.fetch_add(queries); }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
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

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stopped_), interval_)) {
      Print();
    }
  }

  void Print() {
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

  std::FILE* const stream_;
  const bool bar_;
  const absl::Duration interval_;
  const int64_t total_;
  const int64_t already_done_;
  const absl::Time start_;
  std::atomic<int64_t> done_this_run_{0};
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Shared state of one run's worker threads.
class Runner {
 public:
  Runner(const BatchClientOptions& options, const RetrievalClient& client,
         const std::vector<std::string>& queries,
         std::vector<ChunkResult>* chunks, JournalWriter* journal,
         ProgressReporter* progress)
      : options_(options),
        client_(client),
        queries_(queries),
        chunks_(*chunks),
        journal_(*journal),
        progress_(*progress) {}

  // Runs `pending` chunks on options.concurrency threads.
  void Run(const std::vector<int64_t>& pending) {
    pending_ = &pending;
    const int threads = static_cast<int>(std::min<int64_t>(
        options_.concurrency, static_cast<int64_t>(pending.size())));
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
      workers.emplace_back([this] { Work(); });
    }
    for (std::thread& worker : workers) worker.join();
  }

  absl::Status error() const {
    absl::MutexLock lock(&mu_);
    return error_;
  }
  bool limit_reached() const { return limit_reached_.load(); }
  bool cancelled() const { return cancelled_.load(); }
  int64_t retries() const { return retries_.load(); }
  int64_t fallbacks() const { return fallbacks_.load(); }
  int64_t queries_this_run() const { return queries_this_run_.load(); }

 private:
  void Work() {
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

  void Fail(absl::Status status) {
    stop_.store(true);
    absl::MutexLock lock(&mu_);
    if (error_.ok()) error_ = std::move(status);
  }

  retrieval::v1::SearchRequest MakeRequest(int64_t line) const {
    retrieval::v1::SearchRequest request;
    request.set_text(queries_[line]);
    request.set_top_k(options_.top_k);
    request.set_category(options_.category);
    return request;
  }

  static std::vector<std::string> Names(
      const retrieval::v1::SearchResponse& response) {
    std::vector<std::string> names;
    names.reserve(response.hits_size());
    for (const retrieval::v1::Hit& hit : response.hits()) {
      names.push_back(hit.image_name());
    }
    return names;
  }

  std::string LineRange(int64_t begin, int64_t end) const {
    return end - begin == 1
               ? absl::StrCat(options_.queries_path, ":", begin + 1)
               : absl::StrCat(options_.queries_path, ":", begin + 1, "-", end);
  }

  absl::StatusOr<ChunkResult> RunChunk(int64_t chunk) {
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
    ChunkResult result;
    if (response.ok()) {
      if (response->responses_size() != end - begin) {
        return absl::InternalError(absl::StrCat(
            "BatchSearch for ", LineRange(begin, end), ": the server sent ",
            response->responses_size(), " responses for ", end - begin,
            " requests"));
      }
      for (const retrieval::v1::SearchResponse& one : response->responses()) {
        result.names.push_back(Names(one));
        result.model_versions.insert(one.model_version());
      }
      return result;
    }
    if (response.status().code() != absl::StatusCode::kInvalidArgument) {
      return absl::Status(
          response.status().code(),
          absl::StrCat("BatchSearch for ", LineRange(begin, end), ": ",
                       response.status().message()));
    }
    // Some line of the chunk is invalid: find which, one Search per line.
    fallbacks_.fetch_add(1);
    for (int64_t line = begin; line < end; ++line) {
      absl::StatusOr<retrieval::v1::SearchResponse> one =
          client_.Search(MakeRequest(line), options_.call, &stats);
      retries_.fetch_add(stats.attempts - 1);
      if (one.ok()) {
        result.names.push_back(Names(*one));
        result.model_versions.insert(one->model_version());
      } else if (one.status().code() == absl::StatusCode::kInvalidArgument) {
        result.names.emplace_back();
        result.failures.push_back({static_cast<int>(line + 1),
                                   std::string(one.status().message())});
      } else {
        return absl::Status(one.status().code(),
                            absl::StrCat("Search for ", LineRange(line, line + 1),
                                         ": ", one.status().message()));
      }
    }
    return result;
  }

  const BatchClientOptions& options_;
  const RetrievalClient& client_;
  const std::vector<std::string>& queries_;
  std::vector<ChunkResult>& chunks_;
  JournalWriter& journal_;
  ProgressReporter& progress_;
  const std::vector<int64_t>* pending_ = nullptr;

  std::atomic<int64_t> next_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> limit_reached_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> fallbacks_{0};
  std::atomic<int64_t> queries_this_run_{0};
  mutable absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::string JournalPathFor(const std::string& output_path) {
  return output_path + ".partial.jsonl";
}

absl::Status ValidateBatchClientOptions(const BatchClientOptions& options) {
  if (options.queries_path.empty()) {
    return absl::InvalidArgumentError("the queries file is not set");
  }
  if (options.output_path.empty()) {
    return absl::InvalidArgumentError("the output file is not set");
  }
  if (options.top_k < 1 || options.top_k > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be in [1, 1000], got ", options.top_k));
  }
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency must be >= 1, got ", options.concurrency));
  }
  if (options.chunk_size < 1 || options.chunk_size > kMaxChunkSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be in [1, ", kMaxChunkSize,
                     "] (the API's limit per BatchSearch), got ",
                     options.chunk_size));
  }
  if (options.call.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the deadline must be positive, got ",
                     absl::FormatDuration(options.call.deadline)));
  }
  if (options.max_chunks < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_chunks must be >= 0, got ", options.max_chunks));
  }
  return ValidateRetryPolicy(options.call.retry);
}

absl::Status RunBatchClient(const BatchClientOptions& options,
                            const RetrievalClient& client,
                            BatchClientSummary* summary) {
  *summary = BatchClientSummary();
  const absl::Time start = absl::Now();
  auto finish = [&](absl::Status status) {
    summary->seconds = absl::ToDoubleSeconds(absl::Now() - start);
    return status;
  };
  RETURN_IF_ERROR(ValidateBatchClientOptions(options));

  ASSIGN_OR_RETURN(const std::string contents,
                   common::ReadFile(options.queries_path));
  ASSIGN_OR_RETURN(const std::vector<std::string> queries,
                   eval::ParseQueries(contents, options.queries_path));
  const int64_t num_queries = static_cast<int64_t>(queries.size());
  const int64_t num_chunks =
      (num_queries + options.chunk_size - 1) / options.chunk_size;
  summary->queries = num_queries;
  summary->chunks = num_chunks;

  JournalHeader header;
  header.queries_sha256 = common::Sha256Hex(contents);
  header.num_queries = num_queries;
  header.chunk_size = options.chunk_size;
  header.top_k = options.top_k;
  header.category = CategoryName(options.category);

  const std::string journal_path = JournalPathFor(options.output_path);
  std::vector<ChunkResult> chunks(num_chunks);
  JournalWriter journal;
  if (FileExists(journal_path)) {
    if (!options.resume) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a journal of an unfinished run exists: ", journal_path,
          "; resume it (--resume) or delete it to start over"));
    }
    ASSIGN_OR_RETURN(const int64_t valid_bytes,
                     LoadJournal(journal_path, header, &chunks));
    RETURN_IF_ERROR(journal.Open(journal_path, valid_bytes));
  } else {
    RETURN_IF_ERROR(common::WriteFileAtomically(
        journal_path,
        DumpLine(HeaderToJson(header, options.queries_path))));
    RETURN_IF_ERROR(journal.Open(journal_path, -1));
  }

  std::vector<int64_t> pending;
  int64_t resumed_queries = 0;
  for (int64_t chunk = 0; chunk < num_chunks; ++chunk) {
    if (chunks[chunk].done) {
      ++summary->chunks_resumed;
      resumed_queries += static_cast<int64_t>(chunks[chunk].names.size());
    } else {
      pending.push_back(chunk);
    }
  }

  summary->queries_resumed = resumed_queries;
  ProgressReporter progress(options, num_queries, resumed_queries);
  Runner runner(options, client, queries, &chunks, &journal, &progress);
  runner.Run(pending);
  progress.Stop();

  summary->queries_this_run = runner.queries_this_run();
  summary->retries = runner.retries();
  summary->chunks_with_fallback = runner.fallbacks();
  std::set<int64_t> versions;
  for (const ChunkResult& chunk : chunks) {
    if (!chunk.done) continue;
    ++summary->chunks_done;
    versions.insert(chunk.model_versions.begin(), chunk.model_versions.end());
    summary->failures.insert(summary->failures.end(), chunk.failures.begin(),
                             chunk.failures.end());
  }
  summary->model_versions.assign(versions.begin(), versions.end());
  std::sort(summary->failures.begin(), summary->failures.end(),
            [](const LineFailure& a, const LineFailure& b) {
              return a.line < b.line;
            });

  const std::string saved = absl::StrCat(
      summary->chunks_done, " of ", Plural(num_chunks, "chunk", "chunks"),
      " are saved in ", journal_path, "; rerun with --resume to continue");
  absl::Status error = runner.error();
  if (!error.ok()) {
    return finish(absl::Status(error.code(),
                               absl::StrCat(error.message(), " (", saved, ")")));
  }
  if (summary->chunks_done < num_chunks) {
    if (runner.cancelled()) {
      return finish(absl::CancelledError(absl::StrCat("interrupted; ", saved)));
    }
    return finish(absl::AbortedError(absl::StrCat(
        "stopped after ", Plural(options.max_chunks, "chunk", "chunks"),
        " as asked; ", saved)));
  }
  if (!summary->failures.empty() && !options.allow_failures) {
    return finish(absl::InvalidArgumentError(absl::StrCat(
        "the server rejected ", Plural(summary->failures.size(), "line", "lines"),
        " (the first: ", options.queries_path, ":", summary->failures[0].line,
        ": ", summary->failures[0].message,
        "); no output written; fix the lines, or rerun with --resume "
        "--allow_failures to write empty lists for them (all answers are "
        "saved in ", journal_path, ")")));
  }

  eval::Submission submission;
  submission.results.reserve(queries.size());
  for (const ChunkResult& chunk : chunks) {
    for (const std::vector<std::string>& names : chunk.names) {
      eval::SubmissionEntry entry;
      entry.text = queries[submission.results.size()];
      entry.image_names = names;
      submission.results.push_back(std::move(entry));
    }
  }
  RETURN_IF_ERROR(finish(eval::WriteSubmission(options.output_path, submission)));
  summary->output_written = true;
  if (::unlink(journal_path.c_str()) != 0 && errno != ENOENT) {
    return finish(ErrnoError("delete the finished journal", journal_path));
  }
  return finish(absl::OkStatus());
}

std::string DescribeModelVersions(const std::vector<int64_t>& versions) {
  if (versions.empty()) return "no model version: no query was sent";
  return absl::StrCat(versions.size() == 1 ? "model version " : "model versions ",
                      absl::StrJoin(versions, ", "));
}

std::string DescribeWrittenOutput(const BatchClientOptions& options,
                                  const BatchClientSummary& summary) {
  if (summary.queries == 0) {
    return absl::StrCat("wrote ", options.output_path,
                        ": an empty submission, since ", options.queries_path,
                        " holds no queries (nothing was sent)");
  }
  return absl::StrCat("wrote ", options.output_path, " (",
                      DescribeModelVersions(summary.model_versions), ")");
}

std::string FormatEta(int64_t seconds) {
  seconds = std::max<int64_t>(seconds, 0);
  const int64_t h = seconds / 3600;
  const int64_t m = (seconds / 60) % 60;
  const int64_t s = seconds % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, s);
  return absl::StrFormat("%d:%02d", m, s);
}

std::string FormatProgress(int64_t done, int64_t total, int64_t done_this_run,
                           double elapsed_s, bool bar) {
  const double fraction =
      total > 0 ? std::min(1.0, static_cast<double>(done) / total) : 1.0;
  const double rate = elapsed_s > 0 && done_this_run > 0
                          ? static_cast<double>(done_this_run) / elapsed_s
                          : 0.0;
  std::string eta = "--";
  if (done >= total) {
    eta = FormatEta(0);
  } else if (rate > 0) {
    eta = FormatEta(
        static_cast<int64_t>(std::ceil(static_cast<double>(total - done) / rate)));
  }
  if (bar) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string cells(kWidth, ' ');
    for (int i = 0; i < filled; ++i) cells[i] = '=';
    if (filled < kWidth) cells[filled] = '>';
    return absl::StrFormat("[%s] %5.1f%% %d/%d queries  %.1f q/s  ETA %s",
                           cells, 100.0 * fraction, done, total, rate, eta);
  }
  return absl::StrFormat("%d/%d queries (%.1f%%), %.1f queries/s, ETA %s", done,
                         total, 100.0 * fraction, rate, eta);
}

}  // namespace client
