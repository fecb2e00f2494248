#include "index/synthetic_embeddings.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

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

namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A small counter-based stream: cheap to seed per row (std::mt19937_64
// costs more to seed than to draw a row's 512 numbers).
class Stream {
 public:
  Stream(uint64_t seed, uint64_t id, uint64_t salt)
      : state_(SplitMix(SplitMix(seed) ^ SplitMix(id * 0x632be59bd9b4e019ULL) ^
                        (salt * 0x9e3779b97f4a7c15ULL))) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1).
  double Uniform() {
    return (static_cast<double>(Next() >> 11) + 0.5) * 0x1p-53;
  }
  int64_t Below(int64_t n) {
    return static_cast<int64_t>(Uniform() * static_cast<double>(n));
  }
  // Standard normal (Box-Muller, both values used).
  float Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(Uniform()));
    const double t = 6.283185307179586 * Uniform();
    spare_ = static_cast<float>(r * std::sin(t));
    has_spare_ = true;
    return static_cast<float>(r * std::cos(t));
  }

 private:
  uint64_t state_;
  bool has_spare_ = false;
  float spare_ = 0;
};

}  // namespace

SyntheticGallery::SyntheticGallery(const SyntheticOptions& options)
    : options_(options) {
  const int64_t d = options_.dim;
  Stream s(options_.seed, ~0ULL, 1);
  if (options_.kind == SyntheticKind::kClustered) {
    centres_.resize(static_cast<size_t>(options_.clusters) * d);
    for (float& x : centres_) x = s.Normal();
    return;
  }
  const int64_t sd = options_.subspace_dim;
  // A random orthonormal basis of the subspace (Gram-Schmidt on normal
  // vectors).
  basis_.resize(sd * d);
  for (int64_t b = 0; b < sd; ++b) {
    float* v = basis_.data() + b * d;
    for (int64_t j = 0; j < d; ++j) v[j] = s.Normal();
    for (int64_t p = 0; p < b; ++p) {
      const float* u = basis_.data() + p * d;
      double dot = 0;
      for (int64_t j = 0; j < d; ++j) dot += v[j] * u[j];
      for (int64_t j = 0; j < d; ++j) v[j] -= static_cast<float>(dot) * u[j];
    }
    NormalizeRow(v, d);
  }
  const int64_t fine = options_.fine_per_coarse;
  centres_.resize(static_cast<size_t>(options_.coarse) * fine * sd);
  const float coarse_sd = 1.0f / std::sqrt(static_cast<float>(sd));
  const float fine_sd = 0.5f / std::sqrt(static_cast<float>(sd));
  std::vector<float> coarse(sd);
  for (int c = 0; c < options_.coarse; ++c) {
    for (float& x : coarse) x = coarse_sd * s.Normal();
    for (int64_t f = 0; f < fine; ++f) {
      float* out = centres_.data() + (c * fine + f) * sd;
      for (int64_t j = 0; j < sd; ++j)
        out[j] = coarse[j] + fine_sd * s.Normal();
    }
  }
}

void SyntheticGallery::Row(int64_t i, float* out) const {
  const int64_t d = options_.dim;
  Stream s(options_.seed, static_cast<uint64_t>(i), 0);
  if (options_.kind == SyntheticKind::kClustered) {
    const float* c = centres_.data() + s.Below(options_.clusters) * d;
    for (int64_t j = 0; j < d; ++j) out[j] = c[j] + 0.6f * s.Normal();
    NormalizeRow(out, d);
    return;
  }
  const int64_t sd = options_.subspace_dim;
  const int64_t nc =
      static_cast<int64_t>(options_.coarse) * options_.fine_per_coarse;
  const float* c = centres_.data() + s.Below(nc) * sd;
  const float point_sd = 0.3f / std::sqrt(static_cast<float>(sd));
  const float noise_sd =
      options_.isotropic_noise / std::sqrt(static_cast<float>(d));
  for (int64_t j = 0; j < d; ++j) out[j] = noise_sd * s.Normal();
  for (int64_t b = 0; b < sd; ++b) {
    const float coef = c[b] + point_sd * s.Normal();
    const float* u = basis_.data() + b * d;
    for (int64_t j = 0; j < d; ++j) out[j] += coef * u[j];
  }
  NormalizeRow(out, d);
}

void SyntheticGallery::Rows(int64_t begin, int64_t end, float* out,
                            int threads) const {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int64_t d = options_.dim;
  const int t = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(threads, n / 1024)));
  auto work = [&](int part) {
    const int64_t a = begin + n * part / t, b = begin + n * (part + 1) / t;
    for (int64_t i = a; i < b; ++i) Row(i, out + (i - begin) * d);
  };
  std::vector<std::thread> pool;
  for (int p = 1; p < t; ++p) pool.emplace_back(work, p);
  work(0);
  for (auto& th : pool) th.join();
}

void SyntheticGallery::QueryNear(int64_t row, float noise, uint64_t salt,
                                 float* out) const {
  const int64_t d = options_.dim;
  Row(row, out);
  Stream s(options_.seed ^ 0x5bd1e995ULL, static_cast<uint64_t>(row), salt + 2);
  const float sd = noise / std::sqrt(static_cast<float>(d));
  for (int64_t j = 0; j < d; ++j) out[j] += sd * s.Normal();
  NormalizeRow(out, d);
}

}  // namespace gallery
