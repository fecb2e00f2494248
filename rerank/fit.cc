#include "rerank/fit.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eval/attributes.h"

namespace rerank {
namespace {

using common::Category;
using eval::AttributeLayout;

// A text's short list with the agreement terms of each candidate.
struct ShortList {
  std::vector<Candidate> candidates;  // by descending cosine
  std::vector<Agreement> agreement;
};

// Cosines of text `t` to every gallery image.
std::vector<float> Cosines(const FitData& d, int64_t t) {
  const int64_t num_images =
      static_cast<int64_t>(d.image_embeddings.size()) / d.dim;
  const float* q = d.text_embeddings.data() + t * d.dim;
  std::vector<float> sims(num_images);
  for (int64_t j = 0; j < num_images; ++j) {
    const float* e = d.image_embeddings.data() + j * d.dim;
    float s = 0;
    for (int64_t k = 0; k < d.dim; ++k) s += q[k] * e[k];
    sims[j] = s;
  }
  return sims;
}

// The exact top-`n` of text `t` by cosine (`sims`, from Cosines), over
// images whose category is `only` (every image when kUnspecified).
ShortList TopByCosine(const FitData& d, int64_t t,
                      const std::vector<float>& sims, int n, Category only) {
  const int64_t num_images = static_cast<int64_t>(sims.size());
  std::vector<Candidate> all;
  all.reserve(num_images);
  for (int64_t j = 0; j < num_images; ++j) {
    if (only != Category::kUnspecified && d.image_categories[j] != only) {
      continue;
    }
    all.push_back({j, sims[j], sims[j]});
  }
  const size_t keep = std::min<size_t>(n, all.size());
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.row < b.row;
  };
  std::partial_sort(all.begin(), all.begin() + keep, all.end(), better);
  all.resize(keep);
  ShortList list;
  const float* qp = d.text_probs.data() + t * AttributeLayout::kSize;
  for (const Candidate& c : all) {
    list.agreement.push_back(ComputeAgreement(
        qp, d.image_probs.data() + c.row * AttributeLayout::kSize));
  }
  list.candidates = std::move(all);
  return list;
}

// Scores every text's list re-ranked with `w` (cosine order when disabled).
ConfigScores Score(const FitData& d, const std::vector<ShortList>& lists,
                   const RerankWeights& w) {
  eval::MetricAccumulator acc;
  std::vector<std::pair<double, int64_t>> order;
  std::vector<int64_t> ranked;
  for (size_t t = 0; t < lists.size(); ++t) {
    const ShortList& l = lists[t];
    const float* qp = d.text_probs.data() + t * AttributeLayout::kSize;
    order.clear();
    for (size_t i = 0; i < l.candidates.size(); ++i) {
      const double s = w.enabled() ? CombinedScore(l.candidates[i].cosine,
                                                   l.agreement[i], qp, w)
                                   : l.candidates[i].cosine;
      order.push_back({-s, l.candidates[i].row});
    }
    const size_t k = std::min<size_t>(eval::kOfficialCutoff, order.size());
    std::partial_sort(order.begin(), order.begin() + k, order.end());
    ranked.clear();
    for (size_t i = 0; i < k; ++i) ranked.push_back(order[i].second);
    const int64_t text = static_cast<int64_t>(t);
    acc.Add(eval::ScoreRankedList(
                ranked, [&](int64_t img) { return d.relevant(text, img); }),
            d.text_categories[t]);
  }
  return {acc.Overall(), acc.ForCategory(Category::kPedestrian),
          acc.ForCategory(Category::kVehicle)};
}

absl::Status Check(const FitData& d, const FitOptions& o) {
  const size_t k = AttributeLayout::kSize;
  if (d.dim < 1 || d.image_embeddings.empty() || d.text_embeddings.empty()) {
    return absl::InvalidArgumentError("re-rank fit: empty split");
  }
  const size_t ni = d.image_embeddings.size() / d.dim;
  const size_t nt = d.text_embeddings.size() / d.dim;
  if (d.image_embeddings.size() != ni * d.dim ||
      d.text_embeddings.size() != nt * d.dim ||
      d.image_probs.size() != ni * k || d.text_probs.size() != nt * k ||
      d.image_categories.size() != ni || d.text_categories.size() != nt ||
      !d.relevant) {
    return absl::InvalidArgumentError("re-rank fit: inconsistent sizes");
  }
  if (o.candidates < 1 || o.grid.empty()) {
    return absl::InvalidArgumentError(
        "re-rank fit: candidates must be >= 1 and the grid non-empty");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FitResult> FitRerankWeights(const FitData& d,
                                           const FitOptions& o) {
  if (absl::Status s = Check(d, o); !s.ok()) return s;
  const int64_t nt = static_cast<int64_t>(d.text_embeddings.size()) / d.dim;
  const int n = std::max(o.candidates, eval::kOfficialCutoff);
  FitResult r;
  r.candidates = o.candidates;
  std::vector<ShortList> whole(nt), routed(nt);
  for (int64_t t = 0; t < nt; ++t) {
    const Category c =
        PredictedCategory(d.text_probs.data() + t * AttributeLayout::kSize);
    if (c != d.text_categories[t]) ++r.misrouted_texts;
    const std::vector<float> sims = Cosines(d, t);
    whole[t] = TopByCosine(d, t, sims, n, Category::kUnspecified);
    routed[t] = TopByCosine(d, t, sims, n, c);
  }
  r.baseline = Score(d, whole, RerankWeights());
  r.routed = Score(d, routed, RerankWeights());
  double best = -1;
  for (double wc : o.grid) {
    for (double wp : o.grid) {
      for (double wv : o.grid) {
        const RerankWeights w{wc, wp, wv};
        const ConfigScores s = Score(d, whole, w);
        if (s.overall.map_at_10 > best) {
          best = s.overall.map_at_10;
          r.weights = w;
          r.reranked = s;
        }
      }
    }
  }
  r.routed_reranked = Score(d, routed, r.weights);
  return r;
}

std::string FitResult::Table() const {
  std::string out = absl::StrFormat("%-20s %8s %8s %10s %10s %8s %8s\n",
                                    "configuration", "mAP@10", "R@1", "ped mAP",
                                    "veh mAP", "ped R@1", "veh R@1");
  auto row = [&](const char* name, const ConfigScores& s) {
    absl::StrAppendFormat(&out, "%-20s %8.4f %8.4f %10.4f %10.4f %8.4f %8.4f\n",
                          name, s.overall.map_at_10, s.overall.recall_at_1,
                          s.pedestrian.map_at_10, s.vehicle.map_at_10,
                          s.pedestrian.recall_at_1, s.vehicle.recall_at_1);
  };
  row("baseline (cosine)", baseline);
  row("+ routing", routed);
  row("+ re-ranking", reranked);
  row("+ routing+re-rank", routed_reranked);
  return out;
}

std::vector<std::pair<std::string, std::string>> FitResult::ToMetadata() const {
  std::vector<std::pair<std::string, std::string>> m;
  auto add = [&](const std::string& name, const ConfigScores& s) {
    m.push_back({"rerank_val_map10_" + name,
                 absl::StrFormat("%.6g", s.overall.map_at_10)});
    m.push_back({"rerank_val_recall1_" + name,
                 absl::StrFormat("%.6g", s.overall.recall_at_1)});
  };
  add("baseline", baseline);
  add("routed", routed);
  add("reranked", reranked);
  add("routed_reranked", routed_reranked);
  m.push_back({"rerank_misrouted_texts", absl::StrCat(misrouted_texts)});
  return m;
}

}  // namespace rerank
