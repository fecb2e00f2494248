#include "rerank/reranker.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eval/attributes.h"

namespace rerank {
namespace {

using eval::AttributeLayout;

constexpr float kFloor = 1e-6f;

float LogDot(const float* q, const float* p, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += q[i] * p[i];
  return std::log(std::max(s, kFloor));
}

}  // namespace

std::string RerankWeights::ToString() const {
  return absl::StrCat("category=", category, ",pedestrian=", pedestrian,
                      ",vehicle=", vehicle);
}

absl::StatusOr<RerankWeights> RerankWeights::Parse(absl::string_view text) {
  RerankWeights w;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(part, '=');
    double v = 0;
    if (kv.size() != 2 || !absl::SimpleAtod(kv[1], &v) || !std::isfinite(v) ||
        v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("re-rank weights \"", text, "\": \"", part,
                       "\" is not <name>=<non-negative number>"));
    }
    if (kv[0] == "category") {
      w.category = v;
    } else if (kv[0] == "pedestrian") {
      w.pedestrian = v;
    } else if (kv[0] == "vehicle") {
      w.vehicle = v;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("re-rank weights \"", text, "\": unknown weight \"",
                       kv[0], "\" (category, pedestrian, vehicle)"));
    }
  }
  return w;
}

Agreement ComputeAgreement(const float* q, const float* p) {
  Agreement a;
  a.category =
      LogDot(q + AttributeLayout::kCategory, p + AttributeLayout::kCategory,
             AttributeLayout::kNumCategories);
  for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
    const float qf = q[AttributeLayout::kFlags + f];
    const float pf = p[AttributeLayout::kFlags + f];
    a.pedestrian += std::log(std::max(qf * pf + (1 - qf) * (1 - pf), kFloor));
  }
  for (int f = 0; f < eval::kNumVehicleFields; ++f) {
    const auto field = static_cast<eval::VehicleField>(f);
    const int o = AttributeLayout::Offset(field);
    a.vehicle += LogDot(q + o, p + o, AttributeLayout::Classes(field));
  }
  return a;
}

double CombinedScore(float cosine, const Agreement& a, const float* q,
                     const RerankWeights& w) {
  const float q_ped = q[AttributeLayout::kCategory];
  const float q_veh = q[AttributeLayout::kCategory + 1];
  return cosine + w.category * a.category +
         q_ped * w.pedestrian * a.pedestrian + q_veh * w.vehicle * a.vehicle;
}

common::Category PredictedCategory(const float* probs) {
  return probs[AttributeLayout::kCategory + 1] >
                 probs[AttributeLayout::kCategory]
             ? common::Category::kVehicle
             : common::Category::kPedestrian;
}

void Rerank(const float* query_probs, const float* image_probs,
            const RerankWeights& weights, std::vector<Candidate>* candidates) {
  for (Candidate& c : *candidates) {
    c.cosine = c.score;
    const Agreement a = ComputeAgreement(
        query_probs, image_probs + c.row * AttributeLayout::kSize);
    c.score =
        static_cast<float>(CombinedScore(c.cosine, a, query_probs, weights));
  }
  std::sort(candidates->begin(), candidates->end(),
            [](const Candidate& x, const Candidate& y) {
              return x.score != y.score ? x.score > y.score : x.row < y.row;
            });
}

}  // namespace rerank
