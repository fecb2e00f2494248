#include "clip/onednn_linear.h"

#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "common/cpu_features.h"
#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::common_testing::IsOk;
using ::common_testing::StatusIs;

// bfloat16 bits of x, rounded to nearest even (as oneDNN and ATen round).
uint16_t ToBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}
float FromBf16(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// y[m, n] = x[m, k] W[n, k]^T + b in double precision.
std::vector<double> Reference(const std::vector<float>& x,
                              const std::vector<float>& w,
                              const std::vector<float>& b, int64_t m, int64_t n,
                              int64_t k) {
  std::vector<double> y(m * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = b.empty() ? 0.0 : b[j];
      for (int64_t t = 0; t < k; ++t) s += double(x[i * k + t]) * w[j * k + t];
      y[i * n + j] = s;
    }
  }
  return y;
}

class OneDnnLinearTest : public ::testing::Test {
 protected:
  static constexpr int64_t kN = 48, kK = 160;
  std::vector<float> w_ = Random(kN * kK, 1, 0.1f), b_ = Random(kN, 2);
};

TEST_F(OneDnnLinearTest, Fp32MatchesDoublePrecisionAtEveryRowCount) {
  auto layer =
      OneDnnLinear::Create(w_.data(), b_.data(), kN, kK, GemmType::kF32);
  ASSERT_THAT(layer.status(), IsOk());
  EXPECT_EQ((*layer)->in_features(), kK);
  EXPECT_EQ((*layer)->out_features(), kN);
  for (int64_t m : {1, 7, 33, 130}) {
    std::vector<float> x = Random(m * kK, 10 + m);
    std::vector<float> y(m * kN, -1.0f);
    ASSERT_THAT((*layer)->Run(x.data(), m, y.data(), Epilogue::kNone), IsOk());
    std::vector<double> ref = Reference(x, w_, b_, m, kN, kK);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], ref[i], 1e-4 * (1 + std::abs(ref[i])))
          << "m=" << m << " i=" << i;
    }
  }
}

TEST_F(OneDnnLinearTest, QuickGeluAndAccumulateEpilogues) {
  auto layer =
      OneDnnLinear::Create(w_.data(), b_.data(), kN, kK, GemmType::kF32);
  ASSERT_THAT(layer.status(), IsOk());
  const int64_t m = 9;
  std::vector<float> x = Random(m * kK, 3);
  std::vector<double> ref = Reference(x, w_, b_, m, kN, kK);
  std::vector<float> gelu(m * kN);
  ASSERT_THAT((*layer)->Run(x.data(), m, gelu.data(), Epilogue::kQuickGelu),
              IsOk());
  std::vector<float> acc(m * kN);
  for (size_t i = 0; i < acc.size(); ++i)
    acc[i] = 0.5f * static_cast<float>(i % 7);
  const std::vector<float> before = acc;
  ASSERT_THAT((*layer)->Run(x.data(), m, acc.data(), Epilogue::kAccumulate),
              IsOk());
  for (size_t i = 0; i < ref.size(); ++i) {
    const double z = ref[i];
    EXPECT_NEAR(gelu[i], z / (1 + std::exp(-1.702 * z)),
                1e-4 * (1 + std::abs(z)));
    EXPECT_NEAR(acc[i], before[i] + z, 1e-4 * (1 + std::abs(z)));
  }
}

TEST_F(OneDnnLinearTest, Bf16RoundsInputsAndAccumulatesInFloat) {
  auto layer =
      OneDnnLinear::Create(w_.data(), b_.data(), kN, kK, GemmType::kBf16);
  if (absl::IsUnimplemented(layer.status())) {
    GTEST_SKIP() << "no bf16 matmul kernel on this CPU: " << layer.status();
  }
  ASSERT_THAT(layer.status(), IsOk());
  const int64_t m = 33;
  std::vector<float> x = Random(m * kK, 4);
  // The reference sees exactly the bf16 values the layer sees.
  std::vector<uint16_t> xb(x.size());
  std::vector<float> xr(x.size()), wr(w_.size());
  for (size_t i = 0; i < x.size(); ++i) {
    xb[i] = ToBf16(x[i]);
    xr[i] = FromBf16(xb[i]);
  }
  for (size_t i = 0; i < w_.size(); ++i) wr[i] = FromBf16(ToBf16(w_[i]));
  std::vector<double> ref = Reference(xr, wr, b_, m, kN, kK);
  std::vector<float> y(m * kN);
  ASSERT_THAT((*layer)->Run(xb.data(), m, y.data(), Epilogue::kNone), IsOk());
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_NEAR(y[i], ref[i], 1e-4 * (1 + std::abs(ref[i])));
  // bf16 output: the float result rounded once more.
  std::vector<uint16_t> yb(m * kN);
  ASSERT_THAT(
      (*layer)->Run(xb.data(), m, yb.data(), Epilogue::kNone, /*y_bf16=*/true),
      IsOk());
  for (size_t i = 0; i < yb.size(); ++i) {
    ASSERT_NEAR(FromBf16(yb[i]), ref[i], 1e-2 * (1 + std::abs(ref[i])));
  }
  // bf16 weights (the blocked layout pads n up to its block) + float bias.
  EXPECT_GE((*layer)->packed_bytes(), kN * kK * 2 + kN * 4);
  EXPECT_LT((*layer)->packed_bytes(), kN * kK * 4);
  EXPECT_NE((*layer)->KernelName(m).find("bf16"), std::string::npos)
      << (*layer)->KernelName(m);
}

TEST_F(OneDnnLinearTest, ConcurrentCallsGiveTheSameResults) {
  auto layer = OneDnnLinear::Create(w_.data(), nullptr, kN, kK, GemmType::kF32);
  ASSERT_THAT(layer.status(), IsOk());
  std::vector<float> x = Random(40 * kK, 5);
  std::vector<std::vector<float>> out(4, std::vector<float>(40 * kN));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        const int64_t m =
            1 + (rep * 7 + t) % 40;  // different row counts at once
        std::vector<float> y(m * kN);
        ASSERT_TRUE((*layer)->Run(x.data(), m, y.data(), Epilogue::kNone).ok());
      }
      ASSERT_TRUE(
          (*layer)->Run(x.data(), 40, out[t].data(), Epilogue::kNone).ok());
    });
  }
  for (auto& th : threads) th.join();
  std::vector<double> ref = Reference(x, w_, {}, 40, kN, kK);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(out[t], out[0]);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(out[t][i], ref[i], 1e-4 * (1 + std::abs(ref[i])));
  }
}

TEST_F(OneDnnLinearTest, KernelsAreSharedAcrossLayersAndTheCacheIsBounded) {
  std::vector<float> w2 = Random(kN * kK, 3, 0.1f);
  auto a = OneDnnLinear::Create(w_.data(), b_.data(), kN, kK, GemmType::kF32);
  auto b = OneDnnLinear::Create(w2.data(), nullptr, kN, kK, GemmType::kF32);
  ASSERT_THAT(a.status(), IsOk());
  ASSERT_THAT(b.status(), IsOk());
  auto check = [&](const OneDnnLinear& layer, const std::vector<float>& w,
                   const std::vector<float>& bias, int64_t m) {
    std::vector<float> x = Random(m * kK, 100 + m);
    std::vector<float> y(m * kN);
    ASSERT_THAT(layer.Run(x.data(), m, y.data(), Epilogue::kNone), IsOk());
    std::vector<double> ref = Reference(x, w, bias, m, kN, kK);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], ref[i], 1e-4 * (1 + std::abs(ref[i]))) << "m=" << m;
    }
  };
  // A second layer of the same shape reuses the first one's kernel, with
  // its own weights.
  check(**a, w_, b_, 211);
  const size_t after_a = OneDnnLinear::CachedKernels();
  check(**b, w2, {}, 211);
  EXPECT_EQ(OneDnnLinear::CachedKernels(), after_a);
  // However many row counts pass, the cache keeps at most its capacity,
  // and an evicted kernel is simply built again.
  OneDnnLinear::SetKernelCacheCapacity(8);
  for (int64_t m = 300; m < 330; ++m) check(**a, w_, b_, m);
  EXPECT_LE(OneDnnLinear::CachedKernels(), 8u);
  check(**a, w_, b_, 300);
  OneDnnLinear::SetKernelCacheCapacity(
      OneDnnLinear::kDefaultKernelCacheCapacity);
}

TEST_F(OneDnnLinearTest, RejectsBadArguments) {
  EXPECT_THAT(
      OneDnnLinear::Create(w_.data(), nullptr, 0, kK, GemmType::kF32).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::HasSubstr("[0, 160]")));
  EXPECT_THAT(
      OneDnnLinear::Create(nullptr, nullptr, kN, kK, GemmType::kF32).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  auto layer = OneDnnLinear::Create(w_.data(), nullptr, kN, kK, GemmType::kF32);
  ASSERT_THAT(layer.status(), IsOk());
  std::vector<float> x(kK), y(kN);
  EXPECT_THAT((*layer)->Run(x.data(), -1, y.data(), Epilogue::kNone),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(
      (*layer)->Run(x.data(), 1, y.data(), Epilogue::kNone, /*y_bf16=*/true),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::HasSubstr("bf16")));
  EXPECT_THAT((*layer)->Run(x.data(), 0, y.data(), Epilogue::kNone), IsOk());
}

}  // namespace
}  // namespace clip
