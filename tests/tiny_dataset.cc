#include "tests/tiny_dataset.h"

#include <filesystem>
#include <system_error>

namespace tests {

datagen::DatagenOptions TinyDatasetOptions(const std::string& dir,
                                           int train_size, int val_size,
                                           int test_size) {
  datagen::DatagenOptions o;
  o.output_dir = dir;
  o.train_size = train_size;
  o.val_size = val_size;
  o.test_size = test_size;
  o.vehicle_pool_size = 4;
  o.pedestrian_pool_size = 4;
  o.threads = 1;
  return o;
}

absl::Status GenerateTinyDataset(const std::string& dir, int train_size,
                                 int val_size, int test_size) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return datagen::GenerateDataset(
      TinyDatasetOptions(dir, train_size, val_size, test_size));
}

}  // namespace tests
