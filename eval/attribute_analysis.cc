#include "eval/attribute_analysis.h"

#include <algorithm>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "eval/metric.h"

namespace eval {
namespace {

// Targets of every record, and the first record of each image and text.
struct LabelLookup {
  std::vector<AttributeTargets> targets;
  std::unordered_map<std::string, int> first_of_image;
  std::unordered_map<std::string, int> first_of_text;

  const AttributeTargets* Image(const std::string& name) const {
    const auto it = first_of_image.find(name);
    return it == first_of_image.end() ? nullptr : &targets[it->second];
  }
  const AttributeTargets* Text(const std::string& text) const {
    const auto it = first_of_text.find(text);
    return it == first_of_text.end() ? nullptr : &targets[it->second];
  }
};

absl::StatusOr<LabelLookup> BuildLookup(const std::vector<LabelRecord>& records,
                                        absl::string_view source) {
  LabelLookup lookup;
  ASSIGN_OR_RETURN(lookup.targets, ParseRecordTargets(records, source));
  for (int i = 0; i < static_cast<int>(records.size()); ++i) {
    lookup.first_of_image.emplace(records[i].image, i);
    lookup.first_of_text.emplace(records[i].text, i);
  }
  return lookup;
}

void CountWrongCategory(const LabelLookup& lookup,
                        const AttributeTargets& query,
                        const std::vector<std::string>& names,
                        WrongCategoryHits& hits) {
  const size_t n = std::min(names.size(), static_cast<size_t>(kOfficialCutoff));
  for (size_t i = 0; i < n; ++i) {
    ++hits.returned;
    const AttributeTargets* image = lookup.Image(names[i]);
    if (image == nullptr) {
      ++hits.unlabelled;
    } else if (image->category != query.category) {
      ++hits.wrong;
      ++hits.wrong_by_query_category[static_cast<int>(query.category)];
    }
  }
}

void CompareFlags(const AttributeTargets& query, const AttributeTargets& hit,
                  std::array<FlagErrors, kNumPedestrianFlags>& flags) {
  for (int f = 0; f < kNumPedestrianFlags; ++f) {
    if (query.flags[f] == hit.flags[f]) continue;
    ++flags[f].differ;
    ++(query.flags[f] != 0 ? flags[f].query_1_hit_0 : flags[f].query_0_hit_1);
  }
}

void CompareFields(const AttributeTargets& query, const AttributeTargets& hit,
                   std::array<FieldErrors, kNumVehicleFields>& fields) {
  for (int f = 0; f < kNumVehicleFields; ++f) {
    if (query.vehicle[f] == hit.vehicle[f]) continue;
    ++fields[f].differ;
    ++fields[f].confusions[{query.vehicle[f], hit.vehicle[f]}];
  }
}

// Classifies the top-1 of one query of known category and compares it.
void CountTop1(const LabelLookup& lookup, const AttributeTargets& query,
               const std::vector<std::string>& names,
               AttributeAnalysis& analysis) {
  const bool pedestrian = query.category == Category::kPedestrian;
  Top1Counts& counts =
      pedestrian ? analysis.pedestrian_top1 : analysis.vehicle_top1;
  ++counts.queries;
  if (names.empty()) {
    ++counts.empty;
    return;
  }
  const AttributeTargets* hit = lookup.Image(names.front());
  if (hit == nullptr) {
    ++counts.unlabelled;
  } else if (hit->category != query.category) {
    ++counts.other_category;
  } else {
    ++counts.compared;
    if (pedestrian) {
      CompareFlags(query, *hit, analysis.flags);
    } else {
      CompareFields(query, *hit, analysis.fields);
    }
  }
}

double Rate(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0
                    : static_cast<double>(part) / static_cast<double>(whole);
}

std::string Top1Line(Category category, const Top1Counts& c) {
  return absl::StrFormat(
      "top-1 of %s queries: %d compared, %d of the other category, %d "
      "unlabelled, %d empty (of %d)\n",
      CategoryName(category), c.compared, c.other_category, c.unlabelled,
      c.empty, c.queries);
}

// The confusion column of row `row` of AttributeErrorRates: empty for the
// flags.
std::string ConfusionCell(const AttributeAnalysis& analysis, int row) {
  const int field = row - kNumPedestrianFlags;
  if (field < 0) return "";
  return absl::StrJoin(TopConfusions(analysis.fields[field],
                                     static_cast<VehicleField>(field), 3),
                       ", ");
}

}  // namespace

absl::StatusOr<AttributeAnalysis> AnalyzeAttributes(
    const std::vector<LabelRecord>& records, const Submission& predictions,
    absl::string_view source) {
  ASSIGN_OR_RETURN(const LabelLookup lookup, BuildLookup(records, source));
  AttributeAnalysis analysis;
  for (const SubmissionEntry& entry : predictions.results) {
    const AttributeTargets* query = lookup.Text(entry.text);
    if (query == nullptr || query->category == Category::kUnspecified) {
      ++analysis.queries_without_label;
      continue;
    }
    CountWrongCategory(lookup, *query, entry.image_names,
                       analysis.wrong_category);
    CountTop1(lookup, *query, entry.image_names, analysis);
  }
  return analysis;
}

std::vector<AttributeErrorRate> AttributeErrorRates(
    const AttributeAnalysis& analysis) {
  std::vector<AttributeErrorRate> rows;
  const int64_t pedestrians = analysis.pedestrian_top1.compared;
  for (int f = 0; f < kNumPedestrianFlags; ++f) {
    const FlagErrors& e = analysis.flags[f];
    rows.push_back({kPedestrianFlagNames[f], false, pedestrians, e.differ,
                    Rate(e.differ, pedestrians), e.query_1_hit_0,
                    e.query_0_hit_1});
  }
  const int64_t vehicles = analysis.vehicle_top1.compared;
  for (int f = 0; f < kNumVehicleFields; ++f) {
    const FieldErrors& e = analysis.fields[f];
    rows.push_back({VehicleFieldName(static_cast<VehicleField>(f)), true,
                    vehicles, e.differ, Rate(e.differ, vehicles), 0, 0});
  }
  return rows;
}

std::vector<std::string> TopConfusions(const FieldErrors& errors,
                                       VehicleField field, int n) {
  std::vector<std::pair<int64_t, std::pair<int, int>>> by_count;
  for (const auto& [classes, count] : errors.confusions) {
    by_count.push_back({-count, classes});
  }
  std::sort(by_count.begin(), by_count.end());
  std::vector<std::string> out;
  for (int i = 0; i < n && i < static_cast<int>(by_count.size()); ++i) {
    const auto& [count, classes] = by_count[i];
    out.push_back(absl::StrCat(VehicleClassName(field, classes.first), " -> ",
                               VehicleClassName(field, classes.second), " x",
                               -count));
  }
  return out;
}

std::string WrongCategoryLine(const WrongCategoryHits& hits) {
  std::string line = absl::StrFormat(
      "wrong-category hits in top-%d: %d of %d (%.2f%%); pedestrian queries "
      "%d, vehicle queries %d",
      kOfficialCutoff, hits.wrong, hits.returned,
      100.0 * Rate(hits.wrong, hits.returned),
      hits.wrong_by_query_category[static_cast<int>(Category::kPedestrian)],
      hits.wrong_by_query_category[static_cast<int>(Category::kVehicle)]);
  if (hits.unlabelled > 0) {
    absl::StrAppend(&line, "; ", hits.unlabelled, " hits not in the labels");
  }
  return line;
}

std::string FormatAttributeTable(const AttributeAnalysis& analysis) {
  std::string out =
      "top-1 attribute errors (each query's attribute against its top-1 "
      "image's):\n";
  absl::StrAppend(&out,
                  Top1Line(Category::kPedestrian, analysis.pedestrian_top1));
  absl::StrAppend(&out, Top1Line(Category::kVehicle, analysis.vehicle_top1));
  if (analysis.queries_without_label > 0) {
    absl::StrAppendFormat(&out, "%d queries not in the labels (skipped)\n",
                          analysis.queries_without_label);
  }
  absl::StrAppendFormat(&out, "%-19s %8s %7s %8s %7s %7s  %s\n", "attribute",
                        "compared", "errors", "rate", "q1/h0", "q0/h1",
                        "most frequent confusions");
  const std::vector<AttributeErrorRate> rows = AttributeErrorRates(analysis);
  for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
    const AttributeErrorRate& r = rows[i];
    const std::string q1h0 = r.vehicle ? "-" : absl::StrCat(r.query_1_hit_0);
    const std::string q0h1 = r.vehicle ? "-" : absl::StrCat(r.query_0_hit_1);
    std::string line = absl::StrFormat(
        "%-19s %8d %7d %7.2f%% %7s %7s  %s", r.name, r.compared, r.errors,
        100.0 * r.rate, q1h0, q0h1, ConfusionCell(analysis, i));
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  }
  absl::StrAppend(&out,
                  "(q1/h0: the query has the flag and its top-1 lacks it; "
                  "q0/h1: the reverse)\n");
  return out;
}

}  // namespace eval
