#include "trainer/contrastive_loss.h"

namespace trainer {

torch::Tensor MultiPositiveContrastiveLoss(const torch::Tensor& image_features,
                                           const torch::Tensor& text_features,
                                           const torch::Tensor& attribute_ids,
                                           const torch::Tensor& logit_scale) {
  torch::Tensor scale = logit_scale.exp().clamp_max(kMaxLogitScale);
  torch::Tensor logits =
      scale * torch::matmul(image_features, text_features.t());
  torch::Tensor same = attribute_ids.unsqueeze(1)
                           .eq(attribute_ids.unsqueeze(0))
                           .to(logits.dtype());
  torch::Tensor targets = same / same.sum(1, /*keepdim=*/true);  // symmetric
  torch::Tensor i2t = -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
  torch::Tensor t2i =
      -(targets * torch::log_softmax(logits.t(), 1)).sum(1).mean();
  return (i2t + t2i) / 2;
}

}  // namespace trainer
