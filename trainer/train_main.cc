// train: contrastive fine-tuning of CLIP on competition-format data.
//
// Usage (one process):
//   train --data_dir=DATA --output_dir=runs/demo --arch=small
//         --train_vocab_merges=2000 --epochs=6
//   train --data_dir=DATA --output_dir=runs/ft --init_weights=ViT-B-16.pt
//         --vocab=bpe_simple_vocab_16e6.txt.gz --lr=1e-5
// DATA holds train/train_label.txt, train/images/, val/val_label.txt and
// val/images/ (the competition's layout).
//
// Several processes (one per device): start each with RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR and MASTER_PORT set, as torchrun, Kubeflow's
// PyTorchJob or deploy/slurm/train.sbatch do, or use //trainer:launch for N
// processes on this machine. --batch_size is per process.
//
// Rerun with --resume after an interruption to continue from the last
// checkpoint in --output_dir.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "common/exit_code.h"
#include "common/torch_threads.h"
#include "trainer/distributed_config.h"
#include "trainer/trainer.h"

ABSL_FLAG(std::string, data_dir, "",
          "Dataset root in the competition layout; sets the four paths below "
          "unless they are given.");
ABSL_FLAG(std::string, train_labels, "",
          "Default: DATA/train/train_label.txt.");
ABSL_FLAG(std::string, train_images, "", "Default: DATA/train/images.");
ABSL_FLAG(std::string, val_labels, "",
          "Default: DATA/val/val_label.txt when it exists; 'none' disables "
          "validation.");
ABSL_FLAG(std::string, val_images, "", "Default: DATA/val/images.");
ABSL_FLAG(bool, skip_bad_images, false,
          "Replace unreadable training images by the next pair and count them "
          "instead of stopping.");
ABSL_FLAG(std::string, init_weights, "",
          "Pretrained CLIP (safetensors, Hugging Face safetensors or OpenAI "
          "TorchScript). Empty: train from scratch with --arch.");
ABSL_FLAG(std::string, arch, "small",
          "Architecture preset when training from scratch: demo (48 px, the "
          "built-in demo's), small, tiny, ViT-B-32, ViT-B-16, ViT-L-14, "
          "ViT-L-14-336. Ignored with "
          "--init_weights.");
ABSL_FLAG(std::string, vocab, "",
          "Tokenizer (OpenAI .gz, Hugging Face vocab.json, or a directory). "
          "Default: beside --init_weights.");
ABSL_FLAG(int, train_vocab_merges, 0,
          "From scratch only: learn a BPE vocabulary with this many merges "
          "from the training captions (0 = use --vocab).");
ABSL_FLAG(std::string, resize_mode, "pad",
          "center_crop (OpenAI), pad (letterbox; keeps whole tall crops) or "
          "squash.");
ABSL_FLAG(bool, augment, true, "Random resized crops during training.");
ABSL_FLAG(double, crop_scale_min, 0.8, "Smallest crop area fraction.");
ABSL_FLAG(int, epochs, 5, "Passes over the training pairs.");
ABSL_FLAG(int, batch_size, 64, "Pairs per process per micro-batch.");
ABSL_FLAG(int, grad_accum, 1, "Micro-batches per optimiser step.");
ABSL_FLAG(double, lr, 5e-4, "Peak learning rate (after warm-up).");
ABSL_FLAG(double, min_lr, 0.0, "Learning rate at the end of the cosine decay.");
ABSL_FLAG(double, weight_decay, 0.1,
          "AdamW decoupled weight decay (not on biases, LayerNorm, embeddings, "
          "logit scale).");
ABSL_FLAG(int, warmup_steps, 50, "Linear warm-up steps.");
ABSL_FLAG(double, clip_grad_norm, 1.0, "Gradient norm clip; <= 0 disables.");
ABSL_FLAG(int, freeze_vision_blocks, 0, "Freeze the first N image blocks.");
ABSL_FLAG(int, freeze_text_blocks, 0, "Freeze the first N text blocks.");
ABSL_FLAG(uint64_t, seed, 42,
          "Seed of initialisation, data order, augmentation.");
ABSL_FLAG(int, threads, 0,
          "Compute threads per process; 0 = cores / LOCAL_WORLD_SIZE.");
ABSL_FLAG(int, loader_workers, 1, "Image decoding threads per process.");
ABSL_FLAG(std::string, output_dir, "",
          "Where checkpoints and results go. Required.");
ABSL_FLAG(bool, resume, false,
          "Continue from OUTPUT/checkpoint-last.pt if present.");
ABSL_FLAG(int, checkpoint_every_steps, 0,
          "Also checkpoint every N steps (0: at epoch ends only).");
ABSL_FLAG(int, max_steps, 0, "Stop after N optimiser steps (0: all epochs).");
ABSL_FLAG(std::string, device, "cpu", "cpu, or cuda on CUDA builds.");
ABSL_FLAG(std::string, mixed_precision, "fp32",
          "fp32, or bf16: matrix products of the forward and backward passes "
          "in bf16 (CPU or CUDA) with float32 weights, loss and optimiser "
          "state.");
ABSL_FLAG(double, image_attribute_loss_weight, 0,
          "Weight of the image attribute head's loss (category, pedestrian "
          "flags, vehicle colour/type/brand) added to the contrastive loss; "
          "0 (default) with --text_attribute_loss_weight=0: no heads.");
ABSL_FLAG(double, text_attribute_loss_weight, 0,
          "Weight of the text attribute head's loss. With both weights > 0 "
          "and a val split, each validation fits the re-ranking weights.");
ABSL_FLAG(int, rerank_candidates, 100,
          "Short-list length the re-ranking weights are fitted for.");
ABSL_FLAG(int, interrupt_after_steps, 0,
          "Testing: stop as if killed right after step N (checkpoint written, "
          "exit 1); rerun with --resume to continue.");

namespace {

std::string Duration(double s) {
  int t = static_cast<int>(s + 0.5);
  if (t >= 3600) return absl::StrFormat("%dh%02dm", t / 3600, t / 60 % 60);
  if (t >= 60) return absl::StrFormat("%dm%02ds", t / 60, t % 60);
  return absl::StrFormat("%ds", t);
}

std::string Or(const std::string& a, const std::string& b) {
  return a.empty() ? b : a;
}

}  // namespace

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(argc, argv, "Fine-tunes CLIP on image-text pairs.");
  auto dist = trainer::DistributedConfigFromEnv();
  if (!dist.ok()) {
    std::cerr << "train: " << dist.status() << "\n";
    return common::kExitUsage;
  }
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads <= 0) {
    int local = 1;
    if (const char* v = std::getenv("LOCAL_WORLD_SIZE"))
      local = std::max(1, std::atoi(v));
    threads =
        std::max(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) / local);
  }
  common::SetComputeThreads(threads);

  trainer::TrainerOptions o;
  const std::string data = absl::GetFlag(FLAGS_data_dir);
  o.train_labels = Or(absl::GetFlag(FLAGS_train_labels),
                      data.empty() ? "" : data + "/train/train_label.txt");
  o.train_images = Or(absl::GetFlag(FLAGS_train_images),
                      data.empty() ? "" : data + "/train/images");
  o.val_labels = absl::GetFlag(FLAGS_val_labels);
  if (o.val_labels.empty() && !data.empty() &&
      access((data + "/val/val_label.txt").c_str(), R_OK) == 0) {
    o.val_labels = data + "/val/val_label.txt";
  }
  if (o.val_labels == "none") o.val_labels.clear();
  o.val_images = Or(absl::GetFlag(FLAGS_val_images),
                    data.empty() ? "" : data + "/val/images");
  if (o.train_labels.empty()) {
    std::cerr << "train: give --data_dir or --train_labels/--train_images\n";
    return common::kExitUsage;
  }
  o.skip_bad_images = absl::GetFlag(FLAGS_skip_bad_images);
  o.init_weights = absl::GetFlag(FLAGS_init_weights);
  o.architecture = absl::GetFlag(FLAGS_arch);
  o.vocab = absl::GetFlag(FLAGS_vocab);
  o.train_vocab_merges = absl::GetFlag(FLAGS_train_vocab_merges);
  auto mode = clip::ParseResizeMode(absl::GetFlag(FLAGS_resize_mode));
  if (!mode.ok()) {
    std::cerr << "train: --resize_mode: " << mode.status() << "\n";
    return common::kExitUsage;
  }
  o.preprocess.mode = *mode;
  o.augment = absl::GetFlag(FLAGS_augment);
  o.augment_options.scale = {absl::GetFlag(FLAGS_crop_scale_min), 1.0};
  o.epochs = absl::GetFlag(FLAGS_epochs);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.grad_accum = absl::GetFlag(FLAGS_grad_accum);
  o.lr = absl::GetFlag(FLAGS_lr);
  o.min_lr = absl::GetFlag(FLAGS_min_lr);
  o.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  o.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  o.clip_grad_norm = absl::GetFlag(FLAGS_clip_grad_norm);
  o.freeze_vision_blocks = absl::GetFlag(FLAGS_freeze_vision_blocks);
  o.freeze_text_blocks = absl::GetFlag(FLAGS_freeze_text_blocks);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.loader_workers = absl::GetFlag(FLAGS_loader_workers);
  o.output_dir = absl::GetFlag(FLAGS_output_dir);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.checkpoint_every_steps = absl::GetFlag(FLAGS_checkpoint_every_steps);
  o.max_steps = absl::GetFlag(FLAGS_max_steps);
  o.device = absl::GetFlag(FLAGS_device);
  {
    auto mp = clip::ParsePrecision(absl::GetFlag(FLAGS_mixed_precision));
    if (!mp.ok()) {
      std::cerr << "train: --mixed_precision: " << mp.status() << "\n";
      return common::kExitUsage;
    }
    o.mixed_precision = *mp;
  }
  o.interrupt_after_steps = absl::GetFlag(FLAGS_interrupt_after_steps);
  o.image_attribute_loss_weight =
      absl::GetFlag(FLAGS_image_attribute_loss_weight);
  o.text_attribute_loss_weight =
      absl::GetFlag(FLAGS_text_attribute_loss_weight);
  o.rerank_candidates = absl::GetFlag(FLAGS_rerank_candidates);

  const bool tty = isatty(STDERR_FILENO);
  trainer::TrainerCallbacks cb;
  cb.on_message = [](const std::string& m) { std::cerr << m << "\n"; };
  cb.on_step = [&](const trainer::StepStats& s) {
    const bool last = s.step == s.total_steps;
    if (!tty && s.step % 20 != 0 && !last && s.step != 1) return;
    std::fprintf(stderr,
                 "%sepoch %d step %lld/%lld loss %.4f lr %.2e scale %.1f "
                 "%.1f samples/s data %.0f%% elapsed %s ETA %s%s",
                 tty ? "\r\033[K" : "", s.epoch, static_cast<long long>(s.step),
                 static_cast<long long>(s.total_steps), s.loss, s.lr,
                 s.logit_scale, s.samples_per_second, 100 * s.data_wait_share,
                 Duration(s.elapsed_seconds).c_str(),
                 Duration(s.eta_seconds).c_str(), tty ? "" : "\n");
  };
  cb.on_epoch = [&](const trainer::EpochStats& e) {
    if (tty) std::fprintf(stderr, "\n");
    std::fprintf(stderr,
                 "epoch %d done: step %lld, train loss %.4f, val mAP@10 %.4f "
                 "(pedestrian %.4f, vehicle %.4f; R@1 %.3f R@5 %.3f R@10 "
                 "%.3f), %.1fs, %lld skipped images\n",
                 e.epoch, static_cast<long long>(e.step), e.train_loss,
                 e.val_map10, e.val_map10_pedestrian, e.val_map10_vehicle,
                 e.val_recall1, e.val_recall5, e.val_recall10, e.seconds,
                 static_cast<long long>(e.skipped_images));
    if (e.val_map10_reranked >= 0) {
      std::fprintf(stderr,
                   "epoch %d val mAP@10: routed %.4f, re-ranked %.4f, routed "
                   "and re-ranked %.4f\n",
                   e.epoch, e.val_map10_routed, e.val_map10_reranked,
                   e.val_map10_routed_reranked);
    }
  };
  auto result = trainer::Train(o, *dist, cb);
  if (!result.ok()) {
    std::cerr << "\ntrain (rank " << dist->rank << "): " << result.status()
              << "\n";
    return common::kExitFailure;
  }
  if (dist->is_main()) {
    std::printf("steps %lld\nbest val mAP@10 %.4f\nweights %s\ntokenizer %s\n",
                static_cast<long long>(result->steps), result->best_val_map10,
                result->weights_path.c_str(), result->tokenizer_path.c_str());
  }
  return common::kExitOk;
}
