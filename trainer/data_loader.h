// Parallel, reproducible batches of preprocessed image-text pairs.
//
// Worker threads decode, augment and normalise images and tokenize texts
// ahead of the training loop, into a bounded window of batches; the loop
// takes them in order. No LibTorch: a batch is plain arrays.
//
// Order: epoch e visits every pair once, in a permutation drawn from
// (seed, e). Global batch b is pairs [b*G, (b+1)*G) of that permutation with
// G = batch_size * world_size; rank r takes its slice [r*B, (r+1)*B). The
// incomplete last global batch is dropped. Augmentation randomness of a
// sample depends only on (seed, epoch, position), so results do not depend
// on the number of workers, and a run resumed at (epoch, batch) sees exactly
// the batches an uninterrupted run would.
//
// Thread safety: one consumer thread calls StartEpoch/Next.
#ifndef TRAINER_DATA_LOADER_H_
#define TRAINER_DATA_LOADER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "clip/image_preprocess.h"
#include "clip/tokenizer.h"
#include "pipeline/ordered_prefetcher.h"
#include "trainer/dataset.h"

namespace trainer {

struct LoaderOptions {
  int batch_size = 32;  // per rank
  int rank = 0;
  int world_size = 1;
  uint64_t seed = 0;
  int workers = 2;
  int prefetch_batches = 4;  // batches decoded ahead of the consumer
  clip::PreprocessOptions preprocess;
  bool augment = true;
  clip::AugmentOptions augment_options;
  int context_length = 77;
  // A missing or undecodable image stops the run (default) or is replaced
  // by the next decodable pair in the epoch's order and counted.
  bool skip_bad_images = false;
  bool shuffle = true;
};

struct Batch {
  int64_t epoch = 0;
  int64_t index = 0;                  // global batch index within the epoch
  int64_t size = 0;                   // rows (this rank's)
  std::vector<float> pixels;          // [size, 3, R, R]
  std::vector<int64_t> tokens;        // [size, context_length]
  std::vector<int64_t> attributes;    // [size] attribute ids
  std::vector<int32_t> pair_indices;  // [size] into dataset.pairs()
};

class DataLoader {
 public:
  // `dataset` and `tokenizer` must outlive the loader.
  DataLoader(const PairDataset* dataset, const clip::BpeTokenizer* tokenizer,
             LoaderOptions options);
  ~DataLoader();

  // Global batches per epoch.
  int64_t batches_per_epoch() const;

  // Starts (or restarts) producing epoch `epoch` at global batch
  // `start_batch`.
  void StartEpoch(int64_t epoch, int64_t start_batch = 0);

  // The next batch of the epoch, or nullopt after its last. A bad image
  // without skip_bad_images is an error naming the image (NOT_FOUND when
  // missing, INVALID_ARGUMENT/DATA_LOSS when undecodable).
  absl::StatusOr<std::optional<Batch>> Next();

  // Images replaced because they could not be read (skip_bad_images).
  int64_t skipped_images() const { return skipped_.load(); }
  // Seconds Next() spent waiting for workers: the loop's data-loading time.
  double wait_seconds() const {
    return finished_wait_seconds_ +
           (prefetcher_ ? prefetcher_->wait_seconds() : 0);
  }

  // The permutation of pair indices for `epoch` (exposed for tests).
  std::vector<int32_t> EpochOrder(int64_t epoch) const;

 private:
  absl::StatusOr<Batch> BuildBatch(int64_t epoch, int64_t index,
                                   const std::vector<int32_t>& order);

  const PairDataset* dataset_;
  const clip::BpeTokenizer* tokenizer_;
  LoaderOptions options_;
  std::unique_ptr<pipeline::OrderedPrefetcher<Batch>> prefetcher_;
  std::atomic<int64_t> skipped_{0};
  double finished_wait_seconds_ = 0;  // of epochs before the current one
};

}  // namespace trainer

#endif  // TRAINER_DATA_LOADER_H_
