// LibTorch's automatic mixed precision (autocast), scoped to one thread:
// matrix products and convolutions run in bf16/fp16 while parameters, and so
// the optimiser state, stay float32. Used by training (mixed-precision
// forward and backward) and by CUDA inference in bf16/fp16.
//
// Torch-free header.
#ifndef CLIP_AUTOCAST_H_
#define CLIP_AUTOCAST_H_

#include "clip/precision.h"

namespace clip {

class AutocastGuard {
 public:
  // Enables autocast on this thread for CUDA (`cuda`) or CPU ops, computing
  // in `precision`: kBf16 (CPU or CUDA) or kFp16 (CUDA). kFp32 and kAuto
  // leave autocast as it is. Restores the previous state on destruction and
  // frees the cached low-precision weight copies when the outermost guard
  // ends.
  AutocastGuard(bool cuda, Precision precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  int previous_dtype_ = 0;  // at::ScalarType
};

}  // namespace clip

#endif  // CLIP_AUTOCAST_H_
