// A fully connected layer whose weights are packed once into oneDNN's
// blocked layout, run through oneDNN's matmul (JIT-compiled for the CPU it
// runs on: AVX-512 and AVX512_BF16 kernels where present). This is the GEMM
// path of clip/fast_model.h; it does not depend on OpenBLAS or its core-type
// detection.
//
//   y[m, n] = epilogue(x[m, k] · Wᵀ + b)
//
// with W the [n, k] row-major weight of a torch Linear (as stored in CLIP
// checkpoints) and b [n]. In kBf16 mode W is stored in bfloat16, x must be
// bfloat16, and products accumulate in float32; y is float32 or bfloat16.
//
// Torch-free and oneDNN-free header. Thread safety: Run may be called from
// many threads at once. The kernel for a shape (row count m, n, k, types,
// epilogue) is created on first use and kept in a process-wide LRU cache
// shared by all layers, bounded so that memory does not grow with the
// variety of batch shapes.
#ifndef CLIP_ONEDNN_LINEAR_H_
#define CLIP_ONEDNN_LINEAR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clip {

enum class GemmType {
  kF32,   // float32 inputs, weights and accumulation
  kBf16,  // bfloat16 inputs and weights, float32 accumulation
};

enum class Epilogue {
  kNone,
  kQuickGelu,   // y = z * sigmoid(1.702 z), CLIP's activation
  kAccumulate,  // y += z: residual connections update y in place (float32 y)
};

class OneDnnLinear {
 public:
  // weight: [n, k] float32 row-major; bias: [n] float32 or null. Packs a
  // copy; the inputs may be freed afterwards. INVALID_ARGUMENT for empty
  // shapes; UNIMPLEMENTED when oneDNN has no kernel for `type` here.
  static absl::StatusOr<std::unique_ptr<OneDnnLinear>> Create(
      const float* weight, const float* bias, int64_t n, int64_t k,
      GemmType type);
  ~OneDnnLinear();

  int64_t in_features() const;
  int64_t out_features() const;
  GemmType type() const;
  // Bytes of packed weights and bias held.
  int64_t packed_bytes() const;

  // x: [m, k] row-major, float32 (kF32) or bfloat16 bits (kBf16).
  // y: [m, n] row-major, float32, or bfloat16 bits when `y_bf16` (kBf16
  // only; not with kAccumulate). INTERNAL on a oneDNN failure.
  absl::Status Run(const void* x, int64_t m, void* y, Epilogue epilogue,
                   bool y_bf16 = false) const;

  // Kernels the process-wide cache holds at most, by default.
  static constexpr size_t kDefaultKernelCacheCapacity = 1024;
  static size_t CachedKernels();
  static void SetKernelCacheCapacity(size_t capacity);

  // oneDNN's name for the kernel chosen for m rows, e.g.
  // "brg:avx512_core_bf16" (for logs and benchmarks).
  std::string KernelName(int64_t m) const;

 private:
  struct Impl;
  explicit OneDnnLinear(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace clip

#endif  // CLIP_ONEDNN_LINEAR_H_
