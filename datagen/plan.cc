// The dataset plan: option checks, which attribute set, caption, name and
// seeds every image of every split gets, and the queries.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "datagen/datagen.h"
#include "datagen/rng.h"

namespace datagen {
namespace {

using internal::kTagNames;
using internal::kTagPedestrianPool;
using internal::kTagQueries;
using internal::kTagRender;
using internal::kTagSplitPlan;
using internal::kTagVehiclePool;
using internal::Rng;
using internal::SeedFor;

// `count` entries over [0, pool): whole shuffled passes over the pool, so
// every set appears floor(count/pool) or one more times; then shuffled.
std::vector<int> BalancedDraw(int count, int pool, Rng& rng) {
  std::vector<int> out;
  out.reserve(count);
  std::vector<int> pass(pool);
  while (static_cast<int>(out.size()) < count) {
    for (int i = 0; i < pool; ++i) pass[i] = i;
    rng.Shuffle(pass);
    for (int i = 0; i < pool && static_cast<int>(out.size()) < count; ++i) {
      out.push_back(pass[i]);
    }
  }
  rng.Shuffle(out);
  return out;
}

std::string VehicleName(Rng& rng) {
  std::string name(10, 'a');
  for (char& c : name) c = static_cast<char>('a' + rng.Int(0, 25));
  return name + ".jpg";
}

std::string PedestrianName(Rng& rng) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%06d.jpg", rng.Int(0, 999999));
  return buf;
}

constexpr int kMaxTotalImages = 500000;

}  // namespace

absl::Status ValidateDatagenOptions(const DatagenOptions& o) {
  if (o.output_dir.empty()) {
    return absl::InvalidArgumentError("output_dir must not be empty");
  }
  if (o.train_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("train_size must be >= 1, got ", o.train_size));
  }
  if (o.val_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("val_size must be >= 0, got ", o.val_size));
  }
  if (o.test_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("test_size must be >= 1, got ", o.test_size));
  }
  if (static_cast<int64_t>(o.train_size) + o.val_size + o.test_size >
      kMaxTotalImages) {
    return absl::InvalidArgumentError(absl::StrCat(
        "train_size + val_size + test_size must be <= ", kMaxTotalImages,
        " (6-digit pedestrian names), got ",
        static_cast<int64_t>(o.train_size) + o.val_size + o.test_size));
  }
  if (o.num_queries < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_queries must be >= 0, got ", o.num_queries));
  }
  if (!(o.vehicle_fraction >= 0.0 && o.vehicle_fraction <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vehicle_fraction must be in [0, 1], got ", o.vehicle_fraction));
  }
  if (o.vehicle_pool_size < 1 || o.vehicle_pool_size > kMaxVehiclePoolSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("vehicle_pool_size must be in [1, ", kMaxVehiclePoolSize,
                     "], got ", o.vehicle_pool_size));
  }
  if (o.pedestrian_pool_size < 1 ||
      o.pedestrian_pool_size > kMaxPedestrianPoolSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pedestrian_pool_size must be in [1, ", kMaxPedestrianPoolSize,
        "], got ", o.pedestrian_pool_size));
  }
  if (o.pedestrian_caption_variants < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pedestrian_caption_variants must be >= 1, got ",
                     o.pedestrian_caption_variants));
  }
  if (o.jpeg_quality < 30 || o.jpeg_quality > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jpeg_quality must be in [30, 100], got ", o.jpeg_quality));
  }
  if (o.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be >= 1, got ", o.threads));
  }
  return absl::OkStatus();
}

absl::StatusOr<DatasetPlan> PlanDataset(const DatagenOptions& o) {
  RETURN_IF_ERROR(ValidateDatagenOptions(o));
  DatasetPlan plan;
  plan.pool =
      MakeVehiclePool(o.vehicle_pool_size, SeedFor(o.seed, kTagVehiclePool, 0));
  const int num_vehicle_sets = static_cast<int>(plan.pool.size());
  for (AttributeSet& s : MakePedestrianPool(
           o.pedestrian_pool_size, SeedFor(o.seed, kTagPedestrianPool, 0))) {
    plan.pool.push_back(std::move(s));
  }
  const int num_pedestrian_sets =
      static_cast<int>(plan.pool.size()) - num_vehicle_sets;

  Rng names(SeedFor(o.seed, kTagNames, 0));
  std::set<std::string> used_names;
  std::vector<PlannedImage>* splits[] = {&plan.train, &plan.val, &plan.test};
  const int sizes[] = {o.train_size, o.val_size, o.test_size};
  for (int s = 0; s < 3; ++s) {
    Rng rng(SeedFor(o.seed, kTagSplitPlan + s, 0));
    const int n = sizes[s];
    const int n_vehicle = static_cast<int>(std::lround(n * o.vehicle_fraction));
    std::vector<char> is_vehicle(n, 0);
    for (int i = 0; i < n_vehicle; ++i) is_vehicle[i] = 1;
    rng.Shuffle(is_vehicle);
    const std::vector<int> vehicle_sets =
        BalancedDraw(n_vehicle, num_vehicle_sets, rng);
    const std::vector<int> pedestrian_sets =
        BalancedDraw(n - n_vehicle, num_pedestrian_sets, rng);
    size_t next_vehicle = 0, next_pedestrian = 0;
    std::vector<PlannedImage>& out = *splits[s];
    out.reserve(n);
    for (int i = 0; i < n; ++i) {
      PlannedImage image;
      image.attribute_set =
          is_vehicle[i] ? vehicle_sets[next_vehicle++]
                        : num_vehicle_sets + pedestrian_sets[next_pedestrian++];
      const AttributeSet& set = plan.pool[image.attribute_set];
      image.caption_variant = rng.Int(
          0, NumCaptionVariants(set, o.pedestrian_caption_variants) - 1);
      image.render_seed = SeedFor(o.seed, kTagRender + s, i);
      image.jpeg_quality = std::max(30, o.jpeg_quality - rng.Int(0, 15));
      do {
        image.name = set.kind == SampleKind::kVehicle ? VehicleName(names)
                                                      : PedestrianName(names);
      } while (!used_names.insert(image.name).second);
      out.push_back(std::move(image));
    }
  }

  // Queries: distinct test captions in order of first appearance.
  std::vector<std::string> distinct;
  std::set<std::string> seen;
  for (const PlannedImage& image : plan.test) {
    std::string text =
        Caption(plan.pool[image.attribute_set], image.caption_variant);
    if (seen.insert(text).second) distinct.push_back(std::move(text));
  }
  if (o.num_queries > 0 && o.num_queries < static_cast<int>(distinct.size())) {
    std::vector<int> order(distinct.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    Rng rng(SeedFor(o.seed, kTagQueries, 0));
    rng.Shuffle(order);
    order.resize(o.num_queries);
    std::sort(order.begin(), order.end());
    for (int i : order) plan.queries.push_back(distinct[i]);
  } else {
    plan.queries = std::move(distinct);
  }
  return plan;
}

std::string LabelLine(const DatasetPlan& plan, const PlannedImage& image) {
  const AttributeSet& set = plan.pool[image.attribute_set];
  return absl::StrCat(image.name, "$", AttributeString(set), "$",
                      Caption(set, image.caption_variant));
}

}  // namespace datagen
