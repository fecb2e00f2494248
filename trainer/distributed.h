// Multi-process data-parallel training over c10d.
//
// One process per device, laid out by a DistributedConfig
// (trainer/distributed_config.h, read from torchrun's variables). Rank 0 hosts
// a TCPStore for the rendezvous. Backend: NCCL for CUDA tensors on CUDA builds,
// Gloo otherwise.
//
// With WORLD_SIZE=1 (or unset) every collective is the identity and no
// process group is created.
//
// Thread safety: a Communicator is used by the training thread only.
#ifndef TRAINER_DISTRIBUTED_H_
#define TRAINER_DISTRIBUTED_H_

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/distributed_config.h"

namespace trainer {

class Communicator {
 public:
  // Joins the process group (blocks until all ranks arrive or the timeout
  // passes: DEADLINE_EXCEEDED). UNAVAILABLE when the store cannot be reached.
  static absl::StatusOr<std::unique_ptr<Communicator>> Create(
      const DistributedConfig& config);
  ~Communicator();

  const DistributedConfig& config() const { return config_; }
  int rank() const { return config_.rank; }
  int world_size() const { return config_.world_size; }

  // Concatenates every rank's `local` ([B, ...], same shape on all ranks)
  // along dim 0 in rank order: [world_size * B, ...]. Differentiable: the
  // gradient of the result is summed over ranks and the own slice flows back
  // to `local`, so a loss computed identically on every rank from the
  // gathered tensor, followed by AverageGradients, gives exactly the
  // gradient of a single process on the global batch.
  torch::Tensor AllGather(const torch::Tensor& local);

  // Averages the .grad of `params` over ranks, in flattened buckets of about
  // `bucket_bytes` to amortise per-message latency. Parameters without a
  // gradient get a zero gradient on all ranks so the buckets match.
  absl::Status AverageGradients(const std::vector<torch::Tensor>& params,
                                int64_t bucket_bytes = 25 << 20);

  // Copies rank 0's values of `tensors` to every rank.
  absl::Status Broadcast(const std::vector<torch::Tensor>& tensors);

  // Sum of `value` over ranks.
  absl::StatusOr<double> SumScalar(double value);

  absl::Status Barrier();

  // Collective: every rank passes the outcome of the same piece of work
  // (`what`, e.g. "at the end of epoch 3"). Returns `local` when it is an
  // error; else OK when every rank succeeded, or ABORTED naming each rank
  // that failed with its status. A rank that fails calls this before it
  // returns its error, so the others stop at once instead of waiting in
  // their next collective until its timeout (DistributedConfig::timeout).
  // The messages travel truncated to kAgreeMessageBytes.
  absl::Status AgreeOn(const absl::Status& local, absl::string_view what);
  static constexpr int kAgreeMessageBytes = 512;

  // Internal: the process group, exposed for the autograd function.
  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  explicit Communicator(const DistributedConfig& config);
  DistributedConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trainer

#endif  // TRAINER_DISTRIBUTED_H_
