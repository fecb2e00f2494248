// Fuzzes the submission JSON and ground-truth readers (eval/submission.h).
//
// Invariants: an accepted submission holds valid UTF-8 and non-empty image
// names, serialises, and reads back equal; accepted ground truth that
// FormatGroundTruth can carry reads back equal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "eval/submission.h"
#include "fuzz/fuzz_check.h"

namespace {

bool Equal(const eval::Submission& a, const eval::Submission& b) {
  if (a.results.size() != b.results.size()) return false;
  for (size_t i = 0; i < a.results.size(); ++i) {
    if (a.results[i].text != b.results[i].text ||
        a.results[i].image_names != b.results[i].image_names) {
      return false;
    }
  }
  return true;
}

void CheckSubmission(absl::string_view json) {
  auto submission = eval::ParseSubmission(json, "fuzz");
  if (!submission.ok()) {
    FUZZ_CHECK(submission.status().code() == absl::StatusCode::kInvalidArgument)
        << submission.status();
    FUZZ_CHECK(absl::StartsWith(submission.status().message(), "fuzz:"))
        << submission.status();
    return;
  }
  for (const eval::SubmissionEntry& e : submission->results) {
    FUZZ_CHECK(fuzz::IsWellFormedUtf8(e.text)) << fuzz::Escaped(e.text);
    for (const std::string& name : e.image_names) {
      FUZZ_CHECK(!name.empty());
      FUZZ_CHECK(fuzz::IsWellFormedUtf8(name)) << fuzz::Escaped(name);
    }
  }
  auto written = eval::SubmissionToJson(*submission);
  FUZZ_CHECK(written.ok()) << written.status();
  auto again = eval::ParseSubmission(*written, "written");
  FUZZ_CHECK(again.ok()) << again.status() << " " << fuzz::Escaped(*written);
  FUZZ_CHECK(Equal(*submission, *again)) << fuzz::Escaped(*written);
  auto overlap = eval::TopKOverlap(*submission, *again, 10);
  FUZZ_CHECK(overlap.ok() && *overlap == 1.0) << overlap.status();
}

void CheckGroundTruth(absl::string_view contents) {
  auto entries = eval::ParseGroundTruth(contents, "fuzz");
  if (!entries.ok()) {
    FUZZ_CHECK(entries.status().code() == absl::StatusCode::kInvalidArgument)
        << entries.status();
    return;
  }
  for (const eval::GroundTruthEntry& e : *entries) {
    FUZZ_CHECK(fuzz::IsWellFormedUtf8(e.text)) << fuzz::Escaped(e.text);
    FUZZ_CHECK(e.text.find_first_of("$\n") == std::string::npos);
    for (const std::string& image : e.relevant_images) {
      FUZZ_CHECK(!image.empty());
      FUZZ_CHECK(image.find_first_of("$\n") == std::string::npos);
    }
  }
  auto written = eval::FormatGroundTruth(*entries);
  if (!written.ok()) return;  // e.g. a '\r' the line format cannot carry
  auto again = eval::ParseGroundTruth(*written, "written");
  FUZZ_CHECK(again.ok()) << again.status();
  FUZZ_CHECK(again->size() == entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    FUZZ_CHECK((*again)[i].text == (*entries)[i].text &&
               (*again)[i].relevant_images == (*entries)[i].relevant_images)
        << "entry " << i << " " << fuzz::Escaped(*written);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckSubmission(bytes);
  CheckGroundTruth(bytes);
  return 0;
}
