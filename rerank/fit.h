// Fitting the re-ranking weights (rerank/reranker.h) on a validation split,
// and the ablation that comes with it.
//
// The validation split gives gallery embeddings and attribute probabilities,
// query-text embeddings and probabilities, and which images are relevant to
// which text. Each text's exact top-N by cosine is the short list the server
// would re-rank; a grid over the three weights picks the combination with the
// best mAP@10 (ties go to the earlier, smaller grid point). The same split
// then scores four configurations, the ablation:
//   baseline   cosine top-10 over the whole gallery
//   routed     cosine top-10 over the images of the query's predicted
//              category
//   reranked   the whole gallery's top-N, re-ranked
//   routed + reranked
//
// Cost: one exact similarity pass (texts x images x dim multiply-adds) and,
// per grid point, a weighted sum and partial sort over texts x N.
#ifndef RERANK_FIT_H_
#define RERANK_FIT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/category.h"
#include "eval/metric.h"
#include "rerank/reranker.h"

namespace rerank {

struct FitData {
  int64_t dim = 0;
  // [num_images, dim] L2-normalised, and [num_images, kSize] probabilities.
  std::vector<float> image_embeddings, image_probs;
  // The category each gallery image is filed under (what a routed search
  // filters on).
  std::vector<common::Category> image_categories;
  // [num_texts, dim] and [num_texts, kSize].
  std::vector<float> text_embeddings, text_probs;
  // The true category of each text, for the per-category scores.
  std::vector<common::Category> text_categories;
  // Whether image j is relevant to text i.
  std::function<bool(int64_t text, int64_t image)> relevant;
};

struct FitOptions {
  // Length of the short list that is re-ranked.
  int candidates = 100;
  // Values tried for each of the three weights.
  std::vector<double> grid = {0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0};
};

// Scores of one configuration.
struct ConfigScores {
  eval::RetrievalMetrics overall, pedestrian, vehicle;
};

struct FitResult {
  RerankWeights weights;
  int candidates = 0;
  ConfigScores baseline, routed, reranked, routed_reranked;
  // Texts whose predicted category is wrong.
  int64_t misrouted_texts = 0;

  // The ablation as an aligned table, one configuration a row: mAP@10 and
  // R@1 overall and per category.
  std::string Table() const;
  // Flat key/value form for manifests and safetensors metadata:
  // "rerank_val_map10_baseline", ... (values with 6 significant digits).
  std::vector<std::pair<std::string, std::string>> ToMetadata() const;
};

// INVALID_ARGUMENT when the sizes disagree, the split is empty, or
// options are out of range (candidates < 1, empty grid).
absl::StatusOr<FitResult> FitRerankWeights(const FitData& data,
                                           const FitOptions& options = {});

}  // namespace rerank

#endif  // RERANK_FIT_H_
