#include "rerank/attribute_head.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "eval/attributes.h"

namespace rerank {
namespace {

using eval::AttributeLayout;

void Softmax(float* x, int n) {
  const float m = *std::max_element(x, x + n);
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  for (int i = 0; i < n; ++i) x[i] /= sum;
}

}  // namespace

const char* TowerName(Tower tower) {
  return tower == Tower::kImage ? "image" : "text";
}

std::string HeadWeightName(Tower tower) {
  return absl::StrCat("attribute_head.", TowerName(tower), ".weight");
}

std::string HeadBiasName(Tower tower) {
  return absl::StrCat("attribute_head.", TowerName(tower), ".bias");
}

void LogitsToProbabilities(float* rows, int64_t n) {
  for (int64_t r = 0; r < n; ++r) {
    float* x = rows + r * AttributeLayout::kSize;
    Softmax(x + AttributeLayout::kCategory, AttributeLayout::kNumCategories);
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      float& v = x[AttributeLayout::kFlags + f];
      v = 1.0f / (1.0f + std::exp(-v));
    }
    for (int f = 0; f < eval::kNumVehicleFields; ++f) {
      const auto field = static_cast<eval::VehicleField>(f);
      Softmax(x + AttributeLayout::Offset(field),
              AttributeLayout::Classes(field));
    }
  }
}

absl::StatusOr<AttributeHead> AttributeHead::FromWeights(
    std::vector<float> weight, std::vector<float> bias, int64_t dim) {
  if (dim < 1 ||
      weight.size() != static_cast<size_t>(AttributeLayout::kSize * dim) ||
      bias.size() != static_cast<size_t>(AttributeLayout::kSize)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attribute head of ", weight.size(), " weights and ", bias.size(),
        " biases does not fit [", AttributeLayout::kSize, ", ", dim, "]"));
  }
  return AttributeHead(std::move(weight), std::move(bias), dim);
}

bool AttributeHead::PresentIn(const clip::SafetensorsFile& file) {
  for (Tower t : {Tower::kImage, Tower::kText}) {
    if (!file.contains(HeadWeightName(t)) || !file.contains(HeadBiasName(t))) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<AttributeHead> AttributeHead::Read(
    const clip::SafetensorsFile& file, Tower tower) {
  auto layout = file.metadata().find(kAttributeLayoutKey);
  const std::string expected = eval::AttributeLayoutId();
  if (file.contains(HeadWeightName(tower)) &&
      (layout == file.metadata().end() || layout->second != expected)) {
    return absl::FailedPreconditionError(
        absl::StrCat(file.source(), ": attribute heads of layout \"",
                     layout == file.metadata().end() ? "" : layout->second,
                     "\", this build reads \"", expected, "\""));
  }
  ASSIGN_OR_RETURN(clip::TensorView w, file.Get(HeadWeightName(tower)));
  if (w.shape.size() != 2 || w.shape[0] != AttributeLayout::kSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.source(), ": ", w.name, " must be [",
                     AttributeLayout::kSize, ", embed_dim]"));
  }
  ASSIGN_OR_RETURN(std::vector<float> weight,
                   file.GetF32(HeadWeightName(tower)));
  ASSIGN_OR_RETURN(std::vector<float> bias, file.GetF32(HeadBiasName(tower)));
  absl::StatusOr<AttributeHead> head =
      FromWeights(std::move(weight), std::move(bias), w.shape[1]);
  if (!head.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.source(), ": ", head.status().message()));
  }
  return head;
}

std::vector<float> AttributeHead::Predict(const float* embeddings,
                                          int64_t n) const {
  constexpr int64_t k = AttributeLayout::kSize;
  std::vector<float> out(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r) {
    const float* e = embeddings + r * dim_;
    float* o = out.data() + r * k;
    for (int64_t j = 0; j < k; ++j) {
      const float* w = weight_.data() + j * dim_;
      float acc = bias_[j];
      for (int64_t d = 0; d < dim_; ++d) acc += w[d] * e[d];
      o[j] = acc;
    }
  }
  LogitsToProbabilities(out.data(), n);
  return out;
}

}  // namespace rerank
