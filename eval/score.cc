#include "eval/score.h"

#include <algorithm>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace eval {
namespace {

std::string Quote(const std::string& s) {
  constexpr size_t kMax = 120;
  if (s.size() <= kMax) return absl::StrCat("\"", s, "\"");
  return absl::StrCat("\"", s.substr(0, kMax), "...\"");
}

// The texts of `predictions` must equal those of `truth`, in order.
absl::Status CheckTexts(const eval::Submission& predictions,
                        const std::vector<eval::GroundTruthEntry>& truth) {
  const size_t common = std::min(predictions.results.size(), truth.size());
  for (size_t i = 0; i < common; ++i) {
    if (predictions.results[i].text != truth[i].text) {
      return absl::InvalidArgumentError(absl::StrCat(
          "text mismatch at index ", i, " (ground truth query ", i + 1,
          "): predictions have ", Quote(predictions.results[i].text),
          ", ground truth has ", Quote(truth[i].text)));
    }
  }
  if (predictions.results.size() != truth.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("predictions have ", predictions.results.size(),
                     " entries but the ground truth has ", truth.size(),
                     " queries (the first ", common, " texts agree)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SubmissionScore> ScoreSubmission(
    const Submission& predictions, const std::vector<GroundTruthEntry>& truth,
    const std::vector<Category>& categories, absl::string_view source) {
  if (categories.size() != truth.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("internal: ", categories.size(), " categories for ",
                     truth.size(), " ground-truth queries"));
  }
  if (absl::Status st = CheckTexts(predictions, truth); !st.ok()) return st;
  SubmissionScore score;
  for (size_t i = 0; i < truth.size(); ++i) {
    const std::vector<std::string>& names = predictions.results[i].image_names;
    if (names.size() > static_cast<size_t>(kOfficialCutoff)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": results[", i, "] has ", names.size(),
                       " image names; the competition takes ", kOfficialCutoff,
                       " (the official scorer would score all of them)"));
    }
    if (names.size() < static_cast<size_t>(kOfficialCutoff))
      ++score.short_lists;
    if (std::unordered_set<std::string>(names.begin(), names.end()).size() !=
        names.size()) {
      ++score.lists_with_repeats;
    }
    const std::unordered_set<std::string> relevant(
        truth[i].relevant_images.begin(), truth[i].relevant_images.end());
    score.metrics.Add(ScoreRankedNames(names, relevant), categories[i]);
  }
  return score;
}

}  // namespace eval
