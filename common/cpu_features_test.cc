#include "common/cpu_features.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace common {
namespace {

// The kernel's view of the same CPUID bits (x86-64 Linux).
std::set<std::string> ProcCpuFlags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      std::set<std::string> flags;
      std::string w;
      while (words >> w) flags.insert(w);
      return flags;
    }
  }
  return {};
}

TEST(CpuFeaturesTest, AgreesWithTheKernel) {
  const std::set<std::string> flags = ProcCpuFlags();
  if (flags.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  const CpuFeatures& f = GetCpuFeatures();
  EXPECT_EQ(f.avx2, flags.count("avx2") > 0);
  EXPECT_EQ(f.avx512f, flags.count("avx512f") > 0);
  EXPECT_EQ(f.avx512bw, flags.count("avx512bw") > 0);
  EXPECT_EQ(f.avx512_vnni, flags.count("avx512_vnni") > 0);
  EXPECT_EQ(f.avx512_bf16, flags.count("avx512_bf16") > 0);
  EXPECT_EQ(f.amx_bf16, flags.count("amx_bf16") > 0);
}

TEST(CpuFeaturesTest, DescribeListsWhatIsSet) {
  CpuFeatures f;
  EXPECT_EQ(f.Describe(), "none");
  EXPECT_FALSE(f.native_bf16());
  f.avx2 = true;
  f.avx512_bf16 = true;
  EXPECT_EQ(f.Describe(), "avx2 avx512_bf16");
  EXPECT_TRUE(f.native_bf16());
  f.avx512_bf16 = false;
  f.amx_bf16 = true;
  EXPECT_TRUE(f.native_bf16());
}

}  // namespace
}  // namespace common
