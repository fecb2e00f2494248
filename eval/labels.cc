#include "eval/labels.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace eval {
namespace {

constexpr absl::string_view kBom = "\xEF\xBB\xBF";
constexpr const char* kFieldNames[] = {"image", "attribute", "text"};

// Bit i set when flag i is "1"; -1 unless `attribute` is exactly 21
// comma-separated "0"/"1" flags.
int64_t PedestrianMask(absl::string_view attribute) {
  // 21 one-character flags and 20 commas.
  if (attribute.size() != 2 * kNumPedestrianFlags - 1) return -1;
  int64_t mask = 0;
  for (int i = 0; i < kNumPedestrianFlags; ++i) {
    const char flag = attribute[2 * i];
    if (flag == '1') {
      mask |= int64_t{1} << i;
    } else if (flag != '0') {
      return -1;
    }
    if (i + 1 < kNumPedestrianFlags && attribute[2 * i + 1] != ',') return -1;
  }
  return mask;
}

// Whether an image with pedestrian mask `image` is relevant to a query with
// pedestrian mask `query` under kPedestrianSubset (both >= 0).
bool SubsetMatches(int64_t query, int64_t image) {
  return (query & ~image) == 0 && ((query ^ image) & 1) == 0;
}

std::string Quote(absl::string_view s) {
  constexpr size_t kMax = 60;
  if (s.size() <= kMax) return absl::StrCat("\"", s, "\"");
  return absl::StrCat("\"", s.substr(0, kMax), "...\"");
}

}  // namespace

const std::array<const char*, kNumPedestrianFlags> kPedestrianFlagNames = {
    "Female",
    "AgeOver60",
    "Age18-60",
    "AgeLess18",
    "Front",
    "Side",
    "Back",
    "Hat",
    "Glasses",
    "HandBag",
    "ShoulderBag",
    "Backpack",
    "HoldObjectsInFront",
    "ShortSleeve",
    "LongSleeve",
    "UpperStride",
    "UpperLogo",
    "UpperPlaid",
    "UpperSplice",
    "LongCoat",
    "Skirt&Dress"};

std::vector<absl::string_view> SplitLines(absl::string_view contents) {
  if (absl::StartsWith(contents, kBom)) contents.remove_prefix(kBom.size());
  if (contents.empty()) return {};
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  if (lines.back().empty()) lines.pop_back();  // the final line end
  for (absl::string_view& line : lines) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  return lines;
}

absl::StatusOr<Category> ClassifyAttribute(absl::string_view attribute) {
  if (attribute.empty()) {
    return absl::InvalidArgumentError("attribute is empty");
  }
  const bool pedestrian_looking =
      attribute.find(',') != absl::string_view::npos ||
      std::all_of(attribute.begin(), attribute.end(),
                  [](char c) { return absl::ascii_isdigit(c); });
  if (!pedestrian_looking) return Category::kVehicle;
  const std::vector<absl::string_view> flags = absl::StrSplit(attribute, ',');
  if (flags.size() != kNumPedestrianFlags) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pedestrian attribute ", Quote(attribute), " has ", flags.size(),
        " comma-separated flags, expected ", kNumPedestrianFlags));
  }
  for (size_t i = 0; i < flags.size(); ++i) {
    if (flags[i] != "0" && flags[i] != "1") {
      return absl::InvalidArgumentError(absl::StrCat(
          "pedestrian attribute flag ", i + 1, " (", kPedestrianFlagNames[i],
          ") is ", Quote(flags[i]), ", expected 0 or 1"));
    }
  }
  return Category::kPedestrian;
}

absl::StatusOr<std::vector<LabelRecord>> ParseLabels(
    absl::string_view contents, absl::string_view source,
    const LabelReaderOptions& options) {
  const std::vector<absl::string_view> lines = SplitLines(contents);
  size_t end = lines.size();
  while (end > 0 && lines[end - 1].empty()) --end;  // trailing blank lines
  std::vector<LabelRecord> records;
  records.reserve(end);
  for (size_t i = 0; i < end; ++i) {
    const int line_number = static_cast<int>(i) + 1;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": ", what));
    };
    const absl::string_view line = lines[i];
    if (line.empty()) return error("empty line");
    if (absl::Status s = ValidateUtf8(line); !s.ok()) {
      return error(absl::StrCat(s.message(), " of the line"));
    }
    std::vector<absl::string_view> fields = absl::StrSplit(line, '$');
    if (fields.size() < 3 ||
        (fields.size() > 3 && !options.allow_extra_fields)) {
      return error(
          absl::StrCat("expected 3 '$'-separated fields "
                       "(image$attribute$text), got ",
                       fields.size()));
    }
    for (size_t f = 0; f < fields.size(); ++f) {
      if (fields[f].empty()) {
        return error(absl::StrCat("field ", f + 1, " (",
                                  f < 3 ? kFieldNames[f] : "extra",
                                  ") is empty"));
      }
    }
    absl::StatusOr<Category> category = ClassifyAttribute(fields[1]);
    if (!category.ok()) return error(category.status().message());
    LabelRecord record;
    record.image = std::string(fields[0]);
    record.attribute = std::string(fields[1]);
    record.text = std::string(fields[2]);
    record.category = *category;
    record.line = line_number;
    for (size_t f = 3; f < fields.size(); ++f) {
      record.extra_fields.emplace_back(fields[f]);
    }
    records.push_back(std::move(record));
  }
  return records;
}

absl::StatusOr<std::vector<LabelRecord>> ReadLabelFile(
    const std::string& path, const LabelReaderOptions& options) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  return ParseLabels(contents, path, options);
}

absl::StatusOr<std::vector<std::string>> ParseQueries(
    absl::string_view contents, absl::string_view source) {
  const std::vector<absl::string_view> lines = SplitLines(contents);
  std::vector<std::string> queries;
  queries.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::Status s = ValidateUtf8(lines[i]); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", i + 1, ": ", s.message(), " of the line"));
    }
    queries.emplace_back(lines[i]);
  }
  return queries;
}

absl::StatusOr<std::vector<std::string>> ReadQueryFile(
    const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  return ParseQueries(contents, path);
}

const char* RelevanceName(Relevance relevance) {
  switch (relevance) {
    case Relevance::kPedestrianSubset:
      return "pedestrian_subset";
    case Relevance::kExact:
      break;
  }
  return "exact";
}

absl::StatusOr<Relevance> ParseRelevance(absl::string_view name) {
  if (name == "exact") return Relevance::kExact;
  if (name == "pedestrian_subset") return Relevance::kPedestrianSubset;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown relevance ", Quote(name),
                   "; expected \"exact\" or \"pedestrian_subset\""));
}

bool IsRelevant(Relevance relevance, absl::string_view query_attribute,
                absl::string_view image_attribute) {
  if (query_attribute == image_attribute) return true;
  if (relevance != Relevance::kPedestrianSubset) return false;
  const int64_t query = PedestrianMask(query_attribute);
  const int64_t image = PedestrianMask(image_attribute);
  return query >= 0 && image >= 0 && SubsetMatches(query, image);
}

RelevanceIndex::RelevanceIndex(const std::vector<LabelRecord>& records,
                               Relevance relevance)
    : relevance_(relevance) {
  std::unordered_map<std::string, int> image_index;
  for (const LabelRecord& record : records) {
    auto [image_it, new_image] =
        image_index.emplace(record.image, static_cast<int>(images_.size()));
    if (new_image) images_.push_back(record.image);
    auto [attr_it, new_attribute] = attribute_index_.emplace(
        record.attribute, static_cast<int>(attributes_.size()));
    if (new_attribute) {
      attributes_.push_back(record.attribute);
      images_of_attribute_.emplace_back();
      pedestrian_mask_.push_back(PedestrianMask(record.attribute));
    }
    std::vector<int>& list = images_of_attribute_[attr_it->second];
    // Records of one image with one attribute are usually adjacent; the full
    // check below keeps the list distinct either way.
    if (list.empty() || list.back() != image_it->second) {
      list.push_back(image_it->second);
    }
  }
  for (std::vector<int>& list : images_of_attribute_) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
}

std::vector<int> RelevanceIndex::RelevantImageIndices(
    absl::string_view query_attribute) const {
  const auto it = attribute_index_.find(std::string(query_attribute));
  const int64_t query_mask = relevance_ == Relevance::kPedestrianSubset
                                 ? PedestrianMask(query_attribute)
                                 : -1;
  if (query_mask < 0) {
    if (it == attribute_index_.end()) return {};
    return images_of_attribute_[it->second];
  }
  std::vector<int> result;
  for (size_t a = 0; a < attributes_.size(); ++a) {
    if (pedestrian_mask_[a] >= 0 &&
        SubsetMatches(query_mask, pedestrian_mask_[a])) {
      result.insert(result.end(), images_of_attribute_[a].begin(),
                    images_of_attribute_[a].end());
    }
  }
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

std::vector<std::string> RelevanceIndex::RelevantImages(
    absl::string_view query_attribute) const {
  std::vector<std::string> names;
  for (int index : RelevantImageIndices(query_attribute)) {
    names.push_back(images_[index]);
  }
  return names;
}

std::vector<TextGroup> GroupByText(const std::vector<LabelRecord>& records,
                                   Relevance relevance) {
  std::vector<TextGroup> groups;
  std::unordered_map<std::string, int> group_of_text;
  for (const LabelRecord& record : records) {
    auto [it, inserted] =
        group_of_text.emplace(record.text, static_cast<int>(groups.size()));
    if (inserted) {
      TextGroup group;
      group.text = record.text;
      group.category = record.category;
      groups.push_back(std::move(group));
    }
    std::vector<std::string>& attributes = groups[it->second].attributes;
    if (std::find(attributes.begin(), attributes.end(), record.attribute) ==
        attributes.end()) {
      attributes.push_back(record.attribute);
    }
  }
  const RelevanceIndex index(records, relevance);
  // Many texts share an attribute: compute each attribute's list once.
  std::unordered_map<std::string, std::vector<int>> cache;
  for (TextGroup& group : groups) {
    std::vector<int> relevant;
    for (const std::string& attribute : group.attributes) {
      auto it = cache.find(attribute);
      if (it == cache.end()) {
        it = cache.emplace(attribute, index.RelevantImageIndices(attribute))
                 .first;
      }
      relevant.insert(relevant.end(), it->second.begin(), it->second.end());
    }
    if (group.attributes.size() > 1) {
      std::sort(relevant.begin(), relevant.end());
      relevant.erase(std::unique(relevant.begin(), relevant.end()),
                     relevant.end());
    }
    group.relevant_images.reserve(relevant.size());
    for (int i : relevant) group.relevant_images.push_back(index.images()[i]);
  }
  return groups;
}

}  // namespace eval
