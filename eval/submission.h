// The competition's submission JSON and the official scorer's ground-truth
// file.
//
// Submission (UTF-8 JSON):
//   {"results": [{"text": "<query>", "image_names": ["a.jpg", ...]}, ...]}
// one entry per query, in the order of test_text.txt, with 10 names each.
// Ground truth (text, one line per query, same order):
//   <text>$<image>$<image>$...
// A query without relevant images is a line holding only its text.
//
// Writers are atomic (common::WriteFileAtomically). Readers name the file
// and the entry (results[i]...) or line in every error. Plain functions over
// values; thread-compatible.
#ifndef EVAL_SUBMISSION_H_
#define EVAL_SUBMISSION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace eval {

struct SubmissionEntry {
  std::string text;                      // the query, UTF-8
  std::vector<std::string> image_names;  // ranked, best first
};

struct Submission {
  std::vector<SubmissionEntry> results;
};

// Parses submission JSON. Keys other than "results", "text" and
// "image_names" are ignored. INVALID_ARGUMENT "<source>: ..." for JSON
// syntax errors (with the byte position) including invalid UTF-8, a missing
// or mistyped "results", "text" or "image_names" (naming results[i]), and an
// empty image name. The number of names is not checked here.
absl::StatusOr<Submission> ParseSubmission(absl::string_view json,
                                           absl::string_view source);

// ReadFile + ParseSubmission with `path` as the source.
absl::StatusOr<Submission> ReadSubmission(const std::string& path);

// Serialises `submission` (4-space indent, UTF-8 kept as is, no ASCII
// escaping). INVALID_ARGUMENT naming results[i] when a text or name is not
// valid UTF-8.
absl::StatusOr<std::string> SubmissionToJson(const Submission& submission);

// SubmissionToJson + atomic write.
absl::Status WriteSubmission(const std::string& path,
                             const Submission& submission);

// One line of the official ground-truth file.
// How alike two rankings of the same queries are: the share of the names in
// a's top-k lists that are also in b's top-k list of the same query
// (order inside the top k ignored). INVALID_ARGUMENT when the two do not
// hold the same texts in the same order. 1 when there are no names.
absl::StatusOr<double> TopKOverlap(const Submission& a, const Submission& b,
                                   int k);

struct GroundTruthEntry {
  std::string text;
  std::vector<std::string> relevant_images;
};

// Parses ground-truth contents: field 1 is the text, the other
// '$'-separated fields the relevant images. Lines are split as
// SplitLines does (BOM, CRLF, final line end), and texts are kept
// byte-identical (the official scorer also strips surrounding whitespace;
// this reader does not). An empty line is a query with empty text and no
// relevant images. INVALID_ARGUMENT "<source>:<line>: ..." for an empty image
// name or invalid UTF-8.
absl::StatusOr<std::vector<GroundTruthEntry>> ParseGroundTruth(
    absl::string_view contents, absl::string_view source);

// ReadFile + ParseGroundTruth with `path` as the source.
absl::StatusOr<std::vector<GroundTruthEntry>> ReadGroundTruth(
    const std::string& path);

// Formats entries, one line each, "\n"-terminated. INVALID_ARGUMENT naming
// the entry for anything the format cannot carry: '$', '\n' or '\r' in a text
// or name, a byte order mark at the start of the first text, an empty image
// name, invalid UTF-8.
absl::StatusOr<std::string> FormatGroundTruth(
    const std::vector<GroundTruthEntry>& entries);

// FormatGroundTruth + atomic write.
absl::Status WriteGroundTruth(const std::string& path,
                              const std::vector<GroundTruthEntry>& entries);

}  // namespace eval

#endif  // EVAL_SUBMISSION_H_
