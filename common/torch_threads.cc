#include "common/torch_threads.h"

#include <ATen/Parallel.h>

#include <thread>

namespace common {

int SetComputeThreads(int threads) {
  if (threads <= 0) {
    threads = static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  at::set_num_threads(threads);
  return threads;
}

}  // namespace common
