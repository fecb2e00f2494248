#include "client/batch_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/batch_journal.h"
#include "client/batch_runner.h"
#include "common/file_util.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "eval/labels.h"
#include "eval/submission.h"

namespace client {
namespace {

using batch_internal::ChunkResult;
using batch_internal::DumpLine;
using batch_internal::ErrnoError;
using batch_internal::FileExists;
using batch_internal::HeaderToJson;
using batch_internal::JournalHeader;
using batch_internal::JournalWriter;
using batch_internal::LoadJournal;
using batch_internal::ProgressReporter;
using batch_internal::Runner;

std::string Plural(int64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

JournalHeader MakeJournalHeader(const BatchClientOptions& options,
                                const std::string& queries_contents,
                                int64_t num_queries) {
  JournalHeader header;
  header.queries_sha256 = common::Sha256Hex(queries_contents);
  header.num_queries = num_queries;
  header.chunk_size = options.chunk_size;
  header.top_k = options.top_k;
  header.category = CategoryName(options.category);
  return header;
}

// Opens the run's journal: with `resume`, loads the chunks it holds into
// `chunks` and drops a torn last line; without it, creates it with the
// header line (FAILED_PRECONDITION if one exists).
absl::Status OpenJournal(const BatchClientOptions& options,
                         const JournalHeader& header,
                         const std::string& journal_path,
                         std::vector<ChunkResult>* chunks,
                         JournalWriter* journal) {
  if (FileExists(journal_path)) {
    if (!options.resume) {
      return absl::FailedPreconditionError(
          absl::StrCat("a journal of an unfinished run exists: ", journal_path,
                       "; resume it (--resume) or delete it to start over"));
    }
    ASSIGN_OR_RETURN(const int64_t valid_bytes,
                     LoadJournal(journal_path, header, chunks));
    return journal->Open(journal_path, valid_bytes);
  }
  RETURN_IF_ERROR(common::WriteFileAtomically(
      journal_path, DumpLine(HeaderToJson(header, options.queries_path))));
  return journal->Open(journal_path, -1);
}

// The chunks still to send; counts those taken from the journal in
// `summary`.
std::vector<int64_t> PendingChunks(const std::vector<ChunkResult>& chunks,
                                   BatchClientSummary* summary) {
  std::vector<int64_t> pending;
  int64_t resumed_queries = 0;
  for (int64_t chunk = 0; chunk < static_cast<int64_t>(chunks.size());
       ++chunk) {
    if (chunks[chunk].done) {
      ++summary->chunks_resumed;
      resumed_queries += static_cast<int64_t>(chunks[chunk].names.size());
    } else {
      pending.push_back(chunk);
    }
  }
  summary->queries_resumed = resumed_queries;
  return pending;
}

// Fills `summary` from the runner's counters and the finished chunks.
void Summarise(const Runner& runner, const std::vector<ChunkResult>& chunks,
               BatchClientSummary* summary) {
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
}

// Whether the run may write its output: the runner's error, CANCELLED or
// ABORTED for a run that stopped early, INVALID_ARGUMENT for rejected lines
// (without allow_failures); each says what the journal holds.
absl::Status CheckRunComplete(const BatchClientOptions& options,
                              const Runner& runner,
                              const BatchClientSummary& summary,
                              const std::string& journal_path) {
  const std::string saved = absl::StrCat(
      summary.chunks_done, " of ", Plural(summary.chunks, "chunk", "chunks"),
      " are saved in ", journal_path, "; rerun with --resume to continue");
  absl::Status error = runner.error();
  if (!error.ok()) {
    return absl::Status(error.code(),
                        absl::StrCat(error.message(), " (", saved, ")"));
  }
  if (summary.chunks_done < summary.chunks) {
    if (runner.cancelled()) {
      return absl::CancelledError(absl::StrCat("interrupted; ", saved));
    }
    return absl::AbortedError(absl::StrCat(
        "stopped after ", Plural(options.max_chunks, "chunk", "chunks"),
        " as asked; ", saved));
  }
  if (!summary.failures.empty() && !options.allow_failures) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the server rejected ",
        Plural(summary.failures.size(), "line", "lines"),
        " (the first: ", options.queries_path, ":", summary.failures[0].line,
        ": ", summary.failures[0].message,
        "); no output written; fix the lines, or rerun with --resume "
        "--allow_failures to write empty lists for them (all answers are "
        "saved in ",
        journal_path, ")"));
  }
  return absl::OkStatus();
}

// The submission: every chunk's lists, in line order.
eval::Submission MakeSubmission(const std::vector<std::string>& queries,
                                const std::vector<ChunkResult>& chunks) {
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
  return submission;
}

// Runs the pending chunks and writes the output (see RunBatchClient); the
// journal is open.
absl::Status RunAndWrite(const BatchClientOptions& options,
                         const RetrievalClient& client,
                         const std::vector<std::string>& queries,
                         const std::string& journal_path,
                         std::vector<ChunkResult>* chunks,
                         JournalWriter* journal, BatchClientSummary* summary) {
  const std::vector<int64_t> pending = PendingChunks(*chunks, summary);
  ProgressReporter progress(options, summary->queries,
                            summary->queries_resumed);
  Runner runner(options, client, queries, chunks, journal, &progress);
  runner.Run(pending);
  progress.Stop();

  Summarise(runner, *chunks, summary);
  RETURN_IF_ERROR(CheckRunComplete(options, runner, *summary, journal_path));
  RETURN_IF_ERROR(eval::WriteSubmission(options.output_path,
                                        MakeSubmission(queries, *chunks)));
  summary->output_written = true;
  if (::unlink(journal_path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("delete the finished journal", journal_path);
  }
  return absl::OkStatus();
}

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
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk size must be in [1, ", kMaxChunkSize,
        "] (the API's limit per BatchSearch), got ", options.chunk_size));
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

  const JournalHeader header =
      MakeJournalHeader(options, contents, num_queries);
  const std::string journal_path = JournalPathFor(options.output_path);
  std::vector<ChunkResult> chunks(num_chunks);
  JournalWriter journal;
  RETURN_IF_ERROR(
      OpenJournal(options, header, journal_path, &chunks, &journal));

  // From here on `seconds` is set however the run ends.
  const absl::Status status = RunAndWrite(
      options, client, queries, journal_path, &chunks, &journal, summary);
  summary->seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return status;
}

}  // namespace client
