// Synthetic gallery embeddings for benchmarks: unit vectors clustered around
// random centres, as image embeddings cluster by attribute (unlike uniform
// noise, which no index can search better than by brute force).
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

}  // namespace gallery

#endif  // INDEX_SYNTHETIC_EMBEDDINGS_H_
