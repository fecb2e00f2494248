#include "trainer/plot.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/image_file.h"

namespace trainer {
namespace {

constexpr int kPanelW = 560, kPanelH = 400, kMargin = 56;

void DrawPanel(cv::Mat& img, int x0, const std::string& title,
               const std::vector<std::pair<double, double>>& series,
               bool fixed_unit_range, bool label_points, cv::Scalar colour) {
  const cv::Scalar kAxis(60, 60, 60), kGrid(225, 225, 225);
  const int left = x0 + kMargin, right = x0 + kPanelW - 16;
  const int top = 40, bottom = kPanelH - 40;
  cv::putText(img, title, {x0 + kMargin, 26}, cv::FONT_HERSHEY_SIMPLEX, 0.6,
              kAxis, 1, cv::LINE_AA);
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (!series.empty()) {
    xmin = series.front().first;
    xmax = series.front().first;
    ymin = ymax = series.front().second;
    for (const auto& [x, y] : series) {
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
    xmin = std::min(xmin, 0.0);
    if (xmax <= xmin) xmax = xmin + 1;
    if (fixed_unit_range) {
      ymin = 0;
      ymax = 1;
    } else {
      double pad = (ymax - ymin) * 0.05 + 1e-9;
      ymin = std::max(0.0, ymin - pad);
      ymax += pad;
    }
  }
  auto px = [&](double x) {
    return left + static_cast<int>((x - xmin) / (xmax - xmin) * (right - left));
  };
  auto py = [&](double y) {
    return bottom -
           static_cast<int>((y - ymin) / (ymax - ymin) * (bottom - top));
  };
  for (int i = 0; i <= 4; ++i) {
    double y = ymin + (ymax - ymin) * i / 4;
    cv::line(img, {left, py(y)}, {right, py(y)}, kGrid, 1);
    cv::putText(img, absl::StrFormat("%.3g", y), {x0 + 4, py(y) + 4},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, kAxis, 1, cv::LINE_AA);
  }
  cv::line(img, {left, bottom}, {right, bottom}, kAxis, 1);
  cv::line(img, {left, top}, {left, bottom}, kAxis, 1);
  cv::putText(img, "step", {right - 30, bottom + 30}, cv::FONT_HERSHEY_SIMPLEX,
              0.45, kAxis, 1, cv::LINE_AA);
  cv::putText(img, absl::StrFormat("%.0f", xmax), {right - 30, bottom + 15},
              cv::FONT_HERSHEY_SIMPLEX, 0.4, kAxis, 1, cv::LINE_AA);
  cv::putText(img, absl::StrFormat("%.0f", xmin), {left, bottom + 15},
              cv::FONT_HERSHEY_SIMPLEX, 0.4, kAxis, 1, cv::LINE_AA);
  for (size_t i = 0; i < series.size(); ++i) {
    cv::Point p(px(series[i].first), py(series[i].second));
    if (i > 0) {
      cv::line(img, {px(series[i - 1].first), py(series[i - 1].second)}, p,
               colour, 2, cv::LINE_AA);
    }
    if (label_points) {
      cv::circle(img, p, 4, colour, cv::FILLED, cv::LINE_AA);
      cv::putText(img, absl::StrFormat("%.3f", series[i].second),
                  {p.x - 18, p.y - 8}, cv::FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                  cv::LINE_AA);
    }
  }
}

}  // namespace

absl::Status WriteTrainingPlot(
    const std::string& path,
    const std::vector<std::pair<double, double>>& loss_by_step,
    const std::vector<std::pair<double, double>>& map_by_step) {
  cv::Mat img(kPanelH, 2 * kPanelW, CV_8UC3, cv::Scalar(255, 255, 255));
  DrawPanel(img, 0, "training loss", loss_by_step, false, false,
            cv::Scalar(180, 100, 30));
  DrawPanel(img, kPanelW, "validation mAP@10", map_by_step, true, true,
            cv::Scalar(40, 140, 40));
  return common::WriteImageFile(path, img);
}

}  // namespace trainer
