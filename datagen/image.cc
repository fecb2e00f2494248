// Rendering one image of an attribute set, and its JPEG encoding.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/mix.h"
#include "datagen/datagen.h"
#include "datagen/render_pedestrian.h"
#include "datagen/render_vehicle.h"
#include "datagen/rng.h"
#include "opencv2/imgcodecs.hpp"

namespace datagen {

using common::Mix64;

cv::Mat RenderImage(const AttributeSet& set, uint64_t seed) {
  internal::Rng rng(Mix64(seed ^ 0x5bd1e995ULL));
  return set.kind == SampleKind::kVehicle
             ? internal::RenderVehicle(set.vehicle, rng)
             : internal::RenderPedestrian(set.pedestrian, rng);
}

Sample RenderSample(const AttributeSet& set, uint64_t seed,
                    int pedestrian_variants) {
  Sample sample;
  sample.image = RenderImage(set, seed);
  sample.attribute = AttributeString(set);
  const int n = NumCaptionVariants(set, pedestrian_variants);
  for (int v = 0; v < n; ++v) sample.captions.push_back(Caption(set, v));
  return sample;
}

absl::StatusOr<std::string> EncodeJpeg(const cv::Mat& image, int quality) {
  std::vector<uchar> buf;
  bool ok = false;
  try {
    ok = cv::imencode(
        ".jpg", image, buf,
        {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_OPTIMIZE, 0});
  } catch (const cv::Exception& e) {
    return absl::InternalError(
        absl::StrCat("JPEG encoding failed: ", e.what()));
  }
  if (!ok) return absl::InternalError("JPEG encoding failed");
  return std::string(buf.begin(), buf.end());
}

absl::StatusOr<std::string> RenderPlannedImage(const DatasetPlan& plan,
                                               const PlannedImage& image) {
  const cv::Mat pixels =
      RenderImage(plan.pool[image.attribute_set], image.render_seed);
  return EncodeJpeg(pixels, image.jpeg_quality);
}

}  // namespace datagen
