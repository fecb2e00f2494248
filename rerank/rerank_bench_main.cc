// Added serving cost of attribute re-ranking, per query: the text head on one
// embedding, then re-ranking a short list of N candidates (N = 10, 100,
// 1000), on random heads and a random gallery table.
//
//   bazel run -c opt //rerank:rerank_bench -- --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "eval/attributes.h"
#include "rerank/attribute_head.h"
#include "rerank/reranker.h"

namespace {

using eval::AttributeLayout;
constexpr int kDim = 512;
constexpr int kGallery = 20000;

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0, 0.1f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

rerank::AttributeHead MakeHead(std::mt19937& rng) {
  return *rerank::AttributeHead::FromWeights(
      Random(AttributeLayout::kSize * kDim, rng),
      Random(AttributeLayout::kSize, rng), kDim);
}

void BM_TextHead(benchmark::State& state) {
  std::mt19937 rng(1);
  const rerank::AttributeHead head = MakeHead(rng);
  const std::vector<float> query = Random(kDim, rng);
  for (auto _ : state) {
    benchmark::DoNotOptimize(head.Predict(query.data(), 1));
  }
}
BENCHMARK(BM_TextHead);

void BM_Rerank(benchmark::State& state) {
  std::mt19937 rng(2);
  const rerank::AttributeHead head = MakeHead(rng);
  const std::vector<float> gallery = Random(size_t{kGallery} * kDim, rng);
  const std::vector<float> table = head.Predict(gallery.data(), kGallery);
  const std::vector<float> query = head.Predict(Random(kDim, rng).data(), 1);
  const int n = static_cast<int>(state.range(0));
  std::uniform_int_distribution<int64_t> row(0, kGallery - 1);
  std::vector<rerank::Candidate> base(n);
  for (int i = 0; i < n; ++i) base[i] = {row(rng), 0.5f - 0.001f * i, 0};
  const rerank::RerankWeights w{0.1, 0.05, 0.2};
  for (auto _ : state) {
    std::vector<rerank::Candidate> c = base;
    rerank::Rerank(query.data(), table.data(), w, &c);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Rerank)->Arg(10)->Arg(100)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
