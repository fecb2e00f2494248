// Re-ranking a short list of CLIP candidates by attribute agreement, and
// routing a query to its category.
//
// For a query with predicted attribute probabilities q (text head) and a
// gallery image with p (image head, eval::AttributeLayout groups), the
// agreement terms are log-likelihoods that the two carry the same label:
//   category    A_c = log sum_c q_c p_c
//   pedestrian  A_p = sum over the 21 flags of log(q_f p_f + (1-q_f)(1-p_f))
//   vehicle     A_v = sum over colour, type, brand of log sum_c q_c p_c
// (each probability sum floored at 1e-6), and the re-ranked score is
//   score = cosine + w_c A_c + q_ped w_p A_p + q_veh w_v A_v
// with q_ped, q_veh the query's category probabilities. Every term is <= 0,
// so a score is at most the cosine. The weights are fitted on a validation
// split (rerank/fit.h) and travel with the model version's manifest.
//
// Everything here is a pure function of its arguments; thread-safe.
#ifndef RERANK_RERANKER_H_
#define RERANK_RERANKER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/category.h"

namespace rerank {

struct RerankWeights {
  double category = 0;
  double pedestrian = 0;
  double vehicle = 0;

  bool enabled() const {
    return category != 0 || pedestrian != 0 || vehicle != 0;
  }
  // "category=0.5,pedestrian=0.1,vehicle=0.2"
  std::string ToString() const;
  // Parses ToString's form; INVALID_ARGUMENT naming the bad part (unknown
  // key, non-number, negative or non-finite weight).
  static absl::StatusOr<RerankWeights> Parse(absl::string_view text);

  friend bool operator==(const RerankWeights& a, const RerankWeights& b) {
    return a.category == b.category && a.pedestrian == b.pedestrian &&
           a.vehicle == b.vehicle;
  }
};

// The three agreement terms of one (query, image) pair.
struct Agreement {
  float category = 0;
  float pedestrian = 0;
  float vehicle = 0;
};

// q, p: kSize probabilities each.
Agreement ComputeAgreement(const float* query_probs, const float* image_probs);

// cosine + the weighted terms (see above).
double CombinedScore(float cosine, const Agreement& a, const float* query_probs,
                     const RerankWeights& w);

// The category whose probability is larger (ties: pedestrian).
common::Category PredictedCategory(const float* probs);

// One candidate of a short list: a gallery row and its score.
struct Candidate {
  int64_t row = -1;
  float score = 0;   // the re-ranked score after Rerank
  float cosine = 0;  // the CLIP similarity
};

// Re-scores `candidates` (scores are cosines on entry) with the query's
// probabilities against `image_probs` (row r at r * kSize) and sorts them
// by the combined score, best first (ties by row). Rows must be in range.
void Rerank(const float* query_probs, const float* image_probs,
            const RerankWeights& weights, std::vector<Candidate>* candidates);

}  // namespace rerank

#endif  // RERANK_RERANKER_H_
