// Symmetric contrastive loss with multiple positives.
//
// In this data many pairs of a batch share an attribute (the same "white
// Audi." shown by different images, described by different sentences). Every
// such pair is a positive: the target of image i over texts is uniform over
// the texts whose attribute equals i's, and likewise for texts over images.
// With all-distinct attributes this is CLIP's loss exactly.
#ifndef TRAINER_CONTRASTIVE_LOSS_H_
#define TRAINER_CONTRASTIVE_LOSS_H_

#include <torch/torch.h>

namespace trainer {

inline constexpr double kMaxLogitScale = 100.0;

// image_features, text_features: [N, D], L2-normalised. attribute_ids: [N]
// int64; rows with equal ids are positives of each other. logit_scale: the
// model's log-scale parameter (scalar); exp(logit_scale) is clamped at
// kMaxLogitScale. Returns the scalar loss
//   (CE_soft(image->text) + CE_soft(text->image)) / 2, averaged over rows.
torch::Tensor MultiPositiveContrastiveLoss(const torch::Tensor& image_features,
                                           const torch::Tensor& text_features,
                                           const torch::Tensor& attribute_ids,
                                           const torch::Tensor& logit_scale);

}  // namespace trainer

#endif  // TRAINER_CONTRASTIVE_LOSS_H_
