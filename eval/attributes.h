// The attribute annotation of a label line as classification targets: what
// the attribute heads of the trainer learn (trainer/attribute_heads.h), what
// the re-ranker compares (rerank/), and what the evaluator's per-attribute
// analysis counts.
//
// A label's attribute field is either 21 pedestrian flags ("0,1,0,...") or a
// vehicle string in one of the forms "<colour> <brand>.", "<brand>.",
// "<type>." ("white Audi.", "Hongyan.", "Bus."; the trailing full stop is
// optional). The targets are fixed-size groups over one layout
// (AttributeLayout):
//   category     2 classes: pedestrian, vehicle
//   flags        21 independent 0/1 flags (pedestrians only)
//   colour       11 colours + "other" + "none"   (vehicles only)
//   type          6 types   + "other" + "none"   (vehicles only)
//   brand        65 brands  + "other" + "none"   (vehicles only)
// "none" means the attribute does not name that field ("Bus." names no
// colour and no brand): it is a class of its own, because the ground truth is
// the exact attribute, so "Bus." is not relevant to an image labelled
// "yellow Yutong.". "other" is a value outside the vocabulary (a brand the
// competition's car_attribute.json does not list); parsing never fails on
// one, it counts it (AttributeParseStats) instead.
//
// The vocabularies are the competition's (datagen/caption_templates.h, in
// car_attribute.json's order). Everything here is pure and thread-safe.
#ifndef EVAL_ATTRIBUTES_H_
#define EVAL_ATTRIBUTES_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eval/labels.h"

namespace eval {

// The three vehicle fields, in layout order.
enum class VehicleField { kColor = 0, kType = 1, kBrand = 2 };
inline constexpr int kNumVehicleFields = 3;

// "colour", "type", "brand".
const char* VehicleFieldName(VehicleField field);

// Vocabulary of a field (without "other" and "none").
const std::vector<std::string>& VehicleFieldVocabulary(VehicleField field);

// Number of classes of a field's group: vocabulary + "other" + "none".
int VehicleFieldClasses(VehicleField field);
// Class index of "other" and of "none" in a field's group.
int OtherClass(VehicleField field);
int NoneClass(VehicleField field);
// Name of class `c` of a field: a vocabulary word, "other" or "none".
std::string VehicleClassName(VehicleField field, int c);

// Offsets of the groups in a flat vector of AttributeLayout::kSize logits or
// probabilities.
struct AttributeLayout {
  static constexpr int kCategory = 0;  // [pedestrian, vehicle]
  static constexpr int kNumCategories = 2;
  static constexpr int kFlags = kCategory + kNumCategories;
  static constexpr int kColor = kFlags + kNumPedestrianFlags;
  static constexpr int kColorClasses = 11 + 2;
  static constexpr int kType = kColor + kColorClasses;
  static constexpr int kTypeClasses = 6 + 2;
  static constexpr int kBrand = kType + kTypeClasses;
  static constexpr int kBrandClasses = 65 + 2;
  static constexpr int kSize = kBrand + kBrandClasses;

  // Offset and width of a vehicle field's group.
  static int Offset(VehicleField field);
  static int Classes(VehicleField field);
};

// A short description of the layout, recorded wherever heads or predictions
// are stored so that a reader built for another layout refuses them:
// "category2,flags21,colour13,type8,brand67".
std::string AttributeLayoutId();

// Index of the category in the category group: 0 pedestrian, 1 vehicle, -1
// for kUnspecified.
int CategoryClass(Category category);

// The targets of one attribute.
struct AttributeTargets {
  Category category = Category::kUnspecified;
  // Pedestrians: each flag 0 or 1. Vehicles: unused (all 0).
  std::array<int8_t, kNumPedestrianFlags> flags{};
  // Vehicles: class index per VehicleField (vocabulary, OtherClass or
  // NoneClass). Pedestrians: -1.
  std::array<int, kNumVehicleFields> vehicle{-1, -1, -1};
};

// Values outside the vocabularies met while parsing, per field: the value
// and how often it was seen.
struct AttributeParseStats {
  std::array<std::map<std::string, int64_t>, kNumVehicleFields> unknown;
  // "12 unknown brand values (Tesla x7, ...)" or "" when there were none.
  std::string Summary() const;
};

// Parses an attribute field. INVALID_ARGUMENT (message without location) for
// an empty attribute or malformed pedestrian flags (eval::ClassifyAttribute).
// Vehicle strings never fail: a first word that is a colour is the colour, a
// rest that is a brand or a type is that, anything else "other" (counted in
// `stats` when given).
absl::StatusOr<AttributeTargets> ParseAttributeTargets(
    absl::string_view attribute, AttributeParseStats* stats = nullptr);

// Targets of every record, in order. Errors read "<file>:<line>: ..." with
// the record's line; `source` names the file.
absl::StatusOr<std::vector<AttributeTargets>> ParseRecordTargets(
    const std::vector<LabelRecord>& records, absl::string_view source,
    AttributeParseStats* stats = nullptr);

// The targets as a flat vector in AttributeLayout order, for display and
// tests: category one-hot, flags, then one-hot vehicle groups (zeros where
// the group does not apply).
std::vector<float> TargetsToVector(const AttributeTargets& targets);

}  // namespace eval

#endif  // EVAL_ATTRIBUTES_H_
