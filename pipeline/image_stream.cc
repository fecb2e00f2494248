#include "pipeline/image_stream.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace pipeline {

ImageStream::ImageStream(std::vector<std::string> paths,
                         ImageStreamOptions options)
    : paths_(std::move(paths)), options_(std::move(options)) {
  if (options_.chunk_size < 1) options_.chunk_size = 1;
  const int64_t chunks =
      (static_cast<int64_t>(paths_.size()) + options_.chunk_size - 1) /
      options_.chunk_size;
  prefetcher_ = std::make_unique<OrderedPrefetcher<ImageChunk>>(
      0, chunks, options_.workers, options_.prefetch_chunks,
      [this](int64_t index) { return BuildChunk(index); });
}

ImageStream::~ImageStream() = default;

absl::StatusOr<ImageChunk> ImageStream::BuildChunk(int64_t chunk_index) {
  const int64_t r = options_.preprocess.resolution;
  const auto start = std::chrono::steady_clock::now();
  ImageChunk chunk;
  chunk.first = chunk_index * options_.chunk_size;
  const int64_t end = std::min<int64_t>(chunk.first + options_.chunk_size,
                                        static_cast<int64_t>(paths_.size()));
  chunk.pixels.resize((end - chunk.first) * 3 * r * r);
  for (int64_t i = chunk.first; i < end; ++i) {
    absl::Status st =
        clip::PreprocessFile(paths_[i], options_.preprocess,
                             chunk.pixels.data() + chunk.size * 3 * r * r);
    if (st.ok()) {
      ++chunk.size;
    } else if (options_.skip_bad_images) {
      chunk.skipped.push_back(i);
    } else {
      return st;
    }
  }
  chunk.pixels.resize(chunk.size * 3 * r * r);
  decode_micros_.fetch_add(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start)
          .count());
  return chunk;
}

absl::StatusOr<std::optional<ImageChunk>> ImageStream::Next() {
  return prefetcher_->Next();
}

}  // namespace pipeline
