#include "trainer/contrastive_loss.h"

#include <cmath>

#include "gtest/gtest.h"

namespace trainer {
namespace {

torch::Tensor Normalize(const torch::Tensor& x) {
  return x / x.norm(2, -1, true);
}

TEST(ContrastiveLossTest, DistinctAttributesEqualClipLoss) {
  torch::manual_seed(0);
  torch::Tensor img = Normalize(torch::randn({6, 8}));
  torch::Tensor txt = Normalize(torch::randn({6, 8}));
  torch::Tensor ids = torch::arange(6);
  torch::Tensor scale = torch::full({}, std::log(10.0));
  torch::Tensor logits = 10.0 * torch::matmul(img, txt.t());
  torch::Tensor labels = torch::arange(6);
  torch::Tensor clip =
      (torch::nn::functional::cross_entropy(logits, labels) +
       torch::nn::functional::cross_entropy(logits.t(), labels)) /
      2;
  EXPECT_NEAR(MultiPositiveContrastiveLoss(img, txt, ids, scale).item<double>(),
              clip.item<double>(), 1e-5);
}

TEST(ContrastiveLossTest, SharedAttributesSplitTheTarget) {
  // Two images, two texts, one attribute: the target is uniform, so a
  // perfectly uniform similarity gives loss log(2) and not more.
  torch::Tensor img = Normalize(torch::ones({2, 4}));
  torch::Tensor txt = Normalize(torch::ones({2, 4}));
  torch::Tensor ids = torch::tensor({5, 5}, torch::kInt64);
  torch::Tensor loss = MultiPositiveContrastiveLoss(
      img, txt, ids, torch::full({}, std::log(20.0)));
  EXPECT_NEAR(loss.item<double>(), std::log(2.0), 1e-6);
}

TEST(ContrastiveLossTest, LogitScaleIsClampedAt100) {
  torch::manual_seed(1);
  torch::Tensor img = Normalize(torch::randn({4, 8}));
  torch::Tensor txt = Normalize(torch::randn({4, 8}));
  torch::Tensor ids = torch::arange(4);
  torch::Tensor big = torch::full({}, std::log(1000.0), torch::requires_grad());
  torch::Tensor at_cap = torch::full({}, std::log(100.0));
  torch::Tensor loss = MultiPositiveContrastiveLoss(img, txt, ids, big);
  EXPECT_NEAR(
      loss.item<double>(),
      MultiPositiveContrastiveLoss(img, txt, ids, at_cap).item<double>(), 1e-5);
  loss.backward();
  EXPECT_EQ(big.grad().item<double>(), 0.0);  // no gradient past the clamp
}

TEST(ContrastiveLossTest, AlignedFeaturesGiveLowerLossThanShuffled) {
  torch::manual_seed(2);
  torch::Tensor img = Normalize(torch::randn({8, 16}));
  torch::Tensor ids = torch::arange(8);
  torch::Tensor scale = torch::full({}, std::log(50.0));
  double aligned =
      MultiPositiveContrastiveLoss(img, img, ids, scale).item<double>();
  double shuffled = MultiPositiveContrastiveLoss(img, img.flip({0}), ids, scale)
                        .item<double>();
  EXPECT_LT(aligned, 0.1);
  EXPECT_GT(shuffled, 1.0);
}

}  // namespace
}  // namespace trainer
