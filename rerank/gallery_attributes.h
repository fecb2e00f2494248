// The attributes a model version records for its gallery images: the image
// attribute head's predictions (the exporter's attribute_probs), reduced to
// one value per attribute and packed for filtering. A vehicle's colour, type
// and brand are the most probable class of each group (a vocabulary word,
// "other" or "none"); a pedestrian flag is present when its probability is at
// least 0.5; the category is the more probable of the two.
//
// A filter (AttributeConditions) holds the conditions a search asks for,
// combined by AND; Matches() tests one row, MatchingRows() collects the rows
// of a range that pass.
//
// Thread safety: immutable once built; every method is const.
#ifndef RERANK_GALLERY_ATTRIBUTES_H_
#define RERANK_GALLERY_ATTRIBUTES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/category.h"
#include "eval/attributes.h"

namespace rerank {

// Name of pedestrian flag `f` (eval::kPedestrianFlagNames), f in
// [0, eval::kNumPedestrianFlags).
const char* PedestrianFlagName(int f);

// One row's recorded attributes.
struct RecordedAttributes {
  common::Category category = common::Category::kUnspecified;
  // Class index per eval::VehicleField (vocabulary, OtherClass, NoneClass);
  // -1 for pedestrians.
  int16_t vehicle[eval::kNumVehicleFields] = {-1, -1, -1};
  // Bit f set: pedestrian flag f present. 0 for vehicles.
  uint32_t flags = 0;
};

// What a search requires; default: nothing (every row matches).
struct AttributeConditions {
  // Required class per eval::VehicleField; -1: any. Any set: vehicles only.
  int vehicle[eval::kNumVehicleFields] = {-1, -1, -1};
  // Flags that must be present / absent. Any set: pedestrians only.
  uint32_t flags_present = 0;
  uint32_t flags_absent = 0;

  bool empty() const;
};

// Builds conditions from words: a vehicle field's vocabulary word (as
// eval::VehicleClassName names classes, "other" and "none" included) and
// pedestrian flag names (eval::kPedestrianFlagNames) mapped to required
// presence. `field_prefix` starts error messages ("filter." gives
// "filter.vehicle_color: unknown colour 'mauve' ..."). INVALID_ARGUMENT for
// an unknown word or flag name.
absl::StatusOr<AttributeConditions> MakeConditions(
    const std::string& vehicle_color, const std::string& vehicle_type,
    const std::string& vehicle_brand,
    const std::map<std::string, bool>& pedestrian_flags,
    const std::string& field_prefix);

class GalleryAttributes {
 public:
  // `probs`: [rows, eval::AttributeLayout::kSize] row-major probabilities.
  // INVALID_ARGUMENT when the size is not a multiple of the layout.
  static absl::StatusOr<GalleryAttributes> FromProbabilities(
      const std::vector<float>& probs);

  int64_t size() const { return static_cast<int64_t>(rows_.size()); }
  const RecordedAttributes& row(int64_t r) const { return rows_[r]; }

  bool Matches(int64_t r, const AttributeConditions& c) const;
  // Rows in [begin, end) that match, ascending.
  std::vector<int64_t> MatchingRows(int64_t begin, int64_t end,
                                    const AttributeConditions& c) const;

 private:
  std::vector<RecordedAttributes> rows_;
};

}  // namespace rerank

#endif  // RERANK_GALLERY_ATTRIBUTES_H_
