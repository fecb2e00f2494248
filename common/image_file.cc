#include "common/image_file.h"

#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace common {

absl::StatusOr<std::string> ImageExtension(const std::string& path) {
  const std::string lower = absl::AsciiStrToLower(path);
  for (const char* candidate : {".png", ".jpg", ".jpeg"}) {
    if (absl::EndsWith(lower, candidate)) return std::string(candidate);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot tell the image format of ", path,
                   " (use a .png, .jpg or .jpeg name)"));
}

absl::Status WriteImageFile(const std::string& path, const cv::Mat& image) {
  const absl::StatusOr<std::string> extension = ImageExtension(path);
  if (!extension.ok()) return extension.status();
  std::vector<unsigned char> bytes;
  bool encoded = false;
  try {
    encoded = cv::imencode(*extension, image, bytes);
  } catch (const cv::Exception& e) {
    return absl::InternalError(
        absl::StrCat("cannot encode ", path, ": ", e.what()));
  }
  if (!encoded) {
    return absl::InternalError(absl::StrCat("cannot encode ", path));
  }
  return WriteFileAtomically(
      path, absl::string_view(reinterpret_cast<const char*>(bytes.data()),
                              bytes.size()));
}

}  // namespace common
