// Scores a competition submission with the official mAP@10 (see
// eval/metric.h for the formula) and prints recall@1/5/10 and a
// per-category breakdown.
//
// Usage:
//   # Against the official ground-truth file (text$img$img$..., one line per
//   # query, in the order of test_text.txt):
//   evaluate --predictions=submission.json --ground_truth=test_gt.txt
//
//   # Against a label file (image$attribute$text): the queries are its
//   # distinct texts in order of first appearance, and a text's relevant
//   # images are those whose attribute matches one of the text's attributes:
//   evaluate --predictions=submission.json --labels=val/val_label.txt
//       [--relevance=exact|pedestrian_subset]
//
//   # Write the official ground-truth file for a label file (may be combined
//   # with --predictions):
//   evaluate --labels=val/val_label.txt --write_ground_truth=val_gt.txt
//
// The predictions' texts must equal the ground truth's, in order; otherwise
// the first mismatch is reported. A list of more than 10 names is an error
// (the competition takes 10); shorter lists are scored as they are.
// With --predictions, the last line printed is exactly "mAP@10 <value>"
// (6 decimals). Exits 1 with a message on stderr on any error.

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/exit_code.h"
#include "common/status_macros.h"
#include "eval/labels.h"
#include "eval/metric.h"
#include "eval/score.h"
#include "eval/submission.h"

ABSL_FLAG(std::string, predictions, "",
          "Submission JSON to score: {\"results\": [{\"text\", "
          "\"image_names\"}, ...]}. Default: none (then only "
          "--write_ground_truth runs).");
ABSL_FLAG(std::string, ground_truth, "",
          "Official ground-truth file (text$img$img$..., one line per query, "
          "same order as the predictions). Takes precedence over --labels, "
          "which then only supplies each text's category. Default: none.");
ABSL_FLAG(std::string, labels, "",
          "Label file (image$attribute$text) to build the ground truth from, "
          "used when --ground_truth is not given. Default: none.");
ABSL_FLAG(std::string, relevance, "exact",
          "How --labels decides relevance: \"exact\" (same attribute) or "
          "\"pedestrian_subset\" (pedestrian images whose 1-flags include the "
          "query's, with the same Female flag; vehicles exact). Ignored with "
          "--ground_truth. Default: exact.");
ABSL_FLAG(bool, label_extra_fields, false,
          "Accept label lines with more than 3 '$' fields and ignore the "
          "extras (e.g. the official baseline's infer.txt). Default: false.");
ABSL_FLAG(std::string, compare_with, "",
          "A second submission for the same queries (e.g. from another "
          "precision or model version): prints the share of top-10 names the "
          "two have in common.");
ABSL_FLAG(std::string, write_ground_truth, "",
          "Write the official ground-truth file built from --labels here "
          "(atomically). Requires --labels. Default: none.");

namespace {

constexpr int kMaxNames = eval::kOfficialCutoff;

void PrintRow(const char* name, const eval::RetrievalMetrics& m) {
  std::printf("%-12s %8d %9.6f %8.4f %8.4f %8.4f\n", name, m.num_queries,
              m.map_at_10, m.recall_at_1, m.recall_at_5, m.recall_at_10);
}

// INVALID_ARGUMENT for a missing or inconsistent combination of flags, or a
// bad --relevance.
absl::Status CheckFlags() {
  const std::string predictions_path = absl::GetFlag(FLAGS_predictions);
  const std::string ground_truth_path = absl::GetFlag(FLAGS_ground_truth);
  const std::string labels_path = absl::GetFlag(FLAGS_labels);
  const std::string write_path = absl::GetFlag(FLAGS_write_ground_truth);
  if (predictions_path.empty() && write_path.empty()) {
    return absl::InvalidArgumentError(
        "nothing to do: give --predictions with --ground_truth or --labels, "
        "or --labels with --write_ground_truth");
  }
  if (!write_path.empty() && labels_path.empty()) {
    return absl::InvalidArgumentError("--write_ground_truth requires --labels");
  }
  if (!predictions_path.empty() && ground_truth_path.empty() &&
      labels_path.empty()) {
    return absl::InvalidArgumentError(
        "--predictions needs --ground_truth or --labels");
  }
  return eval::ParseRelevance(absl::GetFlag(FLAGS_relevance)).status();
}

absl::Status Run() {
  const std::string predictions_path = absl::GetFlag(FLAGS_predictions);
  const std::string ground_truth_path = absl::GetFlag(FLAGS_ground_truth);
  const std::string labels_path = absl::GetFlag(FLAGS_labels);
  const std::string write_path = absl::GetFlag(FLAGS_write_ground_truth);
  ASSIGN_OR_RETURN(const eval::Relevance relevance,
                   eval::ParseRelevance(absl::GetFlag(FLAGS_relevance)));

  std::vector<eval::GroundTruthEntry> truth;
  std::vector<eval::Category> categories;
  if (!labels_path.empty()) {
    eval::LabelReaderOptions options;
    options.allow_extra_fields = absl::GetFlag(FLAGS_label_extra_fields);
    ASSIGN_OR_RETURN(const std::vector<eval::LabelRecord> records,
                     eval::ReadLabelFile(labels_path, options));
    if (ground_truth_path.empty() || !write_path.empty()) {
      for (eval::TextGroup& group : eval::GroupByText(records, relevance)) {
        truth.push_back(
            {std::move(group.text), std::move(group.relevant_images)});
        categories.push_back(group.category);
      }
      std::printf(
          "ground truth: %zu queries from %zu label lines of %s "
          "(relevance %s)\n",
          truth.size(), records.size(), labels_path.c_str(),
          eval::RelevanceName(relevance));
    }
    if (!write_path.empty()) {
      RETURN_IF_ERROR(eval::WriteGroundTruth(write_path, truth));
      std::printf("wrote %zu ground-truth lines to %s\n", truth.size(),
                  write_path.c_str());
    }
    if (!ground_truth_path.empty()) {
      std::unordered_map<std::string, eval::Category> category_of_text;
      for (const eval::LabelRecord& record : records) {
        category_of_text.emplace(record.text, record.category);
      }
      ASSIGN_OR_RETURN(truth, eval::ReadGroundTruth(ground_truth_path));
      categories.clear();
      for (const eval::GroundTruthEntry& entry : truth) {
        const auto it = category_of_text.find(entry.text);
        categories.push_back(it == category_of_text.end()
                                 ? eval::Category::kUnspecified
                                 : it->second);
      }
    }
  } else if (!ground_truth_path.empty()) {
    ASSIGN_OR_RETURN(truth, eval::ReadGroundTruth(ground_truth_path));
    categories.assign(truth.size(), eval::Category::kUnspecified);
  }
  if (predictions_path.empty()) return absl::OkStatus();
  if (!ground_truth_path.empty()) {
    std::printf("ground truth: %zu queries from %s\n", truth.size(),
                ground_truth_path.c_str());
  }

  ASSIGN_OR_RETURN(const eval::Submission predictions,
                   eval::ReadSubmission(predictions_path));
  ASSIGN_OR_RETURN(
      const eval::SubmissionScore score,
      eval::ScoreSubmission(predictions, truth, categories, predictions_path));
  const int short_lists = score.short_lists;
  const int lists_with_repeats = score.lists_with_repeats;
  const eval::MetricAccumulator& accumulator = score.metrics;
  std::printf("predictions: %zu queries from %s\n", predictions.results.size(),
              predictions_path.c_str());
  if (short_lists > 0) {
    std::printf(
        "note: %d queries have fewer than %d names (scored as they "
        "are)\n",
        short_lists, kMaxNames);
  }
  if (lists_with_repeats > 0) {
    std::printf(
        "note: %d queries repeat an image name (each repeat counts "
        "as a hit, as in the official scorer)\n",
        lists_with_repeats);
  }
  const eval::RetrievalMetrics overall = accumulator.Overall();
  std::printf("%-12s %8s %9s %8s %8s %8s\n", "category", "queries", "mAP@10",
              "R@1", "R@5", "R@10");
  PrintRow("all", overall);
  for (eval::Category category :
       {eval::Category::kPedestrian, eval::Category::kVehicle}) {
    const eval::RetrievalMetrics m = accumulator.ForCategory(category);
    if (m.num_queries > 0) PrintRow(eval::CategoryName(category), m);
  }
  // Queries of unknown category (ground truth without --labels): a row of
  // their own only when it differs from "all".
  const eval::RetrievalMetrics unknown =
      accumulator.ForCategory(eval::Category::kUnspecified);
  if (unknown.num_queries > 0 && unknown.num_queries < overall.num_queries) {
    PrintRow(eval::CategoryName(eval::Category::kUnspecified), unknown);
  }
  const std::string compare_path = absl::GetFlag(FLAGS_compare_with);
  if (!compare_path.empty()) {
    ASSIGN_OR_RETURN(const eval::Submission other,
                     eval::ReadSubmission(compare_path));
    ASSIGN_OR_RETURN(double overlap, eval::TopKOverlap(predictions, other,
                                                       eval::kOfficialCutoff));
    std::printf("top-10 overlap with %s: %.4f\n", compare_path.c_str(),
                overlap);
  }
  std::printf("mAP@10 %.6f\n", overall.map_at_10);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> positional = common::ParseFlagsOrExit(
      argc, argv,
      "Scores a submission JSON with the competition's mAP@10.\n"
      "  evaluate --predictions=sub.json --ground_truth=gt.txt\n"
      "  evaluate --predictions=sub.json --labels=val_label.txt "
      "[--relevance=exact|pedestrian_subset]\n"
      "  evaluate --labels=val_label.txt --write_ground_truth=gt.txt");
  if (positional.size() > 1) {
    std::fprintf(stderr, "evaluate: unexpected argument \"%s\" (see --help)\n",
                 positional[1]);
    return common::kExitUsage;
  }
  if (const absl::Status flags = CheckFlags(); !flags.ok()) {
    std::fprintf(stderr, "evaluate: %s\n", flags.ToString().c_str());
    return common::kExitUsage;
  }
  const absl::Status status = Run();
  if (!status.ok()) {
    std::fprintf(stderr, "evaluate: %s\n", status.ToString().c_str());
    return common::kExitFailure;
  }
  return common::kExitOk;
}
