// Ordered, parallel preprocessing of a list of images, in chunks: worker
// threads decode and normalise ahead of the consumer (validation, export)
// within a bounded window, so the model rarely waits on JPEG decoding.
// No LibTorch.
//
// Thread safety: one consumer thread calls Next.
#ifndef PIPELINE_IMAGE_STREAM_H_
#define PIPELINE_IMAGE_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clip/image_preprocess.h"
#include "pipeline/ordered_prefetcher.h"

namespace pipeline {

struct ImageChunk {
  int64_t first = 0;          // index of the chunk's first image in the list
  int64_t size = 0;           // images in `pixels`
  std::vector<float> pixels;  // [size, 3, R, R]
  // Indices (into the list) of images that failed and were left out
  // (skip_bad_images); their rows are absent from `pixels`.
  std::vector<int64_t> skipped;
};

struct ImageStreamOptions {
  clip::PreprocessOptions preprocess;
  int chunk_size = 32;
  int workers = 2;
  int prefetch_chunks = 4;
  // Leave out unreadable images (reported in ImageChunk::skipped) instead of
  // failing.
  bool skip_bad_images = false;
};

class ImageStream {
 public:
  ImageStream(std::vector<std::string> paths, ImageStreamOptions options);
  ~ImageStream();

  // The next chunk in list order; nullopt after the last. An unreadable image
  // without skip_bad_images is an error naming it.
  absl::StatusOr<std::optional<ImageChunk>> Next();

  // Seconds Next() waited for workers.
  double wait_seconds() const { return prefetcher_->wait_seconds(); }
  // Seconds workers spent decoding and preprocessing, summed over workers.
  double decode_seconds() const { return decode_micros_.load() / 1e6; }

 private:
  absl::StatusOr<ImageChunk> BuildChunk(int64_t chunk_index);

  std::vector<std::string> paths_;
  ImageStreamOptions options_;
  std::atomic<int64_t> decode_micros_{0};
  std::unique_ptr<OrderedPrefetcher<ImageChunk>>
      prefetcher_;  // last: stops first
};

}  // namespace pipeline

#endif  // PIPELINE_IMAGE_STREAM_H_
