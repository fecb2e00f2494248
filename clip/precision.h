// The numeric precision a CLIP model runs inference in.
//
//   fp32  float32 everywhere (the reference numerics).
//   bf16  bfloat16 matrix products (weights stored in bf16, float32
//         accumulation), float32 LayerNorm, residual stream and outputs.
//   fp16  float16 on CUDA devices only.
//   auto  bf16 on a CPU with native bf16 dot products (AVX512_BF16 or AMX),
//         else fp32; fp16 on CUDA (as OpenAI's reference runs on GPUs).
//
// Torch-free: the tools and the server parse and log this without LibTorch.
#ifndef CLIP_PRECISION_H_
#define CLIP_PRECISION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clip {

enum class Precision { kAuto, kFp32, kBf16, kFp16 };

// "auto", "fp32", "bf16" or "fp16" (case-insensitive; "float32",
// "bfloat16" and "float16" too). INVALID_ARGUMENT names the value otherwise.
absl::StatusOr<Precision> ParsePrecision(absl::string_view name);

// "auto", "fp32", "bf16" or "fp16".
std::string PrecisionName(Precision precision);

// The concrete precision for `requested` on `device` ("cpu", "cuda",
// "cuda:N"): resolves kAuto from the CPU's features (common/cpu_features.h)
// or the device kind. INVALID_ARGUMENT for fp16 on a CPU.
absl::StatusOr<Precision> ResolvePrecision(Precision requested,
                                           absl::string_view device);

// One line for start-up logs: what was asked, what runs, and what the CPU
// offers, e.g. "precision bf16 (asked auto; cpu: avx2 avx512f ...
// avx512_bf16)".
std::string DescribePrecision(Precision requested, Precision resolved);

}  // namespace clip

#endif  // CLIP_PRECISION_H_
