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
//   # Either form with --labels (with --ground_truth the labels then supply
//   # the categories and attributes) also prints an attribute analysis, and
//   # --attribute_chart draws it:
//   evaluate --predictions=submission.json --ground_truth=val_gt.txt
//       --labels=val/val_label.txt [--attribute_chart=attributes.png]
//
//   # Write the official ground-truth file for a label file (may be combined
//   # with --predictions):
//   evaluate --labels=val/val_label.txt --write_ground_truth=val_gt.txt
//
// The predictions' texts must equal the ground truth's, in order; otherwise
// the first mismatch is reported. A list of more than 10 names is an error
// (the competition takes 10); shorter lists are scored as they are.
//
// Attribute analysis (with --predictions and --labels;
// eval/attribute_analysis.h):
// - "wrong-category hits in top-10: W of N (P%); pedestrian queries A,
//   vehicle queries B": top-10 names that are labelled images of the other
//   category than their query;
// - a table of the top-1 errors per attribute: for each of the 21
//   pedestrian flags, over pedestrian queries whose top-1 is a pedestrian
//   image, how often the flag differs (split into query 1 / hit 0 and query
//   0 / hit 1); for vehicle colour, type and brand, over vehicle queries
//   whose top-1 is a vehicle, how often the class differs, with the most
//   frequent confusions ("white -> grey x5"). A query text labelled with
//   several attributes is taken with its first (that of its first label
//   line), an image labelled several times likewise; top-1 images missing
//   from the labels are counted as unlabelled and skipped;
// - with --attribute_chart=PATH.png, a bar chart of those error rates.
//
// With --predictions, the last line printed is exactly "mAP@10 <value>"
// (6 decimals). Exits 1 with a message on stderr on any error.

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/exit_code.h"
#include "common/status_macros.h"
#include "eval/attribute_analysis.h"
#include "eval/attribute_chart.h"
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
ABSL_FLAG(std::string, attribute_chart, "",
          "Write a PNG bar chart of the top-1 error rate per attribute (21 "
          "pedestrian flags, vehicle colour, type, brand) here (atomically). "
          "Requires --predictions and --labels. Default: none.");
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
  const std::string chart_path = absl::GetFlag(FLAGS_attribute_chart);
  if (!chart_path.empty() &&
      (predictions_path.empty() || labels_path.empty())) {
    return absl::InvalidArgumentError(
        "--attribute_chart requires --predictions and --labels");
  }
  if (!chart_path.empty() && !absl::EndsWithIgnoreCase(chart_path, ".png")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--attribute_chart is a PNG: give a .png name, not ", chart_path));
  }
  return eval::ParseRelevance(absl::GetFlag(FLAGS_relevance)).status();
}

// The label records (with --labels), and the ground truth with each query's
// category.
struct Inputs {
  std::vector<eval::LabelRecord> records;
  std::vector<eval::GroundTruthEntry> truth;
  std::vector<eval::Category> categories;
};

// The ground truth of the label records' texts under `relevance`; writes it
// to --write_ground_truth when given.
absl::Status TruthFromLabels(eval::Relevance relevance, Inputs& inputs) {
  for (eval::TextGroup& group : eval::GroupByText(inputs.records, relevance)) {
    inputs.truth.push_back(
        {std::move(group.text), std::move(group.relevant_images)});
    inputs.categories.push_back(group.category);
  }
  std::printf(
      "ground truth: %zu queries from %zu label lines of %s (relevance %s)\n",
      inputs.truth.size(), inputs.records.size(),
      absl::GetFlag(FLAGS_labels).c_str(), eval::RelevanceName(relevance));
  const std::string write_path = absl::GetFlag(FLAGS_write_ground_truth);
  if (write_path.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(eval::WriteGroundTruth(write_path, inputs.truth));
  std::printf("wrote %zu ground-truth lines to %s\n", inputs.truth.size(),
              write_path.c_str());
  return absl::OkStatus();
}

// Reads --ground_truth; each query's category is that of the text in the
// label records (kUnspecified without --labels or for a text they lack).
absl::Status TruthFromFile(Inputs& inputs) {
  std::unordered_map<std::string, eval::Category> category_of_text;
  for (const eval::LabelRecord& record : inputs.records) {
    category_of_text.emplace(record.text, record.category);
  }
  ASSIGN_OR_RETURN(inputs.truth,
                   eval::ReadGroundTruth(absl::GetFlag(FLAGS_ground_truth)));
  inputs.categories.clear();
  for (const eval::GroundTruthEntry& entry : inputs.truth) {
    const auto it = category_of_text.find(entry.text);
    inputs.categories.push_back(it == category_of_text.end()
                                    ? eval::Category::kUnspecified
                                    : it->second);
  }
  return absl::OkStatus();
}

absl::StatusOr<Inputs> ReadInputs(eval::Relevance relevance) {
  const std::string ground_truth_path = absl::GetFlag(FLAGS_ground_truth);
  const std::string labels_path = absl::GetFlag(FLAGS_labels);
  Inputs inputs;
  if (!labels_path.empty()) {
    eval::LabelReaderOptions options;
    options.allow_extra_fields = absl::GetFlag(FLAGS_label_extra_fields);
    ASSIGN_OR_RETURN(inputs.records, eval::ReadLabelFile(labels_path, options));
    if (ground_truth_path.empty() ||
        !absl::GetFlag(FLAGS_write_ground_truth).empty()) {
      RETURN_IF_ERROR(TruthFromLabels(relevance, inputs));
    }
  }
  if (!ground_truth_path.empty()) RETURN_IF_ERROR(TruthFromFile(inputs));
  return inputs;
}

void PrintNotes(const eval::SubmissionScore& score) {
  if (score.short_lists > 0) {
    std::printf(
        "note: %d queries have fewer than %d names (scored as they "
        "are)\n",
        score.short_lists, kMaxNames);
  }
  if (score.lists_with_repeats > 0) {
    std::printf(
        "note: %d queries repeat an image name (each repeat counts "
        "as a hit, as in the official scorer)\n",
        score.lists_with_repeats);
  }
}

// The table of mAP@10 and recall, overall and per category.
void PrintMetrics(const eval::MetricAccumulator& accumulator) {
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
}

// Wrong-category hits and the top-1 attribute table; the chart with
// --attribute_chart.
absl::Status PrintAttributeAnalysis(const Inputs& inputs,
                                    const eval::Submission& predictions) {
  ASSIGN_OR_RETURN(const eval::AttributeAnalysis analysis,
                   eval::AnalyzeAttributes(inputs.records, predictions,
                                           absl::GetFlag(FLAGS_labels)));
  std::printf("%s\n", eval::WrongCategoryLine(analysis.wrong_category).c_str());
  std::printf("%s", eval::FormatAttributeTable(analysis).c_str());
  const std::string chart_path = absl::GetFlag(FLAGS_attribute_chart);
  if (chart_path.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(eval::WriteAttributeChart(
      chart_path, eval::AttributeErrorRates(analysis)));
  std::printf("wrote the attribute chart to %s\n", chart_path.c_str());
  return absl::OkStatus();
}

absl::Status Run() {
  ASSIGN_OR_RETURN(const eval::Relevance relevance,
                   eval::ParseRelevance(absl::GetFlag(FLAGS_relevance)));
  ASSIGN_OR_RETURN(const Inputs inputs, ReadInputs(relevance));
  const std::string predictions_path = absl::GetFlag(FLAGS_predictions);
  if (predictions_path.empty()) return absl::OkStatus();
  const std::string ground_truth_path = absl::GetFlag(FLAGS_ground_truth);
  if (!ground_truth_path.empty()) {
    std::printf("ground truth: %zu queries from %s\n", inputs.truth.size(),
                ground_truth_path.c_str());
  }
  ASSIGN_OR_RETURN(const eval::Submission predictions,
                   eval::ReadSubmission(predictions_path));
  ASSIGN_OR_RETURN(const eval::SubmissionScore score,
                   eval::ScoreSubmission(predictions, inputs.truth,
                                         inputs.categories, predictions_path));
  std::printf("predictions: %zu queries from %s\n", predictions.results.size(),
              predictions_path.c_str());
  PrintNotes(score);
  PrintMetrics(score.metrics);
  const std::string compare_path = absl::GetFlag(FLAGS_compare_with);
  if (!compare_path.empty()) {
    ASSIGN_OR_RETURN(const eval::Submission other,
                     eval::ReadSubmission(compare_path));
    ASSIGN_OR_RETURN(double overlap, eval::TopKOverlap(predictions, other,
                                                       eval::kOfficialCutoff));
    std::printf("top-10 overlap with %s: %.4f\n", compare_path.c_str(),
                overlap);
  }
  if (!absl::GetFlag(FLAGS_labels).empty()) {
    RETURN_IF_ERROR(PrintAttributeAnalysis(inputs, predictions));
  }
  std::printf("mAP@10 %.6f\n", score.metrics.Overall().map_at_10);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> positional = common::ParseFlagsOrExit(
      argc, argv,
      "Scores a submission JSON with the competition's mAP@10.\n"
      "  evaluate --predictions=sub.json --ground_truth=gt.txt\n"
      "  evaluate --predictions=sub.json --labels=val_label.txt "
      "[--relevance=exact|pedestrian_subset] [--attribute_chart=chart.png]\n"
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
