// Error analysis of a submission by attribute, against a label file
// (image$attribute$text): what the evaluator prints with --labels.
//
// Two measures:
// - Wrong-category hits: of the first kOfficialCutoff names of each query,
//   how many are labelled images of the other category than the query
//   (a pedestrian image for a vehicle text or the reverse).
// - Top-1 attribute errors: for each query, its attribute (eval/attributes.h
//   targets) is compared with the attribute of the image ranked first.
//   Pedestrian queries whose top-1 is a pedestrian image are compared flag
//   by flag (21 flags); vehicle queries whose top-1 is a vehicle image field
//   by field (colour, type, brand: vocabulary class, "other" or "none", so
//   "Bus." against "white Audi." differs in all three fields). A top-1 of
//   the other category, one the labels do not name ("unlabelled") and an
//   empty list are counted and skipped.
//
// Which attribute: a query text labelled with several attributes
// (TextGroup::attributes) is taken with its first, the attribute of the
// text's first label line; an image labelled more than once likewise with
// the attribute of its first line. Query texts the labels do not name (a
// ground-truth file with other texts) are counted and skipped by both
// measures.
//
// Plain functions over values; thread-compatible.
#ifndef EVAL_ATTRIBUTE_ANALYSIS_H_
#define EVAL_ATTRIBUTE_ANALYSIS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eval/attributes.h"
#include "eval/labels.h"
#include "eval/submission.h"

namespace eval {

// Names in the top kOfficialCutoff of queries whose category is known.
struct WrongCategoryHits {
  int64_t returned = 0;    // every such name (repeats counted)
  int64_t wrong = 0;       // labelled images of the other category
  int64_t unlabelled = 0;  // images the labels do not name (not wrong)
  // `wrong` split by the query's category, indexed by Category.
  std::array<int64_t, 3> wrong_by_query_category{};
};

// Top-1 outcomes of the queries of one category.
struct Top1Counts {
  int64_t queries = 0;         // queries of this category
  int64_t compared = 0;        // top-1 is a labelled image of this category
  int64_t other_category = 0;  // top-1 is of the other category (skipped)
  int64_t unlabelled = 0;      // top-1 not in the labels (skipped)
  int64_t empty = 0;           // no names at all (skipped)
};

// One pedestrian flag over the compared pedestrian pairs.
struct FlagErrors {
  int64_t differ = 0;         // query_1_hit_0 + query_0_hit_1
  int64_t query_1_hit_0 = 0;  // the query has the flag, the top-1 does not
  int64_t query_0_hit_1 = 0;  // the top-1 has a flag the query lacks
};

// One vehicle field over the compared vehicle pairs.
struct FieldErrors {
  int64_t differ = 0;
  // (query class, top-1 class) -> pairs, only where the two differ.
  std::map<std::pair<int, int>, int64_t> confusions;
};

struct AttributeAnalysis {
  WrongCategoryHits wrong_category;
  int64_t queries_without_label = 0;  // texts the labels do not name
  Top1Counts pedestrian_top1;
  Top1Counts vehicle_top1;
  std::array<FlagErrors, kNumPedestrianFlags> flags;
  std::array<FieldErrors, kNumVehicleFields> fields;  // by VehicleField
};

// Both measures over `predictions` (only the first kOfficialCutoff names of
// a list are read). `source` names the label file in errors, which are
// ParseRecordTargets's: INVALID_ARGUMENT "<source>:<line>: ..." for an
// attribute that does not parse.
absl::StatusOr<AttributeAnalysis> AnalyzeAttributes(
    const std::vector<LabelRecord>& records, const Submission& predictions,
    absl::string_view source);

// One row of the table and one bar of the chart.
struct AttributeErrorRate {
  std::string name;  // flag name (kPedestrianFlagNames) or VehicleFieldName
  bool vehicle = false;
  int64_t compared = 0;  // queries compared on this attribute
  int64_t errors = 0;
  double rate = 0.0;  // errors / compared; 0 when nothing was compared
  // Flags only: the two directions of `errors`.
  int64_t query_1_hit_0 = 0;
  int64_t query_0_hit_1 = 0;
};

// The 21 flags in file order, then colour, type and brand.
std::vector<AttributeErrorRate> AttributeErrorRates(
    const AttributeAnalysis& analysis);

// The `n` most frequent confusions of a field, most frequent first (ties in
// class order), as "<query class> -> <top-1 class> x<count>", e.g.
// "white -> grey x5".
std::vector<std::string> TopConfusions(const FieldErrors& errors,
                                       VehicleField field, int n);

// "wrong-category hits in top-10: 37 of 3000 (1.23%); pedestrian queries 30,
// vehicle queries 7", followed by "; 4 hits not in the labels" when there
// are any. No line end.
std::string WrongCategoryLine(const WrongCategoryHits& hits);

// The top-1 report: a line per category with its Top1Counts, then an
// aligned table with a row per attribute (AttributeErrorRates) and, for the
// vehicle fields, their three most frequent confusions. Every line ends in
// "\n".
std::string FormatAttributeTable(const AttributeAnalysis& analysis);

}  // namespace eval

#endif  // EVAL_ATTRIBUTE_ANALYSIS_H_
