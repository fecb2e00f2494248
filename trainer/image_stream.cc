#include "trainer/image_stream.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace trainer {

ImageStream::ImageStream(std::vector<std::string> paths,
                         ImageStreamOptions options)
    : paths_(std::move(paths)), options_(std::move(options)) {
  if (options_.chunk_size < 1) options_.chunk_size = 1;
  if (options_.workers < 1) options_.workers = 1;
  if (options_.prefetch_chunks < 1) options_.prefetch_chunks = 1;
  num_chunks_ = (static_cast<int64_t>(paths_.size()) + options_.chunk_size - 1) /
                options_.chunk_size;
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

ImageStream::~ImageStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ImageStream::Work() {
  const int64_t r = options_.preprocess.resolution;
  while (true) {
    int64_t chunk_index;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stop_ || (next_to_build_ < num_chunks_ &&
                         next_to_build_ < next_to_return_ + options_.prefetch_chunks);
      });
      if (stop_) return;
      chunk_index = next_to_build_++;
    }
    const auto start = std::chrono::steady_clock::now();
    ImageChunk chunk;
    chunk.first = chunk_index * options_.chunk_size;
    const int64_t end = std::min<int64_t>(chunk.first + options_.chunk_size,
                                          static_cast<int64_t>(paths_.size()));
    chunk.pixels.resize((end - chunk.first) * 3 * r * r);
    absl::Status failure;
    for (int64_t i = chunk.first; i < end; ++i) {
      absl::Status st = clip::PreprocessFile(
          paths_[i], options_.preprocess, chunk.pixels.data() + chunk.size * 3 * r * r);
      if (st.ok()) {
        ++chunk.size;
      } else if (options_.skip_bad_images) {
        chunk.skipped.push_back(i);
      } else {
        failure = st;
        break;
      }
    }
    chunk.pixels.resize(chunk.size * 3 * r * r);
    decode_micros_.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - start)
                                 .count());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (failure.ok()) {
        ready_.emplace(chunk_index, std::move(chunk));
      } else {
        ready_.emplace(chunk_index, failure);
      }
    }
    cv_.notify_all();
  }
}

absl::StatusOr<std::optional<ImageChunk>> ImageStream::Next() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  if (next_to_return_ >= num_chunks_) return std::optional<ImageChunk>();
  cv_.wait(lock, [&] { return ready_.count(next_to_return_) > 0; });
  auto node = ready_.extract(next_to_return_);
  ++next_to_return_;
  lock.unlock();
  cv_.notify_all();
  wait_seconds_ += std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  if (!node.mapped().ok()) return node.mapped().status();
  return std::optional<ImageChunk>(std::move(*node.mapped()));
}

}  // namespace trainer
