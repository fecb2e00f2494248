#include "eval/metric.h"

namespace eval {

QueryScore ScoreRankedNames(const std::vector<std::string>& ranked,
                            const std::unordered_set<std::string>& relevant,
                            const RankingOptions& options) {
  return ScoreRankedList(
      ranked,
      [&relevant](const std::string& name) { return relevant.count(name) > 0; },
      options);
}

void MetricAccumulator::Add(const QueryScore& score, Category category) {
  AddTo(score, overall_);
  AddTo(score, per_category_[static_cast<int>(category)]);
}

RetrievalMetrics MetricAccumulator::ForCategory(Category category) const {
  return Finish(per_category_[static_cast<int>(category)]);
}

void MetricAccumulator::AddTo(const QueryScore& score, Sums& sums) {
  ++sums.num_queries;
  sums.ap_sum += score.average_precision;
  const int first = score.first_hit_rank;
  if (first == 1) ++sums.hit_at_1;
  if (first >= 1 && first <= 5) ++sums.hit_at_5;
  if (first >= 1 && first <= 10) ++sums.hit_at_10;
}

RetrievalMetrics MetricAccumulator::Finish(const Sums& sums) {
  RetrievalMetrics metrics;
  metrics.num_queries = sums.num_queries;
  if (sums.num_queries == 0) return metrics;
  const double n = static_cast<double>(sums.num_queries);
  metrics.map_at_10 = sums.ap_sum / n;
  metrics.recall_at_1 = sums.hit_at_1 / n;
  metrics.recall_at_5 = sums.hit_at_5 / n;
  metrics.recall_at_10 = sums.hit_at_10 / n;
  return metrics;
}

}  // namespace eval
