#include "client/contact_sheet.h"

#include <unistd.h>

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/path_util.h"

namespace client {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kLabelScale = 0.4;
constexpr double kTitleScale = 0.55;
const cv::Scalar kBackground(255, 255, 255);
const cv::Scalar kBoxBackground(235, 235, 235);
const cv::Scalar kText(20, 20, 20);
const cv::Scalar kPlaceholderText(255, 255, 255);

int Columns(int num_entries, const ContactSheetOptions& options) {
  return std::min(options.columns, std::max(num_entries, 1));
}

int TextWidth(const std::string& text, double scale) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, scale, 1, &baseline).width;
}

// The longest prefix of `text` that fits `width` pixels, with "..." when cut.
std::string FitText(const std::string& text, double scale, int width) {
  if (TextWidth(text, scale) <= width) return text;
  std::string cut = text;
  while (!cut.empty() && TextWidth(cut + "...", scale) > width) cut.pop_back();
  return cut + "...";
}

// Splits `text` at spaces into at most `max_lines` lines of at most `width`
// pixels; the last line ends in "..." when text is left over.
std::vector<std::string> WrapText(const std::string& text, double scale,
                                  int width, int max_lines) {
  std::vector<std::string> words;
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    if (end > pos) words.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  std::vector<std::string> lines;
  std::string current;
  bool truncated = false;
  for (const std::string& word : words) {
    const std::string candidate = current.empty() ? word : current + " " + word;
    if (current.empty() || TextWidth(candidate, scale) <= width) {
      current = candidate;
      continue;
    }
    lines.push_back(current);
    current = word;
    if (static_cast<int>(lines.size()) == max_lines) {
      truncated = true;
      break;
    }
  }
  if (!truncated && !current.empty()) lines.push_back(current);
  if (truncated) lines.back() = FitText(lines.back() + " ...", scale, width);
  for (std::string& line : lines) line = FitText(line, scale, width);
  return lines;
}

void PutText(cv::Mat& sheet, const std::string& text, cv::Point origin,
             double scale, const cv::Scalar& color) {
  cv::putText(sheet, text, origin, kFont, scale, color, 1, cv::LINE_AA);
}

// Draws `image` scaled into `box`, keeping its aspect ratio.
void DrawThumbnail(cv::Mat& sheet, const cv::Mat& image, const cv::Rect& box) {
  const double scale = std::min(static_cast<double>(box.width) / image.cols,
                                static_cast<double>(box.height) / image.rows);
  const int width = std::max(1, static_cast<int>(image.cols * scale + 0.5));
  const int height = std::max(1, static_cast<int>(image.rows * scale + 0.5));
  cv::Mat resized;
  cv::resize(image, resized, cv::Size(width, height), 0, 0,
             scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  const cv::Rect target(box.x + (box.width - width) / 2,
                        box.y + (box.height - height) / 2, width, height);
  resized.copyTo(sheet(target));
}

void DrawPlaceholder(cv::Mat& sheet, const std::string& name,
                     const cv::Rect& box) {
  cv::rectangle(sheet, box, kPlaceholderColor, cv::FILLED);
  const int width = box.width - 8;
  const std::string missing = FitText("(no image)", kLabelScale, width);
  // Names have no spaces: break them anywhere, over up to three lines.
  std::vector<std::string> lines;
  std::string rest = name;
  while (!rest.empty() && lines.size() < 3) {
    size_t take = rest.size();
    while (take > 1 && TextWidth(rest.substr(0, take), kLabelScale) > width) {
      --take;
    }
    lines.push_back(rest.substr(0, take));
    rest.erase(0, take);
  }
  if (!rest.empty())
    lines.back() = FitText(lines.back() + rest, kLabelScale, width);
  int y = box.y + box.height / 2 - 6;
  PutText(sheet, missing, {box.x + 4, y}, kLabelScale, kPlaceholderText);
  for (const std::string& line : lines) {
    y += 14;
    PutText(sheet, line, {box.x + 4, y}, kLabelScale, kPlaceholderText);
  }
}

}  // namespace

absl::Status ValidateContactSheetOptions(const ContactSheetOptions& options) {
  if (options.columns < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("columns must be >= 1, got ", options.columns));
  }
  if (options.thumb_size < 32 || options.thumb_size > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("thumbnail size must be in [32, 1024] pixels, got ",
                     options.thumb_size));
  }
  return absl::OkStatus();
}

cv::Size ContactSheetSize(int num_entries, const ContactSheetOptions& options) {
  const int columns = Columns(num_entries, options);
  const int rows = (std::max(num_entries, 0) + columns - 1) / columns;
  return cv::Size(
      kSheetMargin + columns * (options.thumb_size + kSheetMargin),
      kSheetTitleHeight +
          rows * (options.thumb_size + kSheetLabelHeight + kSheetMargin) +
          kSheetMargin);
}

cv::Rect ThumbnailBox(int index, int num_entries,
                      const ContactSheetOptions& options) {
  const int columns = Columns(num_entries, options);
  const int row = index / columns;
  const int column = index % columns;
  return cv::Rect(kSheetMargin + column * (options.thumb_size + kSheetMargin),
                  kSheetTitleHeight + row * (options.thumb_size +
                                             kSheetLabelHeight + kSheetMargin),
                  options.thumb_size, options.thumb_size);
}

std::string ToDrawableAscii(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(c >= 0x20 && c != 0x7f ? static_cast<char>(c) : '?');
      continue;
    }
    // One '?' per code point: skip the continuation bytes.
    out.push_back('?');
    while (i + 1 < text.size() &&
           (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      ++i;
    }
  }
  return out;
}

absl::StatusOr<cv::Mat> DrawContactSheet(const std::string& images_dir,
                                         const std::vector<SheetEntry>& entries,
                                         const ContactSheetOptions& options,
                                         std::vector<std::string>* placeholders,
                                         std::vector<std::string>* refused) {
  if (absl::Status status = ValidateContactSheetOptions(options);
      !status.ok()) {
    return status;
  }
  const int n = static_cast<int>(entries.size());
  const cv::Size size = ContactSheetSize(n, options);
  cv::Mat sheet(size, CV_8UC3, kBackground);

  const std::vector<std::string> title =
      WrapText(ToDrawableAscii(options.title), kTitleScale,
               size.width - 2 * kSheetMargin, 2);
  for (size_t i = 0; i < title.size(); ++i) {
    PutText(sheet, title[i], {kSheetMargin, 18 + static_cast<int>(i) * 20},
            kTitleScale, kText);
  }
  if (n == 0) {
    PutText(sheet, "(no results)", {kSheetMargin, kSheetTitleHeight - 4},
            kLabelScale, kText);
  }

  for (int i = 0; i < n; ++i) {
    const SheetEntry& entry = entries[i];
    const cv::Rect box = ThumbnailBox(i, n, options);
    cv::rectangle(sheet, box, kBoxBackground, cv::FILLED);
    cv::Mat image;
    bool was_refused = false;
    std::string image_path;
    if (!images_dir.empty()) {
      absl::StatusOr<std::string> joined =
          common::JoinUnder(images_dir, entry.image_name);
      if (joined.ok()) {
        image_path = *std::move(joined);
      } else if (!entry.image_name.empty()) {
        was_refused = true;
        if (refused != nullptr) {
          refused->push_back(
              absl::StrCat(entry.image_name, ": ", joined.status().message()));
        }
      }
    }
    // Checked first: imread logs a warning for a missing file.
    if (!image_path.empty() && ::access(image_path.c_str(), R_OK) == 0) {
      try {
        image = cv::imread(image_path, cv::IMREAD_COLOR);
      } catch (const cv::Exception&) {
        image.release();  // unreadable: drawn as a placeholder
      }
    }
    if (image.empty()) {
      DrawPlaceholder(sheet, ToDrawableAscii(entry.image_name), box);
      if (placeholders != nullptr && !was_refused) {
        placeholders->push_back(entry.image_name);
      }
    } else {
      DrawThumbnail(sheet, image, box);
    }
    std::string first = absl::StrFormat("#%d  %.4f", entry.rank, entry.score);
    if (!entry.note.empty()) {
      absl::StrAppend(&first, "  ", ToDrawableAscii(entry.note));
    }
    PutText(sheet, FitText(first, kLabelScale, box.width),
            {box.x, box.y + box.height + 13}, kLabelScale, kText);
    PutText(sheet,
            FitText(ToDrawableAscii(entry.image_name), kLabelScale, box.width),
            {box.x, box.y + box.height + 28}, kLabelScale, kText);
  }
  return sheet;
}

}  // namespace client
