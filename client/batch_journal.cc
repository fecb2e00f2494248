#include "client/batch_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace client {
namespace batch_internal {
namespace {

constexpr char kJournalFormat[] = "retrieval.batch_client.journal";
constexpr int kJournalVersion = 1;

// The header fields that a journal must match, as written in it.
struct StoredHeader {
  Json queries_sha256;
  Json num_queries;
  Json chunk_size;
  Json top_k;
  Json category;
};

absl::Status Mismatch(const std::string& journal, absl::string_view what,
                      const std::string& was, const std::string& now,
                      absl::string_view fix) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot resume from ", journal, ": it was written for ",
                   what, " ", was, " but this run has ", now, "; ", fix,
                   " or delete the journal to start "
                   "over"));
}

// The complete lines of `contents` (without their '\n'); `valid_bytes` gets
// the length of the prefix they cover, which leaves out a torn last line.
std::vector<absl::string_view> CompleteLines(const std::string& contents,
                                             int64_t* valid_bytes) {
  std::vector<absl::string_view> lines;
  size_t start = 0;
  *valid_bytes = 0;
  while (start < contents.size()) {
    const size_t end = contents.find('\n', start);
    if (end == std::string::npos) break;  // torn last line: no line end
    lines.push_back(absl::string_view(contents).substr(start, end - start));
    start = end + 1;
    *valid_bytes = static_cast<int64_t>(start);
  }
  return lines;
}

// Parses line 1: the format, the version and the fields that must match.
absl::StatusOr<StoredHeader> ParseHeaderLine(const std::string& path,
                                             absl::string_view line) {
  const Json header = Json::parse(line, nullptr, false);
  auto field = [&](const char* key) -> const Json* {
    if (!header.is_object() || !header.contains(key)) return nullptr;
    return &header[key];
  };
  const Json* format = field("format");
  const Json* version = field("version");
  if (header.is_discarded() || format == nullptr || !format->is_string() ||
      *format != kJournalFormat || version == nullptr ||
      !version->is_number_integer()) {
    return absl::DataLossError(
        absl::StrCat(path, ":1: not a batch_client journal header"));
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
    return absl::DataLossError(
        absl::StrCat(path,
                     ":1: the journal header lacks a field (queries_sha256, "
                     "num_queries, chunk_size, top_k or category)"));
  }
  return StoredHeader{*sha, *num, *chunk_size, *top_k, *category};
}

// FAILED_PRECONDITION naming the first field of `stored` that differs from
// `expected`, and how to rerun.
absl::Status CheckHeaderMatches(const std::string& path,
                                const StoredHeader& stored,
                                const JournalHeader& expected) {
  const std::string sha = stored.queries_sha256.get<std::string>();
  const int64_t num = stored.num_queries.get<int64_t>();
  if (sha != expected.queries_sha256 || num != expected.num_queries) {
    return Mismatch(path, "a queries file with",
                    absl::StrCat(num, " lines and SHA-256 ", sha),
                    absl::StrCat(expected.num_queries, " lines and SHA-256 ",
                                 expected.queries_sha256),
                    "restore the original queries file");
  }
  if (stored.chunk_size.get<int64_t>() != expected.chunk_size) {
    return Mismatch(
        path, "chunk size", stored.chunk_size.dump(),
        absl::StrCat(expected.chunk_size),
        absl::StrCat("rerun with --chunk_size=", stored.chunk_size.dump()));
  }
  if (stored.top_k.get<int64_t>() != expected.top_k) {
    return Mismatch(path, "top_k", stored.top_k.dump(),
                    absl::StrCat(expected.top_k),
                    absl::StrCat("rerun with --top_k=", stored.top_k.dump()));
  }
  const std::string category = stored.category.get<std::string>();
  if (category != expected.category) {
    return Mismatch(path, "category", category, expected.category,
                    absl::StrCat("rerun with --category=", category));
  }
  return absl::OkStatus();
}

// Reads the entry's "names": one list of strings per line of the chunk.
absl::Status ParseNames(const std::string& where, const Json& entry,
                        int64_t chunk, int64_t num_lines, ChunkResult* result) {
  const Json& names = entry.contains("names") ? entry["names"] : Json();
  if (!names.is_array() || static_cast<int64_t>(names.size()) != num_lines) {
    return absl::DataLossError(absl::StrCat(
        where, "chunk ", chunk, " needs \"names\" with ", num_lines, " lists"));
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
    result->names.push_back(std::move(one));
  }
  return absl::OkStatus();
}

// Reads the entry's optional "failures", each on a line of the chunk's
// lines (begin, end] (1-based).
absl::Status ParseFailures(const std::string& where, const Json& entry,
                           int64_t chunk, int64_t begin, int64_t end,
                           ChunkResult* result) {
  if (!entry.contains("failures")) return absl::OkStatus();
  const Json& failures = entry["failures"];
  if (!failures.is_array()) {
    return absl::DataLossError(
        absl::StrCat(where, "\"failures\" is not a list"));
  }
  for (const Json& failure : failures) {
    if (!failure.is_object() || !failure.contains("line") ||
        !failure["line"].is_number_integer() || !failure.contains("message") ||
        !failure["message"].is_string()) {
      return absl::DataLossError(
          absl::StrCat(where, "malformed entry in \"failures\""));
    }
    const int64_t line = failure["line"].get<int64_t>();
    if (line <= begin || line > end) {
      return absl::DataLossError(absl::StrCat(where, "failure line ", line,
                                              " is outside chunk ", chunk));
    }
    result->failures.push_back(
        {static_cast<int>(line), failure["message"].get<std::string>()});
  }
  return absl::OkStatus();
}

// Reads one chunk line (line `line_number` of the journal) into `chunks`.
absl::Status ParseChunkLine(const std::string& path, size_t line_number,
                            absl::string_view line,
                            const JournalHeader& expected,
                            std::vector<ChunkResult>* chunks) {
  const std::string where = absl::StrCat(path, ":", line_number, ": ");
  const Json entry = Json::parse(line, nullptr, false);
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
  RETURN_IF_ERROR(ParseNames(where, entry, chunk, end - begin, &result));
  if (entry.contains("model_versions") && entry["model_versions"].is_array()) {
    for (const Json& v : entry["model_versions"]) {
      if (v.is_number_integer()) result.model_versions.insert(v.get<int64_t>());
    }
  }
  RETURN_IF_ERROR(ParseFailures(where, entry, chunk, begin, end, &result));
  result.done = true;
  return absl::OkStatus();
}

}  // namespace

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

bool FileExists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::pair<int64_t, int64_t> ChunkRange(int64_t chunk, int chunk_size,
                                       int64_t num_queries) {
  const int64_t begin = chunk * chunk_size;
  return {begin, std::min<int64_t>(begin + chunk_size, num_queries)};
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status JournalWriter::Open(const std::string& path, int64_t keep_bytes) {
  common::MutexLock lock(&mu_);
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return ErrnoError("open the journal", path);
  if (keep_bytes >= 0 && ::ftruncate(fd_, keep_bytes) != 0) {
    return ErrnoError("truncate the journal", path);
  }
  return absl::OkStatus();
}

absl::Status JournalWriter::Append(const std::string& line) {
  common::MutexLock lock(&mu_);
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

absl::StatusOr<int64_t> LoadJournal(const std::string& path,
                                    const JournalHeader& expected,
                                    std::vector<ChunkResult>* chunks) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  int64_t valid_bytes = 0;
  const std::vector<absl::string_view> lines =
      CompleteLines(contents, &valid_bytes);
  if (lines.empty()) {
    return absl::DataLossError(
        absl::StrCat(path, ": the journal has no header line"));
  }
  ASSIGN_OR_RETURN(const StoredHeader stored, ParseHeaderLine(path, lines[0]));
  RETURN_IF_ERROR(CheckHeaderMatches(path, stored, expected));
  for (size_t i = 1; i < lines.size(); ++i) {
    RETURN_IF_ERROR(ParseChunkLine(path, i + 1, lines[i], expected, chunks));
  }
  return valid_bytes;
}

}  // namespace batch_internal
}  // namespace client
