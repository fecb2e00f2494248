// Deterministic randomness of the generator. Everything random is drawn from
// Rng streams seeded by SeedFor, never from global generators, so that a
// stream depends only on (seed, tag, index).
#ifndef DATAGEN_RNG_H_
#define DATAGEN_RNG_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/mix.h"

namespace datagen::internal {

enum SeedTag : uint64_t {
  kTagVehiclePool = 1,
  kTagPedestrianPool = 2,
  kTagNames = 3,
  kTagQueries = 4,
  kTagSplitPlan = 10,  // + split
  kTagRender = 20,     // + split
};

inline uint64_t SeedFor(uint64_t seed, uint64_t tag, uint64_t index) {
  using common::Mix64;
  return Mix64(Mix64(Mix64(seed) ^ (tag * 0x632be59bd9b4e019ULL)) + index);
}

// SplitMix64 stream.
class Rng {
 public:
  explicit Rng(uint64_t seed) : stream_(seed) {}

  uint64_t Next() { return stream_.Next(); }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform in [lo, hi], inclusive.
  int Int(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return Uniform() < p; }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      std::swap(v[i - 1], v[Next() % i]);
    }
  }

 private:
  common::SplitMix64 stream_;
};

}  // namespace datagen::internal

#endif  // DATAGEN_RNG_H_
