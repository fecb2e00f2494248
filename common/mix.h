// SplitMix64's finaliser (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", 2014): a bijective, well-mixed hash of
// one 64-bit word. Used to derive independent seeds from small integers
// (seed, epoch, index) and as the step of deterministic generators whose
// output must not depend on the standard library.
#ifndef COMMON_MIX_H_
#define COMMON_MIX_H_

#include <cstdint>

namespace common {

inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

constexpr uint64_t Mix64(uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The SplitMix64 stream: Next() returns Mix64 of a counter that advances by
// the golden gamma.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(uint64_t seed) : state_(seed) {}
  constexpr uint64_t Next() {
    const uint64_t out = Mix64(state_);
    state_ += kGoldenGamma;
    return out;
  }

 private:
  uint64_t state_;
};

}  // namespace common

#endif  // COMMON_MIX_H_
