// Thread settings for binaries that run LibTorch models. Debian's LibTorch
// defaults to one intra-op thread on these machines; binaries call this once
// at start-up.
#ifndef COMMON_TORCH_THREADS_H_
#define COMMON_TORCH_THREADS_H_

namespace common {

// Sets LibTorch's intra-op thread count to `threads`, or to the number of
// cores when `threads` <= 0. Returns the count set.
int SetComputeThreads(int threads);

}  // namespace common

#endif  // COMMON_TORCH_THREADS_H_
