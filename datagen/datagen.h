// Synthetic traffic retrieval dataset in the competition's layout
// (CVPR 2023 Foundation Model Challenge, Track 2), drawn with OpenCV.
//
// Vehicles are side views whose body colour, silhouette (Bus, Microbus,
// Minivan, SUV, Sedan, Truck) and brand emblem (a large framed decal on the
// side: one of 5 layouts in one of 13 colour pairs per brand) show the
// attribute. Pedestrians are blob figures
// that show sex (hair length), age group (size, grey hair, stoop), orientation
// (face, profile or back of the head), hat, glasses, hand bag, shoulder bag,
// backpack, objects held in front, sleeve length, upper-body pattern (stripes,
// logo, plaid, splice), long coat and skirt. Backgrounds are road, pavement
// and gradient textures with clutter; each image gets position and scale
// jitter, blur, noise and JPEG compression. Shapes are large, high-contrast
// and spatially separated so that every attribute survives squashing the
// image to 48 x 48.
//
// Attribute sets come from small pools (a limited number of colour x brand
// combinations and of distinct pedestrian flag vectors) so that many images
// share an attribute and many captions share an attribute, as in the real
// data. Train, val and test draw from the same pools with different images.
//
// Output under DatagenOptions::output_dir:
//   train/train_label.txt, train/images/*.jpg
//   val/val_label.txt,     val/images/*.jpg
//   test/test_text.txt     the queries, one caption a line
//   test/test_label.txt    the hidden labels of the gallery (for scoring)
//   test/images/*.jpg      the gallery
//   manifest.txt           key=value lines: seed, sizes, pools, version
// Label lines are "image$attribute$text". Vehicle images are named with 10
// lowercase letters, pedestrian images with 6 digits, like the real data.
//
// Determinism: the output is a function of the options other than `threads`
// and `output_dir`; the same seed gives the same bytes whatever the thread
// count (each image has its own random stream, derived from the seed, the
// split and its index).
#ifndef DATAGEN_DATAGEN_H_
#define DATAGEN_DATAGEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datagen/caption_templates.h"
#include "opencv2/core.hpp"

namespace datagen {

// Bumped whenever the same options start producing different bytes.
inline constexpr int kDatagenVersion = 2;

struct DatagenOptions {
  // Directory the dataset is created as. Must not exist or be empty, unless
  // `overwrite`.
  std::string output_dir;
  bool overwrite = false;
  uint64_t seed = 1;
  // Number of images in each split; train and test >= 1, val >= 0.
  int train_size = 6000;
  int val_size = 600;
  // Gallery images of the test split.
  int test_size = 600;
  // Queries written to test/test_text.txt: the distinct captions of the test
  // labels, or a seeded sample of this many of them when fewer; 0 = all.
  int num_queries = 0;
  // Fraction of each split that is vehicles, in [0, 1].
  double vehicle_fraction = 0.5;
  // Distinct vehicle attribute sets, in [1, kMaxVehiclePoolSize]. About 10%
  // are type-only ("Bus."), about 5% brand-only truck or bus brands
  // ("Hongyan."), the rest colour + brand over roughly pool/3 brands, so
  // that each brand comes in several colours and each colour on several
  // brands.
  int vehicle_pool_size = 40;
  // Distinct pedestrian flag vectors, in [1, kMaxPedestrianPoolSize].
  int pedestrian_pool_size = 40;
  // Caption variants per pedestrian attribute set (vehicles have
  // kNumVehicleCaptionVariants), >= 1. Each image's label uses one variant.
  int pedestrian_caption_variants = 4;
  // JPEG quality of each image is drawn from [jpeg_quality - 15,
  // jpeg_quality] (at least 30); jpeg_quality in [30, 100].
  int jpeg_quality = 90;
  // Rendering threads, >= 1. Does not change the output.
  int threads = 2;
};

inline constexpr int kMaxVehiclePoolSize = 400;
inline constexpr int kMaxPedestrianPoolSize = 5000;

// INVALID_ARGUMENT naming the offending field.
absl::Status ValidateDatagenOptions(const DatagenOptions& options);

enum class SampleKind { kVehicle, kPedestrian };

// One attribute set of a pool.
struct AttributeSet {
  SampleKind kind = SampleKind::kVehicle;
  VehicleAttribute vehicle;      // meaningful when kind == kVehicle
  PedestrianFlags pedestrian{};  // meaningful when kind == kPedestrian
};

// The label's attribute field ("white Audi." or "0,0,1,...").
std::string AttributeString(const AttributeSet& set);
// Number of caption variants of `set`: kNumVehicleCaptionVariants for
// vehicles, `pedestrian_variants` for pedestrians.
int NumCaptionVariants(const AttributeSet& set, int pedestrian_variants);
// Caption `variant` of `set` (VehicleCaption or PedestrianCaption).
std::string Caption(const AttributeSet& set, int variant);

// The seeded pools: `size` distinct valid attribute sets. Require sizes in
// the ranges of DatagenOptions.
std::vector<AttributeSet> MakeVehiclePool(int size, uint64_t seed);
std::vector<AttributeSet> MakePedestrianPool(int size, uint64_t seed);

// Renders one image of `set` as CV_8UC3 BGR (OpenCV's order), before JPEG
// compression. A fixed function of (set, seed). Vehicles are wider than
// tall, about 160 x 120 (width 130..200, height 100..140); pedestrians are
// about 80 x 200 (width 64..100, height 170..230). `set` must be valid.
cv::Mat RenderImage(const AttributeSet& set, uint64_t seed);

// An image with its label fields.
struct Sample {
  cv::Mat image;                      // CV_8UC3 BGR, see RenderImage
  std::string attribute;              // AttributeString(set)
  std::vector<std::string> captions;  // Caption(set, v) for every variant
};
Sample RenderSample(const AttributeSet& set, uint64_t seed,
                    int pedestrian_variants);

// JPEG bytes of a CV_8UC3 image at `quality` (1..100); deterministic.
// INTERNAL when OpenCV's encoder fails.
absl::StatusOr<std::string> EncodeJpeg(const cv::Mat& image, int quality);

// Everything about one image except its pixels.
struct PlannedImage {
  std::string name;         // "abcdefghij.jpg" or "000123.jpg"
  int attribute_set = 0;    // index into DatasetPlan::pool
  int caption_variant = 0;  // caption of the label line
  uint64_t render_seed = 0;
  int jpeg_quality = 90;
};

struct DatasetPlan {
  // Vehicle sets first, then pedestrian sets.
  std::vector<AttributeSet> pool;
  std::vector<PlannedImage> train, val, test;
  // test/test_text.txt, in order; every query is the caption of at least one
  // test image.
  std::vector<std::string> queries;
};

// The deterministic plan of the dataset for `options` (validated first;
// INVALID_ARGUMENT as ValidateDatagenOptions). Image names are unique across
// the three splits.
absl::StatusOr<DatasetPlan> PlanDataset(const DatagenOptions& options);

// "name$attribute$caption" of `image` (no newline).
std::string LabelLine(const DatasetPlan& plan, const PlannedImage& image);

// Renders `image` of `plan` and returns its JPEG bytes.
absl::StatusOr<std::string> RenderPlannedImage(const DatasetPlan& plan,
                                               const PlannedImage& image);

// Writes the whole dataset. It is built in a temporary sibling directory
// (output_dir + ".tmp.*") that is renamed into place when complete, so
// output_dir never holds half a dataset; on error the temporary directory is
// removed. FAILED_PRECONDITION when output_dir exists and is not an empty
// directory and `overwrite` is false (with `overwrite`, the old directory is
// replaced after the new one is complete). INVALID_ARGUMENT for bad options;
// I/O errors name the path.
//
// Thread safety: safe to call concurrently for different output dirs. The
// rendering threads are `threads` std::threads; OpenCV's own thread pool
// (cv::setNumThreads) is left as the caller set it, and a caller that renders
// on several threads is faster with cv::setNumThreads(1).
absl::Status GenerateDataset(const DatagenOptions& options);

}  // namespace datagen

#endif  // DATAGEN_DATAGEN_H_
