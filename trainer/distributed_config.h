// Where this process sits in a data-parallel training job, read from the
// environment variables that torchrun, Kubeflow's PyTorchJob and the Slurm
// launch scripts set: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT. Torch-free, so that headers which only pass the layout
// around (trainer/trainer.h) do not pull in LibTorch; the collectives are in
// trainer/distributed.h.
#ifndef TRAINER_DISTRIBUTED_CONFIG_H_
#define TRAINER_DISTRIBUTED_CONFIG_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace trainer {

struct DistributedConfig {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};

  bool distributed() const { return world_size > 1; }
  bool is_main() const { return rank == 0; }
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Unset
// variables keep the defaults above (a single process). INVALID_ARGUMENT
// names the variable when a value does not parse or is out of range
// (RANK >= WORLD_SIZE, a port outside 1..65535, ...).
absl::StatusOr<DistributedConfig> DistributedConfigFromEnv();

}  // namespace trainer

#endif  // TRAINER_DISTRIBUTED_CONFIG_H_
