#include "rerank/gallery_attributes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eval/labels.h"

namespace rerank {

using eval::AttributeLayout;
using eval::VehicleField;

const char* PedestrianFlagName(int f) { return eval::kPedestrianFlagNames[f]; }

bool AttributeConditions::empty() const {
  for (int v : vehicle) {
    if (v >= 0) return false;
  }
  return flags_present == 0 && flags_absent == 0;
}

absl::StatusOr<AttributeConditions> MakeConditions(
    const std::string& vehicle_color, const std::string& vehicle_type,
    const std::string& vehicle_brand,
    const std::map<std::string, bool>& pedestrian_flags,
    const std::string& field_prefix) {
  AttributeConditions c;
  const std::string* words[eval::kNumVehicleFields] = {
      &vehicle_color, &vehicle_type, &vehicle_brand};
  const char* fields[eval::kNumVehicleFields] = {
      "vehicle_color", "vehicle_type", "vehicle_brand"};
  for (int f = 0; f < eval::kNumVehicleFields; ++f) {
    if (words[f]->empty()) continue;
    const auto field = static_cast<VehicleField>(f);
    const int classes = eval::VehicleFieldClasses(field);
    for (int k = 0; k < classes; ++k) {
      if (eval::VehicleClassName(field, k) == *words[f]) {
        c.vehicle[f] = k;
        break;
      }
    }
    if (c.vehicle[f] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field_prefix, fields[f], ": unknown ", eval::VehicleFieldName(field),
          " '", *words[f], "' (one of: ",
          absl::StrJoin(eval::VehicleFieldVocabulary(field), ", "),
          ", other, none)"));
    }
  }
  for (const auto& [name, present] : pedestrian_flags) {
    int flag = -1;
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      if (name == eval::kPedestrianFlagNames[f]) flag = f;
    }
    if (flag < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field_prefix, "pedestrian_flags: unknown flag '", name,
          "' (one of: ", absl::StrJoin(eval::kPedestrianFlagNames, ", "), ")"));
    }
    (present ? c.flags_present : c.flags_absent) |= 1u << flag;
  }
  return c;
}

absl::StatusOr<GalleryAttributes> GalleryAttributes::FromProbabilities(
    const std::vector<float>& probs) {
  if (probs.size() % AttributeLayout::kSize != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(probs.size(), " attribute probabilities are not rows of ",
                     AttributeLayout::kSize));
  }
  GalleryAttributes out;
  const int64_t n = static_cast<int64_t>(probs.size()) / AttributeLayout::kSize;
  out.rows_.resize(n);
  for (int64_t r = 0; r < n; ++r) {
    const float* p = probs.data() + r * AttributeLayout::kSize;
    RecordedAttributes& a = out.rows_[r];
    const bool vehicle =
        p[AttributeLayout::kCategory + 1] > p[AttributeLayout::kCategory];
    a.category =
        vehicle ? common::Category::kVehicle : common::Category::kPedestrian;
    if (vehicle) {
      for (int f = 0; f < eval::kNumVehicleFields; ++f) {
        const auto field = static_cast<VehicleField>(f);
        const float* g = p + AttributeLayout::Offset(field);
        a.vehicle[f] = static_cast<int16_t>(
            std::max_element(g, g + AttributeLayout::Classes(field)) - g);
      }
    } else {
      for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
        if (p[AttributeLayout::kFlags + f] >= 0.5f) a.flags |= 1u << f;
      }
    }
  }
  return out;
}

bool GalleryAttributes::Matches(int64_t r, const AttributeConditions& c) const {
  const RecordedAttributes& a = rows_[r];
  for (int f = 0; f < eval::kNumVehicleFields; ++f) {
    if (c.vehicle[f] >= 0 && a.vehicle[f] != c.vehicle[f]) return false;
  }
  if (c.flags_present != 0 || c.flags_absent != 0) {
    if (a.category != common::Category::kPedestrian) return false;
    if ((a.flags & c.flags_present) != c.flags_present) return false;
    if ((a.flags & c.flags_absent) != 0) return false;
  }
  return true;
}

std::vector<int64_t> GalleryAttributes::MatchingRows(
    int64_t begin, int64_t end, const AttributeConditions& c) const {
  std::vector<int64_t> out;
  for (int64_t r = begin; r < end; ++r) {
    if (Matches(r, c)) out.push_back(r);
  }
  return out;
}

}  // namespace rerank
