#include "trainer/data_loader.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "common/mix.h"

namespace trainer {
namespace {

// Decorrelates seeds built from small integers.
using common::Mix64;

uint64_t Uniform(std::mt19937_64& rng, uint64_t n) {
  // Rejection sampling: the same draws on every standard library.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = rng();
  } while (v >= limit);
  return v % n;
}

}  // namespace

DataLoader::DataLoader(const PairDataset* dataset,
                       const clip::BpeTokenizer* tokenizer,
                       LoaderOptions options)
    : dataset_(dataset), tokenizer_(tokenizer), options_(std::move(options)) {
  if (options_.workers < 1) options_.workers = 1;
  if (options_.prefetch_batches < 1) options_.prefetch_batches = 1;
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::batches_per_epoch() const {
  const int64_t global = int64_t{options_.batch_size} * options_.world_size;
  return static_cast<int64_t>(dataset_->pairs().size()) / global;
}

std::vector<int32_t> DataLoader::EpochOrder(int64_t epoch) const {
  std::vector<int32_t> order(dataset_->pairs().size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  if (!options_.shuffle) return order;
  std::mt19937_64 rng(
      Mix64(options_.seed ^ Mix64(static_cast<uint64_t>(epoch))));
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[Uniform(rng, i)]);
  }
  return order;
}

void DataLoader::StartEpoch(int64_t epoch, int64_t start_batch) {
  if (prefetcher_) finished_wait_seconds_ += prefetcher_->wait_seconds();
  prefetcher_.reset();
  auto order = std::make_shared<const std::vector<int32_t>>(EpochOrder(epoch));
  prefetcher_ = std::make_unique<pipeline::OrderedPrefetcher<Batch>>(
      start_batch, batches_per_epoch(), options_.workers,
      options_.prefetch_batches, [this, epoch, order](int64_t index) {
        return BuildBatch(epoch, index, *order);
      });
}

absl::StatusOr<Batch> DataLoader::BuildBatch(
    int64_t epoch, int64_t index, const std::vector<int32_t>& order) {
  const int64_t b = options_.batch_size;
  const int64_t r = options_.preprocess.resolution;
  const int64_t ctx = options_.context_length;
  Batch batch;
  batch.epoch = epoch;
  batch.index = index;
  batch.size = b;
  batch.pixels.resize(b * 3 * r * r);
  batch.tokens.resize(b * ctx);
  batch.attributes.resize(b);
  batch.pair_indices.resize(b);
  const int64_t base =
      index * b * options_.world_size + int64_t{options_.rank} * b;
  const int64_t n = static_cast<int64_t>(order.size());
  for (int64_t j = 0; j < b; ++j) {
    const int64_t position = base + j;
    int64_t candidate = position;
    for (int64_t attempt = 0;; ++attempt) {
      const int32_t pair_index = order[candidate % n];
      const Pair& pair = dataset_->pairs()[pair_index];
      std::mt19937_64 rng(
          Mix64(options_.seed ^ Mix64(epoch * 1000003 + candidate)));
      float* out = batch.pixels.data() + j * 3 * r * r;
      absl::Status st =
          options_.augment
              ? clip::PreprocessFileForTraining(
                    dataset_->ImagePath(pair.image), options_.preprocess,
                    options_.augment_options, &rng, out)
              : clip::PreprocessFile(dataset_->ImagePath(pair.image),
                                     options_.preprocess, out);
      if (st.ok()) {
        std::vector<int64_t> tokens = tokenizer_->Tokenize(
            dataset_->texts()[pair.text], static_cast<int>(ctx));
        std::copy(tokens.begin(), tokens.end(), batch.tokens.begin() + j * ctx);
        batch.attributes[j] = pair.attribute;
        batch.pair_indices[j] = pair_index;
        break;
      }
      if (!options_.skip_bad_images) {
        return absl::Status(
            st.code(),
            absl::StrCat("training image ", dataset_->images()[pair.image],
                         " (", dataset_->source(), "): ", st.message(),
                         "; pass --skip_bad_images to skip such images"));
      }
      skipped_.fetch_add(1);
      if (attempt + 1 >= n) {
        return absl::FailedPreconditionError(
            absl::StrCat("no readable image in ", dataset_->source()));
      }
      // Deterministic replacement: the next pair of the epoch's order.
      candidate = candidate + 1;
    }
  }
  return batch;
}

absl::StatusOr<std::optional<Batch>> DataLoader::Next() {
  if (!prefetcher_) {
    return absl::FailedPreconditionError("StartEpoch was not called");
  }
  return prefetcher_->Next();
}

}  // namespace trainer
