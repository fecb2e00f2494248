#include "datagen/caption_templates.h"

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace datagen {
namespace {

using ::common_testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Index(const std::vector<std::string>& names, const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

// A random valid flag vector (any combination of the optional flags).
PedestrianFlags RandomFlags(std::mt19937_64& rng) {
  PedestrianFlags f{};
  auto bit = [&] { return (rng() & 1) != 0; };
  f[kFemale] = bit();
  f[kAgeOver60 + rng() % 3] = true;
  f[kFront + rng() % 3] = true;
  for (int flag : {kHat, kGlasses, kHandBag, kShoulderBag, kBackpack,
                   kHoldObjectsInFront, kUpperStride, kUpperLogo, kUpperPlaid,
                   kUpperSplice, kLongCoat, kSkirtDress}) {
    f[flag] = (rng() % 4) == 0;
  }
  f[bit() ? kShortSleeve : kLongSleeve] = true;
  return f;
}

TEST(VehicleVocabularyTest, MatchesCarAttributeJson) {
  REQUIRE_SHARED_PATH(path, "data/track2/a3r/car_attribute.json");
  const nlohmann::json j = nlohmann::json::parse(ReadAll(path));
  EXPECT_THAT(VehicleColorNames(),
              ElementsAreArray(j["Colors"].get<std::vector<std::string>>()));
  EXPECT_THAT(VehicleTypeNames(),
              ElementsAreArray(j["Types"].get<std::vector<std::string>>()));
  EXPECT_THAT(VehicleBrandNames(),
              ElementsAreArray(j["Brands"].get<std::vector<std::string>>()));
}

TEST(VehicleVocabularyTest, BrandTypesAreValid) {
  ASSERT_EQ(VehicleBrandNames().size(), 65u);
  const int num_types = static_cast<int>(VehicleTypeNames().size());
  for (int b = 0; b < 65; ++b) {
    EXPECT_GE(BrandVehicleType(b), 0) << VehicleBrandNames()[b];
    EXPECT_LT(BrandVehicleType(b), num_types) << VehicleBrandNames()[b];
  }
  const int bus = Index(VehicleTypeNames(), "Bus");
  const int truck = Index(VehicleTypeNames(), "Truck");
  EXPECT_EQ(BrandVehicleType(Index(VehicleBrandNames(), "Yutong")), bus);
  EXPECT_EQ(BrandVehicleType(Index(VehicleBrandNames(), "Hongyan")), truck);
}

TEST(VehicleAttributeTest, FormatsAndParsesTheThreeForms) {
  const int white = Index(VehicleColorNames(), "white");
  const int audi = Index(VehicleBrandNames(), "Audi");
  const int balong = Index(VehicleBrandNames(), "Balong Heavy Truck");
  const int bus = Index(VehicleTypeNames(), "Bus");
  const std::vector<std::pair<VehicleAttribute, std::string>> cases = {
      {{white, audi, BrandVehicleType(audi)}, "white Audi."},
      {{-1, balong, BrandVehicleType(balong)}, "Balong Heavy Truck."},
      {{-1, -1, bus}, "Bus."},
  };
  for (const auto& [attr, text] : cases) {
    ASSERT_OK(ValidateVehicleAttribute(attr));
    EXPECT_EQ(VehicleAttributeString(attr), text);
    absl::StatusOr<VehicleAttribute> parsed = ParseVehicleAttribute(text);
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, attr) << text;
  }
}

TEST(VehicleAttributeTest, RejectsMalformedText) {
  for (const char* text : {"white Audi", "white Unknown.", "Sedan Audi.",
                           "white.", "", "white  Audi.", "White Audi."}) {
    EXPECT_THAT(ParseVehicleAttribute(text),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(std::string("\"") + text + "\"")))
        << text;
  }
}

TEST(VehicleAttributeTest, ValidationRejectsBadCombinations) {
  const int audi = Index(VehicleBrandNames(), "Audi");
  const int sedan = BrandVehicleType(audi);
  EXPECT_THAT(ValidateVehicleAttribute({0, audi, (sedan + 1) % 6}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Audi")));
  EXPECT_THAT(ValidateVehicleAttribute({0, -1, sedan}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must name a brand")));
  EXPECT_THAT(ValidateVehicleAttribute({11, audi, sedan}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("colour index 11")));
  EXPECT_THAT(
      ValidateVehicleAttribute({-1, -1, -1}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type-only")));
}

TEST(VehicleCaptionTest, UsesTheRealPhrasings) {
  const int white = Index(VehicleColorNames(), "white");
  const int orange = Index(VehicleColorNames(), "orange");
  const int audi = Index(VehicleBrandNames(), "Audi");
  const int geely = Index(VehicleBrandNames(), "Geely");
  const int suv = Index(VehicleTypeNames(), "SUV");
  const VehicleAttribute white_audi{white, audi, BrandVehicleType(audi)};
  const VehicleAttribute orange_geely{orange, geely, BrandVehicleType(geely)};
  EXPECT_EQ(VehicleCaption(white_audi, 0), "This is a white Audi.");
  EXPECT_EQ(VehicleCaption(white_audi, 1), "A white Audi.");
  EXPECT_EQ(VehicleCaption(white_audi, 2), "This is a white Audi.");
  EXPECT_EQ(VehicleCaption(white_audi, -1), "A white Audi.");
  EXPECT_EQ(VehicleCaption(orange_geely, 0), "This is an orange Geely.");
  EXPECT_EQ(VehicleCaption(orange_geely, 1), "An orange Geely.");
  // The real data writes "a SUV".
  EXPECT_EQ(VehicleCaption({-1, -1, suv}, 0), "This is a SUV.");
}

// Every vehicle line of the real annotations is one of our two phrasings of
// its attribute.
TEST(VehicleCaptionTest, ReproducesEveryRealVehicleCaption) {
  REQUIRE_SHARED_PATH(path, "data/track2/open-transmind/infer.txt");
  std::ifstream in(path);
  std::string line;
  int line_no = 0, vehicles = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::vector<std::string> fields = absl::StrSplit(line, '$');
    ASSERT_GE(fields.size(), 3u) << path << ":" << line_no;
    if (!fields[1].empty() && (fields[1][0] == '0' || fields[1][0] == '1')) {
      continue;
    }
    ++vehicles;
    absl::StatusOr<VehicleAttribute> attr = ParseVehicleAttribute(fields[1]);
    ASSERT_OK(attr) << path << ":" << line_no;
    EXPECT_EQ(VehicleAttributeString(*attr), fields[1]);
    EXPECT_TRUE(fields[2] == VehicleCaption(*attr, 0) ||
                fields[2] == VehicleCaption(*attr, 1))
        << path << ":" << line_no << ": " << fields[2];
  }
  EXPECT_GT(vehicles, 1000);
}

TEST(PedestrianAttributeTest, ParsesEveryRealPedestrianAttribute) {
  REQUIRE_SHARED_PATH(path, "data/track2/open-transmind/infer.txt");
  std::ifstream in(path);
  std::string line;
  int line_no = 0, pedestrians = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::vector<std::string> fields = absl::StrSplit(line, '$');
    if (fields.size() < 2 || fields[1].empty() ||
        !(fields[1][0] == '0' || fields[1][0] == '1')) {
      continue;
    }
    ++pedestrians;
    absl::StatusOr<PedestrianFlags> flags = ParsePedestrianAttribute(fields[1]);
    ASSERT_OK(flags) << path << ":" << line_no;
    EXPECT_EQ(PedestrianAttributeString(*flags), fields[1]);
    // The real sex word agrees with the Female flag.
    const bool says_female = absl::StrContains(fields[2], "female") ||
                             absl::StrContains(fields[2], "woman");
    EXPECT_EQ(says_female, (*flags)[kFemale]) << path << ":" << line_no;
  }
  EXPECT_GT(pedestrians, 1000);
}

// Real captions that name every set flag (many drop the shirt sentence) are
// reproduced word for word by one of the first 2048 variants.
TEST(PedestrianCaptionTest, ReproducesCompleteRealCaptions) {
  REQUIRE_SHARED_PATH(path, "data/track2/open-transmind/infer.txt");
  std::ifstream in(path);
  std::string line;
  int complete = 0, reproduced = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, '$');
    if (fields.size() < 3 || fields[1].empty() ||
        !(fields[1][0] == '0' || fields[1][0] == '1')) {
      continue;
    }
    absl::StatusOr<PedestrianFlags> f = ParsePedestrianAttribute(fields[1]);
    ASSERT_OK(f);
    // Only captions with the shirt sentence and no extra words ("boots").
    if (!absl::StrContains(fields[2], " is in a ") ||
        absl::StrContains(fields[2], "boots")) {
      continue;
    }
    bool names_all = true;
    if ((*f)[kHat] && !absl::StrContains(fields[2], "hat")) names_all = false;
    if ((*f)[kGlasses] && !absl::StrContains(fields[2], "glasses")) {
      names_all = false;
    }
    if ((*f)[kLongCoat] && !absl::StrContains(fields[2], "coat")) {
      names_all = false;
    }
    int carried = 0;
    for (const char* word : {"handbag", "shoulder", "backpack", "objects"}) {
      carried += absl::StrContains(fields[2], word);
    }
    if (carried != (*f)[kHandBag] + (*f)[kShoulderBag] + (*f)[kBackpack] +
                       (*f)[kHoldObjectsInFront]) {
      names_all = false;
    }
    if (!names_all) continue;
    ++complete;
    for (uint32_t v = 0; v < 2048; ++v) {
      if (PedestrianCaption(*f, v) == fields[2]) {
        ++reproduced;
        break;
      }
    }
  }
  ASSERT_GT(complete, 500);
  EXPECT_GT(reproduced, complete * 9 / 10) << reproduced << " of " << complete;
}

TEST(PedestrianAttributeTest, RejectsMalformedFlags) {
  EXPECT_THAT(
      ParsePedestrianAttribute("0,0,1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 3 fields")));
  EXPECT_THAT(
      ParsePedestrianAttribute("0,0,1,0,1,0,0,0,1,0,0,0,0,0,1,0,0,0,0,0,2"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("field 21 (Skirt&Dress)")));
  EXPECT_THAT(
      ParsePedestrianAttribute("0,1,1,0,1,0,0,0,1,0,0,0,0,0,1,0,0,0,0,0,0"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("AgeOver60/Age18-60/AgeLess18")));
  EXPECT_THAT(
      ParsePedestrianAttribute("0,0,1,0,0,0,0,0,1,0,0,0,0,0,1,0,0,0,0,0,0"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("Front/Side/Back")));
  EXPECT_THAT(
      ParsePedestrianAttribute("0,0,1,0,1,0,0,0,1,0,0,0,0,1,1,0,0,0,0,0,0"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("ShortSleeve/LongSleeve")));
}

TEST(PedestrianCaptionTest, GoldenWording) {
  absl::StatusOr<PedestrianFlags> f =
      ParsePedestrianAttribute("1,0,1,0,0,0,1,0,1,1,0,0,0,1,0,0,1,0,0,0,1");
  ASSERT_OK(f);
  std::set<std::string> captions;
  for (uint32_t v = 0; v < 4; ++v) captions.insert(PedestrianCaption(*f, v));
  // Variants 0..3 differ in their openers.
  EXPECT_EQ(captions.size(), 4u);
  EXPECT_EQ(PedestrianCaption(*f, 0),
            "A female pedestrian is someone who walks on foot, is between 18 "
            "and 60 years old, with her body back to the camera and with a "
            "handbag. She is wearning glasses. She is in a tee shirt with "
            "short sleeves with an upper logo and wearing skirt or dress.");
}

// Each set flag is named and each unset optional flag is not.
TEST(PedestrianCaptionTest, NamesExactlyTheSetFlags) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const PedestrianFlags f = RandomFlags(rng);
    const uint32_t variant = static_cast<uint32_t>(rng() % 16);
    const std::string c = PedestrianCaption(f, variant);
    SCOPED_TRACE(PedestrianAttributeString(f) + " -> " + c);
    const bool female_word =
        absl::StrContains(c, "female") || absl::StrContains(c, "woman");
    EXPECT_EQ(female_word, f[kFemale]);
    EXPECT_EQ(absl::StrContains(c, " She "), f[kFemale]);
    EXPECT_EQ(absl::StrContains(c, " He "), !f[kFemale]);
    EXPECT_EQ(absl::StrContains(c, "facing the camera"), f[kFront]);
    EXPECT_EQ(absl::StrContains(c, "sideways"), f[kSide]);
    EXPECT_EQ(absl::StrContains(c, "back to the camera"), f[kBack]);
    const bool over60 = absl::StrContains(c, "60 years old") ||
                        absl::StrContains(c, "60 or older") ||
                        absl::StrContains(c, "over 60");
    const bool minor = absl::StrContains(c, "18 or younger") ||
                       absl::StrContains(c, "less than 18") ||
                       absl::StrContains(c, "not an adult") ||
                       absl::StrContains(c, "a minor");
    const bool adult = absl::StrContains(c, "aged 18-60") ||
                       absl::StrContains(c, "between 18 and 60");
    EXPECT_EQ(over60 && !adult, f[kAgeOver60]);
    EXPECT_EQ(minor, f[kAgeLess18]);
    EXPECT_EQ(adult, f[kAge18To60]);
    EXPECT_EQ(absl::StrContains(c, "a hat"), f[kHat]);
    EXPECT_EQ(absl::StrContains(c, "glasses"), f[kGlasses]);
    EXPECT_EQ(absl::StrContains(c, "handbag"), f[kHandBag]);
    EXPECT_EQ(absl::StrContains(c, "shoulder"), f[kShoulderBag]);
    EXPECT_EQ(absl::StrContains(c, "backpack"), f[kBackpack]);
    EXPECT_EQ(absl::StrContains(c, "objects in front"), f[kHoldObjectsInFront]);
    EXPECT_EQ(absl::StrContains(c, "short sleeve"), f[kShortSleeve]);
    EXPECT_EQ(absl::StrContains(c, "long sleeve"), f[kLongSleeve]);
    EXPECT_EQ(absl::StrContains(c, "stripe"), f[kUpperStride]);
    EXPECT_EQ(absl::StrContains(c, "logo"), f[kUpperLogo]);
    EXPECT_EQ(absl::StrContains(c, "plaid"), f[kUpperPlaid]);
    EXPECT_EQ(absl::StrContains(c, "splice"), f[kUpperSplice]);
    EXPECT_EQ(absl::StrContains(c, "longcoat") ||
                  absl::StrContains(c, "coat that is long"),
              f[kLongCoat]);
    EXPECT_EQ(absl::StrContains(c, "skirt or dress"), f[kSkirtDress]);
    EXPECT_TRUE(absl::EndsWith(c, ".")) << c;
  }
}

// A caption determines its attribute set, so retrieval ground truth by
// caption is well defined.
TEST(PedestrianCaptionTest, DistinctFlagsNeverShareACaption) {
  std::mt19937_64 rng(11);
  std::map<std::string, std::string> owner;
  for (int i = 0; i < 3000; ++i) {
    const PedestrianFlags f = RandomFlags(rng);
    const std::string attr = PedestrianAttributeString(f);
    for (uint32_t v = 0; v < 6; ++v) {
      auto [it, inserted] = owner.emplace(PedestrianCaption(f, v), attr);
      if (!inserted) {
        EXPECT_EQ(it->second, attr) << it->first;
      }
    }
  }
}

}  // namespace
}  // namespace datagen
