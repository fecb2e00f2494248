// What the CPU this process runs on offers for fast inference, read with
// CPUID (and XGETBV for the operating system's support of the wide
// registers). x86-64 only; elsewhere every flag is false.
#ifndef COMMON_CPU_FEATURES_H_
#define COMMON_CPU_FEATURES_H_

#include <string>

namespace common {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512f = false;  // with the OS saving the 512-bit state
  bool avx512bw = false;
  bool avx512_vnni = false;
  bool avx512_bf16 = false;  // VDPBF16PS: native bf16 dot products
  bool amx_bf16 = false;     // AMX tiles with bf16 (OS permission not checked)

  // True when bf16 matrix products run natively (AVX512_BF16 or AMX_BF16),
  // so that bf16 inference is faster than float32 rather than emulated.
  bool native_bf16() const { return avx512_bf16 || amx_bf16; }

  // e.g. "avx2 avx512f avx512bw avx512_vnni avx512_bf16" ("none" if empty).
  std::string Describe() const;
};

// Detected once; thread-safe.
const CpuFeatures& GetCpuFeatures();

}  // namespace common

#endif  // COMMON_CPU_FEATURES_H_
