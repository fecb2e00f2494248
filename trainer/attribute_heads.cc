#include "trainer/attribute_heads.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace trainer {
namespace {

using eval::AttributeLayout;
namespace F = torch::nn::functional;

constexpr int64_t kIgnore = -100;

torch::Tensor Int64(const std::vector<int64_t>& v, torch::Device device) {
  return torch::tensor(v, torch::kInt64).to(device);
}

// Cross-entropy over the logits' columns [offset, offset + n) against
// `target` (kIgnore rows left out); 0 when every row is ignored.
torch::Tensor GroupCrossEntropy(const torch::Tensor& logits, int64_t offset,
                                int64_t n, const torch::Tensor& target) {
  const torch::Tensor valid = target.ne(kIgnore);
  if (valid.sum().item<int64_t>() == 0) return logits.sum() * 0;
  return F::cross_entropy(logits.narrow(1, offset, n).index({valid}),
                          target.index({valid}));
}

}  // namespace

AttributeHeadsImpl::AttributeHeadsImpl(int64_t embed_dim) {
  image = register_module("image",
                          torch::nn::Linear(embed_dim, AttributeLayout::kSize));
  text = register_module("text",
                         torch::nn::Linear(embed_dim, AttributeLayout::kSize));
}

absl::StatusOr<AttributeTargetTable> BuildTargetTable(
    const PairDataset& dataset, torch::Device device) {
  AttributeTargetTable t;
  const int64_t n = static_cast<int64_t>(dataset.attributes().size());
  std::vector<int64_t> category(n);
  std::vector<float> flags(n * eval::kNumPedestrianFlags), pedestrian(n);
  std::array<std::vector<int64_t>, eval::kNumVehicleFields> vehicle;
  for (auto& v : vehicle) v.assign(n, kIgnore);
  for (int64_t a = 0; a < n; ++a) {
    absl::StatusOr<eval::AttributeTargets> parsed =
        eval::ParseAttributeTargets(dataset.attributes()[a], &t.stats);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          dataset.source(), ": attribute \"", dataset.attributes()[a],
          "\": ", parsed.status().message()));
    }
    const int c = eval::CategoryClass(parsed->category);
    category[a] = c < 0 ? kIgnore : c;
    pedestrian[a] = parsed->category == eval::Category::kPedestrian ? 1 : 0;
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      flags[a * eval::kNumPedestrianFlags + f] = parsed->flags[f];
    }
    for (int f = 0; f < eval::kNumVehicleFields; ++f) {
      if (parsed->vehicle[f] >= 0) vehicle[f][a] = parsed->vehicle[f];
    }
  }
  t.category = Int64(category, device);
  t.flags =
      torch::tensor(flags).reshape({n, eval::kNumPedestrianFlags}).to(device);
  t.pedestrian = torch::tensor(pedestrian).to(device);
  for (int f = 0; f < eval::kNumVehicleFields; ++f) {
    t.vehicle[f] = Int64(vehicle[f], device);
  }
  return t;
}

torch::Tensor AttributeLoss(const torch::Tensor& logits,
                            const torch::Tensor& ids,
                            const AttributeTargetTable& targets) {
  torch::Tensor loss = GroupCrossEntropy(logits, AttributeLayout::kCategory,
                                         AttributeLayout::kNumCategories,
                                         targets.category.index_select(0, ids));
  const torch::Tensor ped = targets.pedestrian.index_select(0, ids);
  const torch::Tensor num_ped = ped.sum();
  if (num_ped.item<float>() > 0) {
    const torch::Tensor bce = F::binary_cross_entropy_with_logits(
        logits.narrow(1, AttributeLayout::kFlags, eval::kNumPedestrianFlags),
        targets.flags.index_select(0, ids),
        F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
    loss = loss + (bce.sum(1) * ped).sum() / num_ped;
  }
  for (int f = 0; f < eval::kNumVehicleFields; ++f) {
    const auto field = static_cast<eval::VehicleField>(f);
    loss = loss + GroupCrossEntropy(logits, AttributeLayout::Offset(field),
                                    AttributeLayout::Classes(field),
                                    targets.vehicle[f].index_select(0, ids));
  }
  return loss;
}

}  // namespace trainer
