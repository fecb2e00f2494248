// Contrastive fine-tuning of CLIP on competition-format data.
//
// Starts from pretrained weights (any format clip/weights.h reads) or from
// scratch with a named architecture, optionally training its own BPE
// vocabulary from the captions. AdamW with decoupled weight decay (none on
// biases, LayerNorm, embeddings and the logit scale), linear warm-up then
// cosine decay, gradient clipping, gradient accumulation, and freezing of the
// first N blocks of either tower. Data-parallel over c10d
// (trainer/distributed.h): features are gathered so the loss sees the global
// batch; only rank 0 writes files.
//
// Files written to output_dir (rank 0, each atomically):
//   checkpoint-last.pt, checkpoint-best.pt  full training state
//   model.safetensors                       final weights (OpenAI key names)
//   bpe_vocab.txt.gz | vocab.json+merges.txt the tokenizer
//   metrics_steps.csv, metrics_epochs.csv   one row per step / epoch
//   rerank_ablation.txt                     with attribute heads: the
//                                           validation ablation of the
//                                           weights model.safetensors holds
//   training.png                            loss and val mAP@10 against step
//
// A killed run restarted with resume=true continues from checkpoint-last.pt
// and reaches the same weights as an uninterrupted run with the same seed.
#ifndef TRAINER_TRAINER_H_
#define TRAINER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clip/image_preprocess.h"
#include "clip/precision.h"
#include "trainer/distributed_config.h"

namespace trainer {

struct TrainerOptions {
  // Data (competition layout).
  std::string train_labels;  // image$attribute$text
  std::string train_images;  // directory of the training images
  std::string val_labels;    // "" = no validation
  std::string val_images;
  bool skip_bad_images = false;

  // Model.
  std::string init_weights;            // "" = from scratch
  std::string architecture = "small";  // preset, when from scratch
  std::string vocab;                   // tokenizer; "" = beside init_weights
  int train_vocab_merges =
      0;  // > 0: learn a BPE vocabulary (from scratch only)
  clip::PreprocessOptions preprocess;  // resolution 0 = the model's
  bool augment = true;
  clip::AugmentOptions augment_options;

  // Optimisation.
  int epochs = 5;
  int batch_size = 64;  // per process
  int grad_accum = 1;
  double lr = 5e-4;
  double min_lr = 0.0;
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-6;
  int warmup_steps = 50;
  double clip_grad_norm = 1.0;  // <= 0: off
  int freeze_vision_blocks = 0;
  int freeze_text_blocks = 0;
  uint64_t seed = 42;
  int loader_workers = 1;
  int max_steps = 0;  // > 0: stop after this many optimiser steps (tests)
  // > 0: behave as if killed right after this step: write the checkpoint
  // and return ABORTED (tests of resume).
  int interrupt_after_steps = 0;

  // Attribute supervision (trainer/attribute_heads.h): weights of the
  // attribute loss of the image and the text head, added to the contrastive
  // loss. Both 0 (default): no heads, today's training exactly. With both
  // > 0 and a validation split, each validation also fits the re-ranking
  // weights (rerank/fit.h) over short lists of rerank_candidates images,
  // and model.safetensors records them.
  double image_attribute_loss_weight = 0;
  double text_attribute_loss_weight = 0;
  int rerank_candidates = 100;

  // Output.
  std::string output_dir;
  bool resume = false;
  int checkpoint_every_steps = 0;  // 0 = at epoch ends only
  int val_batch_size = 64;

  std::string device = "cpu";  // "cuda:N" on CUDA builds
  // Mixed precision for the forward and backward passes: kBf16 runs matrix
  // products and convolutions in bf16 (LibTorch autocast, CPU or CUDA)
  // while weights, gradients, the loss and the optimiser state stay float32.
  // kFp32 (default) is plain float32. fp16 is refused (it needs loss
  // scaling).
  clip::Precision mixed_precision = clip::Precision::kFp32;
};

struct StepStats {
  int64_t step = 0;  // optimiser steps done
  int64_t total_steps = 0;
  int epoch = 0;
  double loss = 0;
  double lr = 0;
  double logit_scale = 0;         // exp(logit_scale)
  double samples_per_second = 0;  // global
  double data_wait_share = 0;     // share of step time waiting for data
  double elapsed_seconds = 0;
  double eta_seconds = 0;
};

struct EpochStats {
  int epoch = 0;
  int64_t step = 0;
  double train_loss = 0;
  double val_map10 = -1;  // -1 when there is no validation
  double val_recall1 = -1, val_recall5 = -1, val_recall10 = -1;
  double val_map10_pedestrian = -1, val_map10_vehicle = -1;
  // With attribute heads and re-ranking: the same split routed to the
  // predicted category, re-ranked, and both (rerank/fit.h); -1 otherwise.
  double val_map10_routed = -1, val_map10_reranked = -1,
         val_map10_routed_reranked = -1;
  double seconds = 0;
  int64_t skipped_images = 0;
};

struct TrainResult {
  int64_t steps = 0;
  double best_val_map10 = -1;
  double last_val_map10 = -1;
  std::vector<EpochStats> epochs;
  std::string weights_path;    // model.safetensors
  std::string tokenizer_path;  // file or directory
};

struct TrainerCallbacks {
  std::function<void(const StepStats&)> on_step;
  std::function<void(const EpochStats&)> on_epoch;
  std::function<void(const std::string&)> on_message;
};

// One training run, an epoch at a time. Train() below drives it to the end;
// a caller that wants control between epochs uses it directly:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Trainer> t,
//                    Trainer::Create(options, dist, callbacks));
//   while (!t->done()) ASSIGN_OR_RETURN(EpochStats e, t->RunEpoch());
//   ASSIGN_OR_RETURN(TrainResult r, t->Finish());
//
// Every process of a distributed job makes the same calls in the same
// order. What one rank alone does (rank 0 validates and writes every file;
// each rank loads its own share of the data) ends in an agreement between
// the ranks, so when it fails on one rank every rank's call fails within
// that step: the failing rank with its own error, the others with ABORTED
// naming it (trainer/distributed.h, Communicator::AgreeOn). A rank that
// fails inside a collective of the forward or backward pass (e.g. out of
// memory) still leaves the others to the collective timeout.
//
// Thread safety: one thread drives a Trainer.
class Trainer {
 public:
  // Checks the options, loads the data and the tokenizer, builds or loads
  // the model, joins the process group, and resumes from
  // checkpoint-last.pt when options.resume and it exists.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const TrainerOptions& options, const DistributedConfig& dist,
      TrainerCallbacks callbacks = {});
  ~Trainer();

  // True once every epoch (or options.max_steps) has run.
  bool done() const;
  // Trains the rest of the current epoch (up to max_steps), then validates
  // and writes the epoch's files on rank 0. ABORTED after
  // options.interrupt_after_steps, with the checkpoint written.
  absl::StatusOr<EpochStats> RunEpoch();
  // Writes the final weights (rank 0) and returns the run's summary.
  absl::StatusOr<TrainResult> Finish();

 private:
  class Impl;
  explicit Trainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs the whole training with a Trainer. Every process of a distributed
// job calls it with the same options; `dist` says which one this is.
absl::StatusOr<TrainResult> Train(const TrainerOptions& options,
                                  const DistributedConfig& dist,
                                  const TrainerCallbacks& callbacks = {});

// Linear warm-up to `lr` over `warmup` steps, then cosine decay to `min_lr`
// at `total`.
double LearningRateAt(int64_t step, int64_t total, int64_t warmup, double lr,
                      double min_lr);

}  // namespace trainer

#endif  // TRAINER_TRAINER_H_
