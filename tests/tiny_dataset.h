// A tiny synthetic dataset (datagen/) for tests that need real images and
// label files: a few dozen images from small attribute pools, rendered on one
// thread, the same bytes on every run.
#ifndef TESTS_TINY_DATASET_H_
#define TESTS_TINY_DATASET_H_

#include <string>

#include "absl/status/status.h"
#include "datagen/datagen.h"

namespace tests {

// The options of a tiny dataset at `dir`: the given split sizes, pools of 4
// vehicle and 4 pedestrian attribute sets, one rendering thread, the other
// fields at their defaults.
datagen::DatagenOptions TinyDatasetOptions(const std::string& dir,
                                           int train_size = 24,
                                           int val_size = 4, int test_size = 4);

// Removes `dir` and generates TinyDatasetOptions(dir, ...) there.
absl::Status GenerateTinyDataset(const std::string& dir, int train_size = 24,
                                 int val_size = 4, int test_size = 4);

}  // namespace tests

#endif  // TESTS_TINY_DATASET_H_
