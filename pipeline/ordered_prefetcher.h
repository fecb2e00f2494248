// Produces items [begin, end) on worker threads, at most `window` items
// ahead of the consumer, and hands them out in index order. The data loader
// and the image stream both build on it: decoding runs ahead of the model,
// memory stays bounded, and the order never depends on thread timing.
//
// Thread safety: one consumer thread calls Next; `build` runs on the
// workers, concurrently for different indices.
#ifndef PIPELINE_ORDERED_PREFETCHER_H_
#define PIPELINE_ORDERED_PREFETCHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace pipeline {

template <typename T>
class OrderedPrefetcher {
 public:
  using Builder = std::function<absl::StatusOr<T>(int64_t index)>;

  OrderedPrefetcher(int64_t begin, int64_t end, int workers, int window,
                    Builder build)
      : next_to_build_(begin),
        next_to_return_(begin),
        end_(end),
        window_(window < 1 ? 1 : window),
        build_(std::move(build)) {
    for (int i = 0; i < (workers < 1 ? 1 : workers); ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }

  ~OrderedPrefetcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  OrderedPrefetcher(const OrderedPrefetcher&) = delete;
  OrderedPrefetcher& operator=(const OrderedPrefetcher&) = delete;

  // The next item in index order, nullopt after the last, or the error its
  // builder returned.
  absl::StatusOr<std::optional<T>> Next() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    if (next_to_return_ >= end_) return std::optional<T>();
    cv_.wait(lock, [&] { return ready_.count(next_to_return_) > 0; });
    auto node = ready_.extract(next_to_return_);
    ++next_to_return_;
    lock.unlock();
    cv_.notify_all();
    wait_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!node.mapped().ok()) return node.mapped().status();
    return std::optional<T>(std::move(*node.mapped()));
  }

  // Seconds Next() spent waiting for the workers.
  double wait_seconds() const { return wait_seconds_; }

 private:
  void Work() {
    while (true) {
      int64_t index;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return stop_ || (next_to_build_ < end_ &&
                           next_to_build_ < next_to_return_ + window_);
        });
        if (stop_) return;
        index = next_to_build_++;
      }
      absl::StatusOr<T> item = build_(index);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
        ready_.emplace(index, std::move(item));
      }
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int64_t next_to_build_;
  int64_t next_to_return_;
  const int64_t end_;
  const int64_t window_;
  Builder build_;
  std::map<int64_t, absl::StatusOr<T>> ready_;
  std::vector<std::thread> threads_;
  double wait_seconds_ = 0;
};

}  // namespace pipeline

#endif  // PIPELINE_ORDERED_PREFETCHER_H_
