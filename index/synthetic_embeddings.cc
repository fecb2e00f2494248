#include "index/synthetic_embeddings.h"

#include <cmath>
#include <random>

namespace gallery {

void NormalizeRow(float* v, int64_t dim) {
  double n = 0;
  for (int64_t j = 0; j < dim; ++j) n += v[j] * v[j];
  n = std::sqrt(n);
  for (int64_t j = 0; j < dim; ++j) v[j] = static_cast<float>(v[j] / n);
}

std::vector<float> ClusteredUnitVectors(int64_t n, int64_t dim, int centers,
                                        uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> c(static_cast<size_t>(centers) * dim);
  for (float& x : c) x = normal(rng);
  std::vector<float> out(n * dim);
  std::uniform_int_distribution<int> pick(0, centers - 1);
  for (int64_t i = 0; i < n; ++i) {
    const float* center = c.data() + static_cast<int64_t>(pick(rng)) * dim;
    for (int64_t j = 0; j < dim; ++j) {
      out[i * dim + j] = center[j] + 0.6f * normal(rng);
    }
    NormalizeRow(out.data() + i * dim, dim);
  }
  return out;
}

}  // namespace gallery
