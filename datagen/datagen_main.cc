// Writes a synthetic traffic retrieval dataset in the competition's layout.
//
// Usage:
//   datagen --output_dir=/tmp/synth [--seed=1] [--train_size=6000]
//           [--val_size=600] [--test_size=600] [--num_queries=0]
//           [--threads=2] [--overwrite]
//
// Layout: train/train_label.txt, train/images/, val/val_label.txt,
// val/images/, test/test_text.txt, test/test_label.txt (hidden labels, for
// scoring), test/images/, manifest.txt. The same flags (other than --threads
// and --output_dir) always give the same bytes.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "common/exit_code.h"
#include "datagen/datagen.h"
#include "glog/logging.h"
#include "opencv2/core/utility.hpp"

ABSL_FLAG(std::string, output_dir, "",
          "Directory to create the dataset as (required). Must not exist or "
          "be empty unless --overwrite.");
ABSL_FLAG(bool, overwrite, false,
          "Replace a non-empty --output_dir (only once the new dataset is "
          "complete).");
ABSL_FLAG(uint64_t, seed, 1, "Seed of everything random; default 1.");
ABSL_FLAG(int, train_size, 6000, "Training images; default 6000.");
ABSL_FLAG(int, val_size, 600, "Validation images; default 600.");
ABSL_FLAG(int, test_size, 600, "Test gallery images; default 600.");
ABSL_FLAG(int, num_queries, 0,
          "Queries in test/test_text.txt: a seeded sample of this many of "
          "the distinct test captions; 0 (default) = all of them.");
ABSL_FLAG(double, vehicle_fraction, 0.5,
          "Fraction of each split that is vehicles, in [0, 1]; default 0.5.");
ABSL_FLAG(int, vehicle_pool_size, 40,
          "Distinct vehicle attributes (colour x brand, type-only, "
          "brand-only); default 40.");
ABSL_FLAG(int, pedestrian_pool_size, 40,
          "Distinct pedestrian flag vectors; default 40.");
ABSL_FLAG(int, pedestrian_caption_variants, 4,
          "Caption phrasings per pedestrian attribute set; default 4 "
          "(vehicles always have 2).");
ABSL_FLAG(int, jpeg_quality, 90,
          "Upper JPEG quality; each image uses a seeded quality in "
          "[q - 15, q]; default 90.");
ABSL_FLAG(int, threads, 2, "Rendering threads; does not change the output.");

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(
      argc, argv,
      "Writes a synthetic traffic text-to-image retrieval dataset.");
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;

  datagen::DatagenOptions options;
  options.output_dir = absl::GetFlag(FLAGS_output_dir);
  options.overwrite = absl::GetFlag(FLAGS_overwrite);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.train_size = absl::GetFlag(FLAGS_train_size);
  options.val_size = absl::GetFlag(FLAGS_val_size);
  options.test_size = absl::GetFlag(FLAGS_test_size);
  options.num_queries = absl::GetFlag(FLAGS_num_queries);
  options.vehicle_fraction = absl::GetFlag(FLAGS_vehicle_fraction);
  options.vehicle_pool_size = absl::GetFlag(FLAGS_vehicle_pool_size);
  options.pedestrian_pool_size = absl::GetFlag(FLAGS_pedestrian_pool_size);
  options.pedestrian_caption_variants =
      absl::GetFlag(FLAGS_pedestrian_caption_variants);
  options.jpeg_quality = absl::GetFlag(FLAGS_jpeg_quality);
  options.threads = absl::GetFlag(FLAGS_threads);

  // The images are small and rendered on --threads threads; OpenCV's own
  // pool would only add contention (about 30% slower on 2 cores).
  cv::setNumThreads(1);

  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = datagen::GenerateDataset(options);
  if (!status.ok()) {
    std::cerr << "datagen: " << status << "\n";
    return common::kExitFailure;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  LOG(INFO) << "wrote " << options.output_dir << " (seed " << options.seed
            << ", " << options.train_size << "/" << options.val_size << "/"
            << options.test_size << " images) in " << seconds << " s";
  return common::kExitOk;
}
