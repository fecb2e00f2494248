// A contact sheet of search results: the query as a title, then a grid of
// thumbnails of the ranked images, each labelled with its rank, score and
// name. Images come from a directory (DIR/<image name>, never outside it); a
// missing or unreadable image is drawn as a grey placeholder box carrying its
// name.
//
// Layout (pixels), with n entries, c = min(columns, max(n, 1)) columns and
// r = ceil(n / c) rows, t = thumb_size:
//   width  = kSheetMargin + c * (t + kSheetMargin)
//   height = kSheetTitleHeight + r * (t + kSheetLabelHeight + kSheetMargin)
//            + kSheetMargin
// Thumbnails keep their aspect ratio and are centred in a t x t box. Text is
// drawn with OpenCV's Hershey font, which has ASCII glyphs only: other
// characters become '?', and text that does not fit ends in "...".
//
// Plain functions; thread-compatible.
#ifndef CLIENT_CONTACT_SHEET_H_
#define CLIENT_CONTACT_SHEET_H_

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace client {

inline constexpr int kSheetMargin = 8;
inline constexpr int kSheetTitleHeight = 48;  // two lines of title
inline constexpr int kSheetLabelHeight = 34;  // two lines under a thumbnail
// Fill colour (BGR) of a placeholder box.
inline const cv::Scalar kPlaceholderColor(128, 128, 128);

// One ranked result.
struct SheetEntry {
  int rank = 0;  // 1-based
  float score = 0.0f;
  std::string image_name;  // file name under the images directory
  std::string note;        // shown after the score (e.g. the category)
};

struct ContactSheetOptions {
  int columns = 5;       // >= 1
  int thumb_size = 160;  // side of a thumbnail box in pixels, in [32, 1024]
  std::string title;     // e.g. the query text
};

// INVALID_ARGUMENT naming the option when out of range.
absl::Status ValidateContactSheetOptions(const ContactSheetOptions& options);

// The sheet's size for `num_entries` entries (see the layout above).
cv::Size ContactSheetSize(int num_entries, const ContactSheetOptions& options);

// The t x t box of entry `index` (0-based, row-major).
cv::Rect ThumbnailBox(int index, int num_entries,
                      const ContactSheetOptions& options);

// `text` with every non-ASCII UTF-8 sequence and control character replaced
// by '?'.
std::string ToDrawableAscii(absl::string_view text);

// Draws the sheet (8-bit BGR). `placeholders`, when not null, receives the
// names drawn as placeholders, in entry order. Image names come from the
// server, so a name that would leave `images_dir` (absolute, with a ".."
// component, see common::CheckRelativeName) is never opened: it is drawn as a
// placeholder and listed in `refused` (when not null) instead, with the
// reason, as "<name>: <reason>". Errors: options out of range.
absl::StatusOr<cv::Mat> DrawContactSheet(
    const std::string& images_dir, const std::vector<SheetEntry>& entries,
    const ContactSheetOptions& options,
    std::vector<std::string>* placeholders = nullptr,
    std::vector<std::string>* refused = nullptr);

}  // namespace client

#endif  // CLIENT_CONTACT_SHEET_H_
