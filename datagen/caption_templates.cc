#include "datagen/caption_templates.h"

#include <cctype>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/mix.h"

namespace datagen {
namespace {

// Vehicle types, indices into VehicleTypeNames().
enum VehicleType { kBus = 0, kMicrobus, kMinivan, kSUV, kSedan, kTruck };

struct BrandInfo {
  const char* name;
  VehicleType type;
};

// car_attribute.json's brands in its order, with the body style each brand is
// best known for.
constexpr BrandInfo kBrands[] = {
    {"Audi", kSedan},          {"BAOJUN", kMinivan},
    {"BESTUNE", kSedan},       {"BMW", kSedan},
    {"BYD", kSedan},           {"Balong Heavy Truck", kTruck},
    {"Bentley", kSedan},       {"Benz", kSedan},
    {"Buick", kSedan},         {"Cadillac", kSedan},
    {"Chana", kMicrobus},      {"Chery", kSedan},
    {"Chevrolet", kSedan},     {"China-Moto", kMinivan},
    {"Citroen", kSedan},       {"Dongfeng", kTruck},
    {"FAW", kTruck},           {"FORLAND", kTruck},
    {"FOTON", kTruck},         {"Ford", kSUV},
    {"Geely", kSedan},         {"Golden Dragon", kBus},
    {"GreatWall", kSUV},       {"HAFEI", kMicrobus},
    {"Haima", kSedan},         {"Honda", kSedan},
    {"Hongyan", kTruck},       {"Hyundai", kSedan},
    {"Infiniti", kSUV},        {"Isuzu", kTruck},
    {"Iveco", kMicrobus},      {"JAC", kTruck},
    {"JMC", kTruck},           {"Jeep", kSUV},
    {"Jinbei", kMicrobus},     {"KINGLONG", kBus},
    {"Karma", kSedan},         {"Kia", kSedan},
    {"LEOPAARD", kSUV},        {"Landrover", kSUV},
    {"Lexus", kSedan},         {"Luxgen", kSUV},
    {"MORRIS-GARAGE", kSedan}, {"Mazda", kSedan},
    {"Mini", kSedan},          {"Mitsubishi", kSUV},
    {"Nissan", kSedan},        {"OPEL", kSedan},
    {"PEUGEOT", kSedan},       {"Porsche", kSUV},
    {"ROEWE", kSedan},         {"SGMW", kMinivan},
    {"SKODA", kSedan},         {"Shacman", kTruck},
    {"Shuanghuan", kSUV},      {"Soueast", kSedan},
    {"Style", kMinivan},       {"Subaru", kSUV},
    {"Suzuki", kSedan},        {"Toyota", kSedan},
    {"Volkswagen", kSedan},    {"Volvo", kSUV},
    {"XIALI", kSedan},         {"Yutong", kBus},
    {"ZXAUTO", kSUV},
};
constexpr int kNumBrands = sizeof(kBrands) / sizeof(kBrands[0]);
static_assert(kNumBrands == 65, "car_attribute.json lists 65 brands");

bool StartsWithVowel(const std::string& word) {
  if (word.empty()) return false;
  switch (std::tolower(static_cast<unsigned char>(word[0]))) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
      return true;
    default:
      return false;
  }
}

int IndexOf(const std::vector<std::string>& names, absl::string_view name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

using common::Mix64;

uint64_t FlagsKey(const PedestrianFlags& flags) {
  uint64_t key = 0;
  for (int i = 0; i < kNumPedestrianFlags; ++i) {
    if (flags[i]) key |= uint64_t{1} << i;
  }
  return key;
}

// Picks one of `options` for phrase slot `slot` of (flags, variant).
const char* Pick(const std::vector<const char*>& options, uint64_t flags_key,
                 uint32_t variant, int slot) {
  const uint64_t h =
      Mix64(Mix64(flags_key * 0x100000001b3ULL + variant) + slot);
  return options[h % options.size()];
}

// Alternatives of each phrase slot, all taken from the real annotations.
const std::vector<const char*>& AgePhrases(int age_flag) {
  static const auto* over60 = new std::vector<const char*>{
      "an elderly person over 60 years old", "at least 60 years old",
      "aged 60 or older", "aged over 60"};
  static const auto* adult = new std::vector<const char*>{
      "an adult person aged 18-60", "between 18 and 60 years old"};
  static const auto* minor = new std::vector<const char*>{
      "age 18 or younger", "less than 18 years old", "not an adult", "a minor"};
  if (age_flag == kAgeOver60) return *over60;
  if (age_flag == kAge18To60) return *adult;
  return *minor;
}

const std::vector<const char*>& CarryPhrases(int flag) {
  static const auto* hand_bag =
      new std::vector<const char*>{"with a handbag", "carrying a handbag",
                                   "holding a handbag", "clutching a handbag"};
  static const auto* shoulder_bag = new std::vector<const char*>{
      "with a shoulderbag", "has a shoulderbag", "is carrying a shoulder bag",
      "has a bag over the shoulder"};
  static const auto* backpack =
      new std::vector<const char*>{"with a backpack", "carrying a backpack"};
  static const auto* hold =
      new std::vector<const char*>{"holds objects in front"};
  switch (flag) {
    case kHandBag:
      return *hand_bag;
    case kShoulderBag:
      return *shoulder_bag;
    case kBackpack:
      return *backpack;
    default:
      return *hold;
  }
}

const std::vector<const char*>& SleevePhrases(bool short_sleeve) {
  static const auto* short_sleeves = new std::vector<const char*>{
      "short sleeve shirt", "tee shirt with short sleeves",
      "shirt with short sleeves"};
  static const auto* long_sleeves = new std::vector<const char*>{
      "long sleeve shirt", "tee shirt with long sleeves",
      "shirt with long sleeves"};
  return short_sleeve ? *short_sleeves : *long_sleeves;
}

// Each pattern phrase starts with "with "; a second pattern drops it and is
// joined with " and ".
const std::vector<const char*>& PatternPhrases(int flag) {
  static const auto* stride =
      new std::vector<const char*>{"with an upper stripe"};
  static const auto* logo = new std::vector<const char*>{
      "with an upper logo", "with a logo on the upper"};
  static const auto* plaid = new std::vector<const char*>{
      "with an upper plaid", "with a plaid on the upper"};
  static const auto* splice = new std::vector<const char*>{
      "with an upper splice", "with a splice on the upper"};
  switch (flag) {
    case kUpperStride:
      return *stride;
    case kUpperLogo:
      return *logo;
    case kUpperPlaid:
      return *plaid;
    default:
      return *splice;
  }
}

// Slot numbers for Pick, fixed so that captions stay stable.
enum Slot {
  kSlotAge = 1,
  kSlotCarry = 10,  // + flag
  kSlotCoat = 40,
  kSlotSleeve = 41,
  kSlotPattern = 50,  // + flag
  kSlotSkirt = 80,
};

}  // namespace

const std::vector<std::string>& VehicleColorNames() {
  static const auto* names = new std::vector<std::string>{
      "black", "blue",   "brown", "green", "grey",  "orange",
      "pink",  "purple", "red",   "white", "yellow"};
  return *names;
}

const std::vector<std::string>& VehicleTypeNames() {
  static const auto* names = new std::vector<std::string>{
      "Bus", "Microbus", "Minivan", "SUV", "Sedan", "Truck"};
  return *names;
}

const std::vector<std::string>& VehicleBrandNames() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (const BrandInfo& b : kBrands) v->push_back(b.name);
    return v;
  }();
  return *names;
}

int BrandVehicleType(int brand) { return kBrands[brand].type; }

absl::Status ValidateVehicleAttribute(const VehicleAttribute& a) {
  const int num_colors = static_cast<int>(VehicleColorNames().size());
  const int num_types = static_cast<int>(VehicleTypeNames().size());
  if (a.color < -1 || a.color >= num_colors) {
    return absl::InvalidArgumentError(
        absl::StrCat("vehicle colour index ", a.color, " out of range [-1, ",
                     num_colors, ")"));
  }
  if (a.brand < -1 || a.brand >= kNumBrands) {
    return absl::InvalidArgumentError(
        absl::StrCat("vehicle brand index ", a.brand, " out of range [-1, ",
                     kNumBrands, ")"));
  }
  if (a.brand >= 0) {
    if (a.type != BrandVehicleType(a.brand)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vehicle type ", a.type, " is not the type of brand ",
          kBrands[a.brand].name, " (", BrandVehicleType(a.brand), ")"));
    }
    return absl::OkStatus();
  }
  if (a.color >= 0) {
    return absl::InvalidArgumentError(
        "a vehicle attribute with a colour must name a brand");
  }
  if (a.type < 0 || a.type >= num_types) {
    return absl::InvalidArgumentError(
        absl::StrCat("vehicle type index ", a.type, " out of range [0, ",
                     num_types, ") in a type-only attribute"));
  }
  return absl::OkStatus();
}

std::string VehicleAttributeString(const VehicleAttribute& a) {
  if (a.brand < 0) return absl::StrCat(VehicleTypeNames()[a.type], ".");
  if (a.color < 0) return absl::StrCat(kBrands[a.brand].name, ".");
  return absl::StrCat(VehicleColorNames()[a.color], " ", kBrands[a.brand].name,
                      ".");
}

absl::StatusOr<VehicleAttribute> ParseVehicleAttribute(absl::string_view text) {
  if (text.empty() || text.back() != '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("vehicle attribute \"", text, "\" does not end with '.'"));
  }
  absl::string_view body = text.substr(0, text.size() - 1);
  VehicleAttribute a;
  // Brand names may contain spaces ("Balong Heavy Truck"), colours never do.
  const int whole_brand = IndexOf(VehicleBrandNames(), body);
  if (whole_brand >= 0) {
    a.brand = whole_brand;
    a.type = BrandVehicleType(whole_brand);
    return a;
  }
  const int whole_type = IndexOf(VehicleTypeNames(), body);
  if (whole_type >= 0) {
    a.type = whole_type;
    return a;
  }
  const size_t space = body.find(' ');
  if (space != absl::string_view::npos) {
    const int color = IndexOf(VehicleColorNames(), body.substr(0, space));
    const int brand = IndexOf(VehicleBrandNames(), body.substr(space + 1));
    if (color >= 0 && brand >= 0) {
      a.color = color;
      a.brand = brand;
      a.type = BrandVehicleType(brand);
      return a;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "vehicle attribute \"", text,
      "\" is not \"<colour> <brand>.\", \"<brand>.\" or \"<type>.\""));
}

std::string VehicleCaption(const VehicleAttribute& a, int variant) {
  std::string body = VehicleAttributeString(a);  // "white Audi."
  const char* article = StartsWithVowel(body) ? "an " : "a ";
  int v = variant % kNumVehicleCaptionVariants;
  if (v < 0) v += kNumVehicleCaptionVariants;
  if (v == 0) return absl::StrCat("This is ", article, body);
  std::string cap = absl::StrCat(article, body);
  cap[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(cap[0])));
  return cap;
}

const std::array<const char*, kNumPedestrianFlags>& PedestrianFlagNames() {
  // The flags in rows of four, in label-file order, laid out by hand.
  // clang-format off
  static const std::array<const char*, kNumPedestrianFlags> kNames = {
      "Female",      "AgeOver60",          "Age18-60",    "AgeLess18",
      "Front",       "Side",               "Back",        "Hat",
      "Glasses",     "HandBag",            "ShoulderBag", "Backpack",
      "HoldObjectsInFront", "ShortSleeve", "LongSleeve",  "UpperStride",
      "UpperLogo",   "UpperPlaid",         "UpperSplice", "LongCoat",
      "Skirt&Dress"};
  // clang-format on
  return kNames;
}

absl::Status ValidatePedestrianFlags(const PedestrianFlags& f) {
  const int ages = f[kAgeOver60] + f[kAge18To60] + f[kAgeLess18];
  if (ages != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pedestrian flags set ", ages,
                     " of AgeOver60/Age18-60/AgeLess18, expected exactly one"));
  }
  const int orientations = f[kFront] + f[kSide] + f[kBack];
  if (orientations != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pedestrian flags set ", orientations,
                     " of Front/Side/Back, expected exactly one"));
  }
  const int sleeves = f[kShortSleeve] + f[kLongSleeve];
  if (sleeves != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pedestrian flags set ", sleeves,
                     " of ShortSleeve/LongSleeve, expected exactly one"));
  }
  return absl::OkStatus();
}

std::string PedestrianAttributeString(const PedestrianFlags& flags) {
  std::string out;
  out.reserve(2 * kNumPedestrianFlags);
  for (int i = 0; i < kNumPedestrianFlags; ++i) {
    if (i > 0) out.push_back(',');
    out.push_back(flags[i] ? '1' : '0');
  }
  return out;
}

absl::StatusOr<PedestrianFlags> ParsePedestrianAttribute(
    absl::string_view text) {
  std::vector<absl::string_view> fields = absl::StrSplit(text, ',');
  if (fields.size() != kNumPedestrianFlags) {
    return absl::InvalidArgumentError(
        absl::StrCat("pedestrian attribute \"", text, "\" has ", fields.size(),
                     " fields, expected ", kNumPedestrianFlags));
  }
  PedestrianFlags flags{};
  for (int i = 0; i < kNumPedestrianFlags; ++i) {
    if (fields[i] == "1") {
      flags[i] = true;
    } else if (fields[i] != "0") {
      return absl::InvalidArgumentError(
          absl::StrCat("pedestrian attribute \"", text, "\": field ", i + 1,
                       " (", PedestrianFlagNames()[i], ") is \"", fields[i],
                       "\", expected 0 or 1"));
    }
  }
  absl::Status st = ValidatePedestrianFlags(flags);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pedestrian attribute \"", text, "\": ", st.message()));
  }
  return flags;
}

std::string PedestrianCaption(const PedestrianFlags& f, uint32_t variant) {
  const uint64_t key = FlagsKey(f);
  const bool female = f[kFemale];
  const char* sex = female ? "female" : "male";
  const char* possessive = female ? "her" : "his";
  const char* pronoun = female ? "She" : "He";

  const int age_flag =
      f[kAgeOver60] ? kAgeOver60 : (f[kAgeLess18] ? kAgeLess18 : kAge18To60);
  const char* age = Pick(AgePhrases(age_flag), key, variant, kSlotAge);

  std::string out;
  // The opener cycles with the variant so that variants 0..3 always differ.
  switch ((variant + static_cast<uint32_t>(Mix64(key) % 4)) % 4) {
    case 0:
      out = absl::StrCat("A ", sex, " pedestrian who is ", age);
      break;
    case 1:
      out = absl::StrCat("A ", sex,
                         " pedestrian is someone who walks on foot, is ", age);
      break;
    case 2:
      out = absl::StrCat("A pedestrian who is ", sex, " is ", age);
      break;
    default:
      out =
          absl::StrCat("A walking ", female ? "woman" : "man", " who is ", age);
      break;
  }

  if (f[kSide]) {
    absl::StrAppend(&out, ", and is standing sideways");
  } else if (f[kBack]) {
    absl::StrAppend(&out, ", with ", possessive, " body back to the camera");
  } else {
    absl::StrAppend(&out, ", with ", possessive, " body facing the camera");
  }
  for (int flag : {kHandBag, kShoulderBag, kBackpack, kHoldObjectsInFront}) {
    if (f[flag]) {
      absl::StrAppend(
          &out, " and ",
          Pick(CarryPhrases(flag), key, variant, kSlotCarry + flag));
    }
  }
  out.push_back('.');

  std::vector<const char*> worn;
  if (f[kHat]) worn.push_back("a hat");
  if (f[kGlasses]) worn.push_back("glasses");
  if (f[kLongCoat]) {
    worn.push_back(
        Pick({"a longcoat", "a coat that is long"}, key, variant, kSlotCoat));
  }
  if (!worn.empty()) {
    absl::StrAppend(&out, " ", pronoun, " is wearning ",
                    absl::StrJoin(worn, ","), ".");
  }

  absl::StrAppend(
      &out, " ", pronoun, " is in a ",
      Pick(SleevePhrases(f[kShortSleeve]), key, variant, kSlotSleeve));
  bool first_pattern = true;
  for (int flag : {kUpperStride, kUpperLogo, kUpperPlaid, kUpperSplice}) {
    if (!f[flag]) continue;
    absl::string_view phrase =
        Pick(PatternPhrases(flag), key, variant, kSlotPattern + flag);
    if (first_pattern) {
      absl::StrAppend(&out, " ", phrase);
      first_pattern = false;
    } else {
      absl::StrAppend(&out, " and ", phrase.substr(5));  // drop "with "
    }
  }
  if (f[kSkirtDress]) {
    absl::StrAppend(&out, " and ",
                    Pick({"in a skirt or dress", "wearing skirt or dress"}, key,
                         variant, kSlotSkirt));
  }
  out.push_back('.');
  return out;
}

}  // namespace datagen
