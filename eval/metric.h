// mAP@10 exactly as the competition's official scorer computes it
// (Open-TransMind track2 tools/cal_map_json.py), plus recall@k.
//
// For one query with ranked names n_1, n_2, ... (only the first 10 are
// read):
//   hits = 1e-6;  sum = 0
//   for r = 1 .. min(10, #names):
//     if n_r is relevant: hits += 1;  sum += hits / r
//   AP = sum / hits
// so AP is divided by the number of hits in the top 10 (not by the number of
// relevant images), and a query without a hit scores 0. The official scorer
// starts `hits` at 1e-6 rather than 0 (to avoid 0/0); the offset is kept so
// that scores are bit-identical to it: it moves a query's AP by under 1e-6
// (relevant at ranks 2 and 5: (1.000001/2 + 2.000001/5) / 2.000001 instead of
// (1/2 + 2/5) / 2).
// Faithful to the official scorer, too:
// - a name that appears twice is counted twice (duplicates are not removed),
// - a list shorter than 10 is scored over the names it has (no padding),
// mAP@10 = (sum of AP over queries, added in query order) / #queries.
// recall@k = fraction of queries with at least one relevant name in the top k.
// The official scorer reads every name of a longer list; the evaluator
// rejects lists of more than 10 names instead of truncating silently.
//
// The scoring functions are templates over the item type, so the trainer can
// score ranked integer ids with an index-based predicate and the evaluator
// can score image names. Everything here is a plain value or
// single-threaded accumulator; no I/O.
#ifndef EVAL_METRIC_H_
#define EVAL_METRIC_H_

#include <array>
#include <string>
#include <unordered_set>
#include <vector>

#include "eval/labels.h"

namespace eval {

inline constexpr int kOfficialCutoff = 10;
inline constexpr double kOfficialHitOffset = 1e-6;

struct RankingOptions {
  // Number of leading names scored (the "10" of mAP@10).
  int cutoff = kOfficialCutoff;
  // Initial value of `hits` (see above); 0 gives the textbook form.
  double hit_offset = kOfficialHitOffset;
};

// Score of one query.
struct QueryScore {
  // In [0, 1]; with the official offset a perfect list scores 1.0000002.
  double average_precision = 0.0;
  int num_hits = 0;        // relevant entries in the top `cutoff`, duplicates
                           // counted
  int first_hit_rank = 0;  // 1-based rank of the first relevant entry; 0: none
};

// Scores one ranked list. `ranked` is any range (vector, array, span) whose
// first `options.cutoff` items are read; `is_relevant(item)` says whether an
// item is relevant.
template <typename Range, typename IsRelevantFn>
QueryScore ScoreRankedList(const Range& ranked, IsRelevantFn&& is_relevant,
                           const RankingOptions& options = RankingOptions()) {
  QueryScore score;
  double hits = options.hit_offset;
  double sum = 0.0;
  int rank = 0;
  for (const auto& item : ranked) {
    if (rank >= options.cutoff) break;
    ++rank;
    if (is_relevant(item)) {
      hits += 1.0;
      sum += hits / static_cast<double>(rank);
      ++score.num_hits;
      if (score.first_hit_rank == 0) score.first_hit_rank = rank;
    }
  }
  score.average_precision = score.num_hits == 0 ? 0.0 : sum / hits;
  return score;
}

// ScoreRankedList over names with a set of relevant names.
QueryScore ScoreRankedNames(const std::vector<std::string>& ranked,
                            const std::unordered_set<std::string>& relevant,
                            const RankingOptions& options = RankingOptions());

// Aggregate over a set of queries.
struct RetrievalMetrics {
  int num_queries = 0;
  double map_at_10 = 0.0;  // mean AP at options.cutoff (10 by default)
  double recall_at_1 = 0.0;
  double recall_at_5 = 0.0;
  double recall_at_10 = 0.0;
};

// Accumulates query scores overall and per category. Add queries in the
// order of the query file so that the sum is formed in the same order as the
// official scorer's. Not thread-safe.
class MetricAccumulator {
 public:
  void Add(const QueryScore& score, Category category = Category::kUnspecified);

  // All queries added so far; all zero when none.
  RetrievalMetrics Overall() const { return Finish(overall_); }
  // Queries added with `category`; num_queries == 0 when none.
  RetrievalMetrics ForCategory(Category category) const;

 private:
  struct Sums {
    int num_queries = 0;
    double ap_sum = 0.0;
    int hit_at_1 = 0;
    int hit_at_5 = 0;
    int hit_at_10 = 0;
  };
  static void AddTo(const QueryScore& score, Sums& sums);
  static RetrievalMetrics Finish(const Sums& sums);

  Sums overall_;
  std::array<Sums, 3> per_category_;  // indexed by Category
};

}  // namespace eval

#endif  // EVAL_METRIC_H_
