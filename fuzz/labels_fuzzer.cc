// Fuzzes the label and query readers (eval/labels.h).
//
// Invariants: an accepted label file is valid UTF-8 and each record has
// three non-empty fields without '$' or line ends, a category that
// ClassifyAttribute agrees with, and increasing line numbers; accepted query
// files are valid UTF-8, have one query per SplitLines line, and the queries
// written back one per line read back the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "eval/labels.h"
#include "fuzz/fuzz_check.h"

namespace {

constexpr absl::string_view kBom = "\xef\xbb\xbf";

absl::string_view WithoutBom(absl::string_view s) {
  if (absl::StartsWith(s, kBom)) s.remove_prefix(kBom.size());
  return s;
}

bool GoodField(absl::string_view f) {
  return !f.empty() && f.find_first_of("$\n") == absl::string_view::npos;
}

void CheckLabels(absl::string_view contents, bool extra) {
  eval::LabelReaderOptions options;
  options.allow_extra_fields = extra;
  auto records = eval::ParseLabels(contents, "fuzz", options);
  if (!records.ok()) {
    FUZZ_CHECK(records.status().code() == absl::StatusCode::kInvalidArgument)
        << records.status();
    FUZZ_CHECK(absl::StartsWith(records.status().message(), "fuzz:"))
        << records.status();
    return;
  }
  FUZZ_CHECK(fuzz::IsWellFormedUtf8(WithoutBom(contents)));
  const size_t num_lines = eval::SplitLines(contents).size();
  int last_line = 0;
  for (const eval::LabelRecord& r : *records) {
    FUZZ_CHECK(GoodField(r.image)) << fuzz::Escaped(r.image);
    FUZZ_CHECK(GoodField(r.attribute)) << fuzz::Escaped(r.attribute);
    FUZZ_CHECK(GoodField(r.text)) << fuzz::Escaped(r.text);
    FUZZ_CHECK(r.line > last_line && static_cast<size_t>(r.line) <= num_lines)
        << r.line;
    last_line = r.line;
    if (!extra) {
      FUZZ_CHECK(r.extra_fields.empty());
    }
    for (const std::string& f : r.extra_fields) {
      FUZZ_CHECK(f.find('\n') == std::string::npos) << fuzz::Escaped(f);
    }
    auto category = eval::ClassifyAttribute(r.attribute);
    FUZZ_CHECK(category.ok() && *category == r.category)
        << fuzz::Escaped(r.attribute);
  }
  // The relevance structures accept whatever the reader accepted.
  const eval::RelevanceIndex index(*records,
                                   eval::Relevance::kPedestrianSubset);
  for (const eval::LabelRecord& r : *records) {
    FUZZ_CHECK(!index.RelevantImages(r.attribute).empty());
  }
  const auto groups = eval::GroupByText(*records, eval::Relevance::kExact);
  FUZZ_CHECK(groups.size() <= records->size());
}

void CheckQueries(absl::string_view contents) {
  auto queries = eval::ParseQueries(contents, "fuzz");
  if (!queries.ok()) {
    FUZZ_CHECK(queries.status().code() == absl::StatusCode::kInvalidArgument)
        << queries.status();
    FUZZ_CHECK(!fuzz::IsWellFormedUtf8(WithoutBom(contents)))
        << "valid UTF-8 refused: " << queries.status();
    return;
  }
  FUZZ_CHECK(fuzz::IsWellFormedUtf8(WithoutBom(contents)));
  FUZZ_CHECK(queries->size() == eval::SplitLines(contents).size());
  // Written back one per line they read back the same, unless the format
  // cannot carry them: a query ending in '\r' (one "\r" before "\n" is a
  // line end) or a first query starting with a byte order mark.
  for (const std::string& q : *queries) {
    FUZZ_CHECK(q.find('\n') == std::string::npos) << fuzz::Escaped(q);
    if (absl::EndsWith(q, "\r")) return;
  }
  if (!queries->empty() && absl::StartsWith(queries->front(), kBom)) return;
  std::string written = absl::StrJoin(*queries, "\n");
  if (!queries->empty()) written += "\n";
  auto again = eval::ParseQueries(written, "written");
  FUZZ_CHECK(again.ok()) << again.status();
  FUZZ_CHECK(*again == *queries) << fuzz::Escaped(written);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view contents(reinterpret_cast<const char*>(data), size);
  CheckLabels(contents, /*extra=*/false);
  CheckLabels(contents, /*extra=*/true);
  CheckQueries(contents);
  return 0;
}
