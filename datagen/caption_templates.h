// Attribute vocabulary and caption templates of the traffic retrieval data
// (CVPR 2023 Foundation Model Challenge, Track 2), for the synthetic data
// generator and for anything that reads its labels.
//
// Attribute strings follow the competition's label files:
//   vehicle:    "<colour> <brand>." ("white Audi."), "<type>." ("Bus.") or
//               "<brand>." ("Hongyan."), with the trailing full stop;
//   pedestrian: 21 comma-separated 0/1 flags in PedestrianFlag order
//               ("1,0,1,0,0,0,1,...").
// Captions copy the phrasings of the real annotations: "This is a white
// Audi." / "A white Audi." for vehicles, and for pedestrians the long
// sentences such as "A female pedestrian who is between 18 and 60 years old,
// with her body back to the camera and with a handbag. She is in a long
// sleeve shirt." Unlike the real captions (which often drop the shirt
// sentence when they mention accessories), every caption here names every set
// flag, so a caption determines its attribute set: distinct attribute sets
// never share a caption. The real data's spelling "wearning" is kept.
//
// Every function is pure and thread-safe.
#ifndef DATAGEN_CAPTION_TEMPLATES_H_
#define DATAGEN_CAPTION_TEMPLATES_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datagen {

// ---------------------------------------------------------------------------
// Vehicles.

// The 11 colours, 6 types and 65 brands of the competition's vehicle labels
// (car_attribute.json), in its order.
const std::vector<std::string>& VehicleColorNames();
const std::vector<std::string>& VehicleTypeNames();
const std::vector<std::string>& VehicleBrandNames();

// The type a brand's vehicles are drawn as (index into VehicleTypeNames()),
// the brand's best-known body style. `brand` must be a valid index.
int BrandVehicleType(int brand);

// A vehicle attribute set in one of the three forms of the real labels:
//   colour + brand: color >= 0, brand >= 0, type == BrandVehicleType(brand);
//   brand only:     color == -1, brand >= 0, type == BrandVehicleType(brand);
//   type only:      color == -1, brand == -1, type >= 0.
// Fields are indices into the name lists above; -1 means "not part of the
// attribute" (the image may show any colour, or no brand mark).
struct VehicleAttribute {
  int color = -1;
  int brand = -1;
  int type = -1;

  friend bool operator==(const VehicleAttribute& a, const VehicleAttribute& b) {
    return a.color == b.color && a.brand == b.brand && a.type == b.type;
  }
  friend bool operator!=(const VehicleAttribute& a, const VehicleAttribute& b) {
    return !(a == b);
  }
};

// INVALID_ARGUMENT unless `attribute` is one of the three forms above with
// indices in range.
absl::Status ValidateVehicleAttribute(const VehicleAttribute& attribute);

// "white Audi.", "Bus." or "Hongyan.". `attribute` must be valid.
std::string VehicleAttributeString(const VehicleAttribute& attribute);

// Inverse of VehicleAttributeString. INVALID_ARGUMENT naming the text when it
// is not "<colour> <brand>.", "<brand>." or "<type>." over the vocabulary.
absl::StatusOr<VehicleAttribute> ParseVehicleAttribute(absl::string_view text);

// Number of distinct vehicle phrasings ("This is a X." and "A X.").
inline constexpr int kNumVehicleCaptionVariants = 2;

// Caption `variant` (taken modulo kNumVehicleCaptionVariants; negative values
// are folded to non-negative) of a valid attribute: "This is a white Audi.",
// "A white Audi.", "An orange Geely.".
std::string VehicleCaption(const VehicleAttribute& attribute, int variant);

// ---------------------------------------------------------------------------
// Pedestrians.

// The 21 pedestrian flags, in label order.
enum PedestrianFlag {
  kFemale = 0,
  kAgeOver60,
  kAge18To60,
  kAgeLess18,
  kFront,
  kSide,
  kBack,
  kHat,
  kGlasses,
  kHandBag,
  kShoulderBag,
  kBackpack,
  kHoldObjectsInFront,
  kShortSleeve,
  kLongSleeve,
  kUpperStride,
  kUpperLogo,
  kUpperPlaid,
  kUpperSplice,
  kLongCoat,
  kSkirtDress,
};
inline constexpr int kNumPedestrianFlags = 21;

// flags[f] is PedestrianFlag f.
using PedestrianFlags = std::array<bool, kNumPedestrianFlags>;

// The PA-100K names of the flags, in label order ("Female", "AgeOver60", ...,
// "Skirt&Dress").
const std::array<const char*, kNumPedestrianFlags>& PedestrianFlagNames();

// INVALID_ARGUMENT naming the rule unless exactly one age flag, exactly one
// orientation flag and exactly one of ShortSleeve/LongSleeve are set (true of
// every real label).
absl::Status ValidatePedestrianFlags(const PedestrianFlags& flags);

// "0,0,1,0,..." (21 digits joined by commas).
std::string PedestrianAttributeString(const PedestrianFlags& flags);

// Inverse of PedestrianAttributeString; also validates the flags.
// INVALID_ARGUMENT naming the text when it does not have 21 comma-separated
// 0/1 fields or breaks ValidatePedestrianFlags.
absl::StatusOr<PedestrianFlags> ParsePedestrianAttribute(
    absl::string_view text);

// Caption `variant` of valid `flags`. Any uint32 is a variant; the wording
// is a fixed function of (flags, variant). Variants 0..3 always differ in
// their opening phrase ("A female pedestrian who is", "A walking woman who
// is", ...); the other phrase slots (age, orientation, bags, shirt, skirt)
// are picked by hashing (flags, variant, slot) over the real data's
// alternatives.
std::string PedestrianCaption(const PedestrianFlags& flags, uint32_t variant);

}  // namespace datagen

#endif  // DATAGEN_CAPTION_TEMPLATES_H_
