// Attribute sets: their label strings, captions and the seeded pools.
#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "datagen/datagen.h"
#include "datagen/render_vehicle.h"
#include "datagen/rng.h"

namespace datagen {

using internal::kBus;
using internal::kTruck;
using internal::Rng;

std::string AttributeString(const AttributeSet& set) {
  return set.kind == SampleKind::kVehicle
             ? VehicleAttributeString(set.vehicle)
             : PedestrianAttributeString(set.pedestrian);
}

int NumCaptionVariants(const AttributeSet& set, int pedestrian_variants) {
  return set.kind == SampleKind::kVehicle ? kNumVehicleCaptionVariants
                                          : pedestrian_variants;
}

std::string Caption(const AttributeSet& set, int variant) {
  return set.kind == SampleKind::kVehicle
             ? VehicleCaption(set.vehicle, variant)
             : PedestrianCaption(set.pedestrian,
                                 static_cast<uint32_t>(variant));
}

std::vector<AttributeSet> MakeVehiclePool(int size, uint64_t seed) {
  Rng rng(seed);
  const int num_colors = static_cast<int>(VehicleColorNames().size());
  const int num_types = static_cast<int>(VehicleTypeNames().size());
  const int num_brands = static_cast<int>(VehicleBrandNames().size());

  // Brand-only sets use truck and bus brands, as in the real labels; those
  // brands then stay out of the colour + brand sets.
  std::vector<int> heavy, light;
  for (int b = 0; b < num_brands; ++b) {
    const int t = BrandVehicleType(b);
    (t == kTruck || t == kBus ? heavy : light).push_back(b);
  }
  rng.Shuffle(heavy);
  const int n_type = size >= 10 ? std::min(num_types, (size + 5) / 10) : 0;
  const int n_brand_only =
      size >= 20 ? std::min<int>(heavy.size(), (size + 10) / 20) : 0;
  const int n_combo = size - n_type - n_brand_only;

  std::vector<AttributeSet> pool;
  std::vector<int> types(num_types);
  for (int t = 0; t < num_types; ++t) types[t] = t;
  rng.Shuffle(types);
  for (int i = 0; i < n_type; ++i) {
    AttributeSet s;
    s.kind = SampleKind::kVehicle;
    s.vehicle.type = types[i];
    pool.push_back(s);
  }
  for (int i = 0; i < n_brand_only; ++i) {
    AttributeSet s;
    s.kind = SampleKind::kVehicle;
    s.vehicle.brand = heavy[i];
    s.vehicle.type = BrandVehicleType(heavy[i]);
    pool.push_back(s);
  }
  // Colour + brand over about n_combo / 3 brands, each brand at least once.
  std::vector<int> brands = light;
  brands.insert(brands.end(), heavy.begin() + n_brand_only, heavy.end());
  rng.Shuffle(brands);
  const int n_brands =
      std::min<int>(brands.size(), std::max(1, (n_combo + 2) / 3));
  brands.resize(n_brands);
  std::vector<std::pair<int, int>> pairs;  // (brand, colour)
  std::set<std::pair<int, int>> used;
  for (int b : brands) {
    if (static_cast<int>(pairs.size()) >= n_combo) break;
    const std::pair<int, int> pr{b, rng.Int(0, num_colors - 1)};
    pairs.push_back(pr);
    used.insert(pr);
  }
  std::vector<std::pair<int, int>> rest;
  for (int b : brands) {
    for (int c = 0; c < num_colors; ++c) {
      if (!used.count({b, c})) rest.push_back({b, c});
    }
  }
  rng.Shuffle(rest);
  for (size_t i = 0;
       static_cast<int>(pairs.size()) < n_combo && i < rest.size(); ++i) {
    pairs.push_back(rest[i]);
  }
  for (const auto& [b, c] : pairs) {
    AttributeSet s;
    s.kind = SampleKind::kVehicle;
    s.vehicle.brand = b;
    s.vehicle.color = c;
    s.vehicle.type = BrandVehicleType(b);
    pool.push_back(s);
  }
  return pool;
}

std::vector<AttributeSet> MakePedestrianPool(int size, uint64_t seed) {
  Rng rng(seed);
  std::vector<AttributeSet> pool;
  std::set<std::string> seen;
  while (static_cast<int>(pool.size()) < size) {
    PedestrianFlags f{};
    f[kFemale] = rng.Chance(0.5);
    const double age = rng.Uniform();
    f[age < 0.6 ? kAge18To60 : (age < 0.8 ? kAgeLess18 : kAgeOver60)] = true;
    f[kFront + rng.Int(0, 2)] = true;
    f[kHat] = rng.Chance(0.2);
    f[kGlasses] = rng.Chance(0.25);
    f[kHandBag] = rng.Chance(0.2);
    f[kShoulderBag] = rng.Chance(0.2);
    f[kBackpack] = rng.Chance(0.25);
    f[kHoldObjectsInFront] = rng.Chance(0.1);
    if (f[kHandBag] + f[kShoulderBag] + f[kBackpack] + f[kHoldObjectsInFront] >
        2) {
      continue;
    }
    f[kLongCoat] = rng.Chance(0.12);
    // A coat covers the arms: always long sleeves.
    f[f[kLongCoat] || rng.Chance(0.45) ? kLongSleeve : kShortSleeve] = true;
    const int pattern = rng.Int(0, 7);  // none for 0..3
    if (pattern >= 4) f[kUpperStride + (pattern - 4)] = true;
    f[kSkirtDress] = f[kFemale] && !f[kLongCoat] && rng.Chance(0.3);
    AttributeSet s;
    s.kind = SampleKind::kPedestrian;
    s.pedestrian = f;
    if (seen.insert(PedestrianAttributeString(f)).second) pool.push_back(s);
  }
  return pool;
}

}  // namespace datagen
