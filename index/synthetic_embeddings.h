// Synthetic gallery embeddings for benchmarks.
//
// ClusteredUnitVectors: unit vectors clustered around random centres, as
// image embeddings cluster by attribute (unlike uniform noise, which no
// index can search better than by brute force).
//
// SyntheticGallery: random-access galleries of any size. Row i depends only
// on (seed, i), so any range of rows can be generated on its own, in any
// order and on any thread, and a gallery too large to hold in memory (10M x
// 512 float32 is 20 GB) is generated again chunk by chunk, the same each
// time. Two distributions:
//
// - kClustered: the distribution of ClusteredUnitVectors (`clusters`
//   standard-normal centres in all `dim` coordinates, plus normal noise of
//   0.6 per coordinate, normalised), from a different random stream. The
//   noise has norm 0.6 * sqrt(dim), 60% of a centre's, spread over every
//   dimension, so the neighbours of a point within its cluster are nearly
//   equidistant: a very hard set for approximate search, harder than real
//   embeddings.
// - kLowRank: points with a low intrinsic dimension, as real CLIP image
//   embeddings have (most of their variance lies in a few dozen directions).
//   In a random `subspace_dim`-dimensional subspace of R^dim (an orthonormal
//   basis from the seed) a point is a coarse centre (one of `coarse`, norm
//   about 1) plus a fine centre offset (one of `fine_per_coarse` per coarse
//   centre, norm about 0.5) plus its own offset (norm about 0.3); then
//   isotropic noise over all `dim` coordinates (norm about
//   `isotropic_noise`) is added and the row normalised. Norms are expected
//   values: each component is normal with variance norm^2 / dims. This is a
//   model, not real data: it has the hierarchy and the low rank of real
//   embeddings, not their skew (uneven cluster sizes, a shared mean
//   direction).
#ifndef INDEX_SYNTHETIC_EMBEDDINGS_H_
#define INDEX_SYNTHETIC_EMBEDDINGS_H_

#include <cstdint>
#include <vector>

namespace gallery {

// Scales v[0..dim) to unit L2 norm.
void NormalizeRow(float* v, int64_t dim);

// [n, dim] row-major unit vectors, each a random one of `centers` centres
// (standard normal) plus normal noise of 0.6 per coordinate, normalised.
// The same seed gives the same vectors.
std::vector<float> ClusteredUnitVectors(int64_t n, int64_t dim, int centers,
                                        uint64_t seed);

enum class SyntheticKind { kClustered, kLowRank };

struct SyntheticOptions {
  SyntheticKind kind = SyntheticKind::kLowRank;
  int64_t dim = 512;
  uint64_t seed = 1;
  // kClustered: number of centres.
  int clusters = 2000;
  // kLowRank: the subspace, the hierarchy and the noise outside it.
  int subspace_dim = 64;
  int coarse = 256;
  int fine_per_coarse = 64;
  float isotropic_noise = 0.2f;
};

class SyntheticGallery {
 public:
  explicit SyntheticGallery(const SyntheticOptions& options);

  // Writes rows [begin, end) to out ([end - begin, dim] float32, unit
  // norm), on up to `threads` threads. Deterministic: the same rows for the
  // same options, however the range is split.
  void Rows(int64_t begin, int64_t end, float* out, int threads = 2) const;

  // A query near gallery row `row`: the row plus normal noise of total norm
  // about `noise`, normalised ([dim] float32 into out). `salt` selects the
  // noise, so several queries can sit near one row.
  void QueryNear(int64_t row, float noise, uint64_t salt, float* out) const;

  int64_t dim() const { return options_.dim; }

 private:
  void Row(int64_t i, float* out) const;

  SyntheticOptions options_;
  // kClustered: [clusters, dim]. kLowRank: coarse + fine centres in the
  // subspace, [coarse * fine_per_coarse, subspace_dim], and the basis,
  // [subspace_dim, dim].
  std::vector<float> centres_;
  std::vector<float> basis_;
};

}  // namespace gallery

#endif  // INDEX_SYNTHETIC_EMBEDDINGS_H_
