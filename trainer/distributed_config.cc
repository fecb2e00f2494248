#include "trainer/distributed_config.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace trainer {
namespace {

absl::Status ReadIntEnv(const char* name, int min, int max, int* out) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return absl::OkStatus();
  int parsed;
  if (!absl::SimpleAtoi(v, &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", name, "='", v,
                     "' is not an integer in [", min, ", ", max, "]"));
  }
  *out = parsed;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DistributedConfig> DistributedConfigFromEnv() {
  DistributedConfig c;
  absl::Status s;
  if (!(s = ReadIntEnv("WORLD_SIZE", 1, 1 << 20, &c.world_size)).ok()) return s;
  if (!(s = ReadIntEnv("RANK", 0, c.world_size - 1, &c.rank)).ok()) return s;
  if (!(s = ReadIntEnv("LOCAL_RANK", 0, 1 << 20, &c.local_rank)).ok()) return s;
  if (!(s = ReadIntEnv("MASTER_PORT", 1, 65535, &c.master_port)).ok()) return s;
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) {
    c.master_addr = addr;
  }
  if (c.world_size > 1 && std::getenv("RANK") == nullptr) {
    return absl::InvalidArgumentError(
        "WORLD_SIZE > 1 but RANK is not set: every process needs its rank");
  }
  return c;
}

}  // namespace trainer
