// Scores a submission against ground truth the way the competition does:
// mAP@10 (and R@1/5/10) over the queries in order, per category too. This is
// the logic of the evaluate tool (client/evaluate_main.cc), as a library.
#ifndef EVAL_SCORE_H_
#define EVAL_SCORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eval/labels.h"
#include "eval/metric.h"
#include "eval/submission.h"

namespace eval {

struct SubmissionScore {
  MetricAccumulator metrics;   // Overall() and ForCategory()
  int short_lists = 0;         // queries with fewer than kOfficialCutoff names
  int lists_with_repeats = 0;  // queries naming an image twice (each counts)
};

// `categories[i]` is the category of `truth[i]` (kUnspecified when unknown).
// INVALID_ARGUMENT when the texts of `predictions` are not those of `truth`
// in order (naming the first index that differs, or the counts), or when a
// list holds more than kOfficialCutoff names (the official scorer would
// score them all). `source` names the predictions in messages.
absl::StatusOr<SubmissionScore> ScoreSubmission(
    const Submission& predictions, const std::vector<GroundTruthEntry>& truth,
    const std::vector<Category>& categories, absl::string_view source);

}  // namespace eval

#endif  // EVAL_SCORE_H_
