#include "common/cpu_features.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_join.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define COMMON_HAVE_CPUID 1
#endif

namespace common {
namespace {

#ifdef COMMON_HAVE_CPUID
uint64_t ReadXcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

CpuFeatures Detect() {
  CpuFeatures f;
#ifdef COMMON_HAVE_CPUID
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid(1, eax, ebx, ecx, edx);
  const bool osxsave = (ecx >> 27) & 1;
  if (!osxsave) return f;
  const uint64_t xcr0 = ReadXcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = os_ymm && ((ebx >> 5) & 1);
  f.avx512f = os_zmm && ((ebx >> 16) & 1);
  f.avx512bw = f.avx512f && ((ebx >> 30) & 1);
  f.avx512_vnni = f.avx512f && ((ecx >> 11) & 1);
  f.amx_bf16 = (edx >> 22) & 1;
  const unsigned max_subleaf = eax;
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512_bf16 = f.avx512f && ((eax >> 5) & 1);
  }
#endif
  return f;
}

}  // namespace

std::string CpuFeatures::Describe() const {
  std::vector<const char*> names;
  if (avx2) names.push_back("avx2");
  if (avx512f) names.push_back("avx512f");
  if (avx512bw) names.push_back("avx512bw");
  if (avx512_vnni) names.push_back("avx512_vnni");
  if (avx512_bf16) names.push_back("avx512_bf16");
  if (amx_bf16) names.push_back("amx_bf16");
  if (names.empty()) return "none";
  return absl::StrJoin(names, " ");
}

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace common
