// Writing an OpenCV image to a file: encoded in memory by the file name's
// extension, then written atomically (common::WriteFileAtomically), so a
// reader never sees half a PNG. Shared by the contact sheet (client/), the
// training plot (trainer/) and the evaluator's attribute chart (eval/).
// Plain functions; thread-safe.
#ifndef COMMON_IMAGE_FILE_H_
#define COMMON_IMAGE_FILE_H_

#include <string>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace common {

// The encoder extension for `path` (".png", ".jpg" or ".jpeg", matched
// case-insensitively); INVALID_ARGUMENT naming the path otherwise.
absl::StatusOr<std::string> ImageExtension(const std::string& path);

// Encodes `image` by the extension of `path` (see ImageExtension) and writes
// it atomically. INVALID_ARGUMENT for an unknown extension, INTERNAL when
// OpenCV cannot encode the image, WriteFileAtomically's errors otherwise.
absl::Status WriteImageFile(const std::string& path, const cv::Mat& image);

}  // namespace common

#endif  // COMMON_IMAGE_FILE_H_
