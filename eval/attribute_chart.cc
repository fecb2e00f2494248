#include "eval/attribute_chart.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/image_file.h"
#include "common/status_macros.h"

namespace eval {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr int kLabelX = 10;     // attribute names start here
constexpr int kBarLeft = 190;   // the axis' 0
constexpr int kBarRight = 740;  // the axis' maximum
constexpr int kBarHeight = 14;
constexpr int kAxisTicks = 4;
const cv::Scalar kBackground(255, 255, 255);
const cv::Scalar kText(40, 40, 40);
const cv::Scalar kGrid(225, 225, 225);
const cv::Scalar kMissed(170, 90, 30);   // flags: query 1, top-1 0
const cv::Scalar kExtra(230, 185, 130);  // flags: query 0, top-1 1
const cv::Scalar kVehicle(40, 120, 230);

void Text(cv::Mat& img, const std::string& text, cv::Point at, double scale,
          cv::Scalar colour = kText) {
  cv::putText(img, text, at, kFont, scale, colour, 1, cv::LINE_AA);
}

// Highest rate rounded up to a tenth, in [0.1, 1].
double AxisMax(const std::vector<AttributeErrorRate>& rates) {
  double top = 0.0;
  for (const AttributeErrorRate& r : rates) top = std::max(top, r.rate);
  return std::clamp(std::ceil(top * 10.0 - 1e-9) / 10.0, 0.1, 1.0);
}

int BarX(double rate, double axis_max) {
  const double share = std::min(rate / axis_max, 1.0);
  return kBarLeft +
         static_cast<int>(std::lround(share * (kBarRight - kBarLeft)));
}

void LegendEntry(cv::Mat& img, int x, cv::Scalar colour,
                 const std::string& label) {
  cv::rectangle(img, {x, 40}, {x + 14, 52}, colour, cv::FILLED);
  Text(img, label, {x + 20, 51}, 0.42);
}

void DrawTitleAndLegend(cv::Mat& img) {
  Text(img, "top-1 attribute error rate (query vs its top-1 image)",
       {kLabelX, 24}, 0.6);
  LegendEntry(img, kLabelX, kMissed, "flag: query 1, hit 0");
  LegendEntry(img, kLabelX + 210, kExtra, "flag: query 0, hit 1");
  LegendEntry(img, kLabelX + 420, kVehicle, "vehicle field differs");
}

// Vertical grid lines with their percentages under the bars.
void DrawAxis(cv::Mat& img, int bars, double axis_max) {
  const int top = kAttributeChartTop - 4;
  const int bottom = kAttributeChartTop + bars * kAttributeChartRow;
  for (int i = 0; i <= kAxisTicks; ++i) {
    const double value = axis_max * i / kAxisTicks;
    const int x = BarX(value, axis_max);
    cv::line(img, {x, top}, {x, bottom}, kGrid, 1);
    Text(img, absl::StrFormat("%g%%", 100.0 * value), {x - 12, bottom + 16},
         0.4);
  }
  cv::line(img, {kBarLeft, top}, {kBarLeft, bottom}, kText, 1);
  Text(img, "share of compared queries whose top-1 differs",
       {kBarLeft, bottom + 34}, 0.42);
}

void DrawBar(cv::Mat& img, int row, const AttributeErrorRate& r,
             double axis_max) {
  const int y = kAttributeChartTop + row * kAttributeChartRow;
  const int bar_top = y + (kAttributeChartRow - kBarHeight) / 2;
  Text(img, r.name, {kLabelX, y + 16}, 0.45);
  int end = kBarLeft;
  auto segment = [&](int64_t count, cv::Scalar colour) {
    const double share = r.compared == 0 ? 0.0
                                         : static_cast<double>(count) /
                                               static_cast<double>(r.compared);
    const int x = BarX(share, axis_max) - kBarLeft + end;
    if (x > end) {
      cv::rectangle(img, {end, bar_top}, {x, bar_top + kBarHeight}, colour,
                    cv::FILLED);
    }
    end = std::max(end, x);
  };
  if (r.vehicle) {
    segment(r.errors, kVehicle);
  } else {
    segment(r.query_1_hit_0, kMissed);
    segment(r.query_0_hit_1, kExtra);
  }
  const std::string label =
      r.compared == 0
          ? std::string("n/a (n=0)")
          : absl::StrFormat("%.1f%% (n=%d)", 100.0 * r.rate, r.compared);
  Text(img, label, {end + 6, y + 16}, 0.42);
}

}  // namespace

cv::Size AttributeChartSize(int bars) {
  return cv::Size(
      kAttributeChartWidth,
      kAttributeChartTop + bars * kAttributeChartRow + kAttributeChartBottom);
}

cv::Mat DrawAttributeChart(const std::vector<AttributeErrorRate>& rates) {
  const int bars = static_cast<int>(rates.size());
  cv::Mat img(AttributeChartSize(bars), CV_8UC3, kBackground);
  const double axis_max = AxisMax(rates);
  DrawTitleAndLegend(img);
  DrawAxis(img, bars, axis_max);
  for (int i = 0; i < bars; ++i) {
    // A rule between the pedestrian flags and the vehicle fields.
    if (i > 0 && rates[i].vehicle != rates[i - 1].vehicle) {
      const int y = kAttributeChartTop + i * kAttributeChartRow;
      cv::line(img, {kLabelX, y}, {kAttributeChartWidth - kLabelX, y}, kText,
               1);
    }
    DrawBar(img, i, rates[i], axis_max);
  }
  return img;
}

absl::Status WriteAttributeChart(const std::string& path,
                                 const std::vector<AttributeErrorRate>& rates) {
  ASSIGN_OR_RETURN(const std::string extension, common::ImageExtension(path));
  if (extension != ".png") {
    return absl::InvalidArgumentError(absl::StrCat(
        "the attribute chart is a PNG: give a .png name, not ", path));
  }
  return common::WriteImageFile(path, DrawAttributeChart(rates));
}

}  // namespace eval
