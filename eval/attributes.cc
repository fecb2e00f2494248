#include "eval/attributes.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datagen/caption_templates.h"

namespace eval {
namespace {

int IndexOf(const std::vector<std::string>& names, absl::string_view name) {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

void Count(AttributeParseStats* stats, VehicleField field,
           absl::string_view value) {
  if (stats != nullptr) {
    ++stats->unknown[static_cast<int>(field)][std::string(value)];
  }
}

// The vocabularies must be the sizes the layout was built for.
static_assert(AttributeLayout::kSize == 2 + 21 + 13 + 8 + 67);

}  // namespace

const char* VehicleFieldName(VehicleField field) {
  switch (field) {
    case VehicleField::kColor:
      return "colour";
    case VehicleField::kType:
      return "type";
    case VehicleField::kBrand:
      return "brand";
  }
  return "?";
}

const std::vector<std::string>& VehicleFieldVocabulary(VehicleField field) {
  switch (field) {
    case VehicleField::kColor:
      return datagen::VehicleColorNames();
    case VehicleField::kType:
      return datagen::VehicleTypeNames();
    case VehicleField::kBrand:
      break;
  }
  return datagen::VehicleBrandNames();
}

int VehicleFieldClasses(VehicleField field) {
  return AttributeLayout::Classes(field);
}
int OtherClass(VehicleField field) { return VehicleFieldClasses(field) - 2; }
int NoneClass(VehicleField field) { return VehicleFieldClasses(field) - 1; }

std::string VehicleClassName(VehicleField field, int c) {
  if (c == OtherClass(field)) return "other";
  if (c == NoneClass(field)) return "none";
  const auto& vocab = VehicleFieldVocabulary(field);
  if (c >= 0 && c < static_cast<int>(vocab.size())) return vocab[c];
  return "?";
}

int AttributeLayout::Offset(VehicleField field) {
  switch (field) {
    case VehicleField::kColor:
      return kColor;
    case VehicleField::kType:
      return kType;
    case VehicleField::kBrand:
      break;
  }
  return kBrand;
}

int AttributeLayout::Classes(VehicleField field) {
  switch (field) {
    case VehicleField::kColor:
      return kColorClasses;
    case VehicleField::kType:
      return kTypeClasses;
    case VehicleField::kBrand:
      break;
  }
  return kBrandClasses;
}

std::string AttributeLayoutId() {
  return absl::StrCat(
      "category", AttributeLayout::kNumCategories, ",flags",
      kNumPedestrianFlags, ",colour", AttributeLayout::kColorClasses, ",type",
      AttributeLayout::kTypeClasses, ",brand", AttributeLayout::kBrandClasses);
}

int CategoryClass(Category category) {
  switch (category) {
    case Category::kPedestrian:
      return 0;
    case Category::kVehicle:
      return 1;
    default:
      return -1;
  }
}

std::string AttributeParseStats::Summary() const {
  std::vector<std::string> parts;
  for (int f = 0; f < kNumVehicleFields; ++f) {
    if (unknown[f].empty()) continue;
    std::vector<std::pair<int64_t, std::string>> by_count;
    int64_t total = 0;
    for (const auto& [value, n] : unknown[f]) {
      by_count.push_back({-n, value});
      total += n;
    }
    std::sort(by_count.begin(), by_count.end());
    std::vector<std::string> shown;
    for (size_t i = 0; i < by_count.size() && i < 5; ++i) {
      shown.push_back(
          absl::StrCat("\"", by_count[i].second, "\" x", -by_count[i].first));
    }
    if (by_count.size() > 5) shown.push_back("...");
    parts.push_back(absl::StrCat(
        total, " unknown ", VehicleFieldName(static_cast<VehicleField>(f)),
        " values mapped to other (", absl::StrJoin(shown, ", "), ")"));
  }
  return absl::StrJoin(parts, "; ");
}

absl::StatusOr<AttributeTargets> ParseAttributeTargets(
    absl::string_view attribute, AttributeParseStats* stats) {
  absl::StatusOr<Category> category = ClassifyAttribute(attribute);
  if (!category.ok()) return category.status();
  AttributeTargets t;
  t.category = *category;
  if (t.category == Category::kPedestrian) {
    for (int f = 0; f < kNumPedestrianFlags; ++f) {
      t.flags[f] = attribute[2 * f] == '1' ? 1 : 0;
    }
    return t;
  }
  constexpr int kColor = static_cast<int>(VehicleField::kColor);
  constexpr int kBrand = static_cast<int>(VehicleField::kBrand);
  for (int f = 0; f < kNumVehicleFields; ++f) {
    t.vehicle[f] = NoneClass(static_cast<VehicleField>(f));
  }
  absl::string_view body = absl::StripAsciiWhitespace(attribute);
  if (!body.empty() && body.back() == '.') body.remove_suffix(1);
  body = absl::StripAsciiWhitespace(body);
  // The rest after an optional colour: a brand (names may contain spaces,
  // "Balong Heavy Truck") or a type.
  auto parse_rest = [&](absl::string_view rest) {
    const int brand =
        IndexOf(VehicleFieldVocabulary(VehicleField::kBrand), rest);
    const int type = IndexOf(VehicleFieldVocabulary(VehicleField::kType), rest);
    if (brand >= 0) {
      t.vehicle[kBrand] = brand;
    } else if (type >= 0) {
      t.vehicle[static_cast<int>(VehicleField::kType)] = type;
    } else {
      t.vehicle[kBrand] = OtherClass(VehicleField::kBrand);
      Count(stats, VehicleField::kBrand, rest);
    }
  };
  const size_t space = body.find(' ');
  if (space != absl::string_view::npos) {
    absl::string_view first = body.substr(0, space);
    const int color =
        IndexOf(VehicleFieldVocabulary(VehicleField::kColor), first);
    const bool whole_known =
        IndexOf(VehicleFieldVocabulary(VehicleField::kBrand), body) >= 0;
    if (color >= 0 && !whole_known) {
      t.vehicle[kColor] = color;
      parse_rest(absl::StripAsciiWhitespace(body.substr(space + 1)));
      return t;
    }
    // Two or more words whose first is not a colour and that are not a known
    // brand: "<unknown colour> <brand>" when the rest is a brand.
    absl::string_view rest = absl::StripAsciiWhitespace(body.substr(space + 1));
    if (!whole_known &&
        IndexOf(VehicleFieldVocabulary(VehicleField::kBrand), rest) >= 0) {
      t.vehicle[kColor] = OtherClass(VehicleField::kColor);
      Count(stats, VehicleField::kColor, first);
      parse_rest(rest);
      return t;
    }
  }
  parse_rest(body);
  return t;
}

absl::StatusOr<std::vector<AttributeTargets>> ParseRecordTargets(
    const std::vector<LabelRecord>& records, absl::string_view source,
    AttributeParseStats* stats) {
  std::vector<AttributeTargets> out;
  out.reserve(records.size());
  for (const LabelRecord& r : records) {
    absl::StatusOr<AttributeTargets> t =
        ParseAttributeTargets(r.attribute, stats);
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", r.line, ": attribute \"", r.attribute,
                       "\": ", t.status().message()));
    }
    out.push_back(*t);
  }
  return out;
}

std::vector<float> TargetsToVector(const AttributeTargets& t) {
  std::vector<float> v(AttributeLayout::kSize, 0.0f);
  const int c = CategoryClass(t.category);
  if (c >= 0) v[AttributeLayout::kCategory + c] = 1.0f;
  if (t.category == Category::kPedestrian) {
    for (int f = 0; f < kNumPedestrianFlags; ++f) {
      v[AttributeLayout::kFlags + f] = t.flags[f];
    }
  }
  for (int f = 0; f < kNumVehicleFields; ++f) {
    if (t.vehicle[f] >= 0) {
      v[AttributeLayout::Offset(static_cast<VehicleField>(f)) + t.vehicle[f]] =
          1.0f;
    }
  }
  return v;
}

}  // namespace eval
