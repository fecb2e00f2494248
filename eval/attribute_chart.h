// A PNG bar chart of the top-1 attribute error rates (AttributeErrorRates,
// eval/attribute_analysis.h), drawn with OpenCV: one horizontal bar per
// attribute, labelled with its name on the left and "<rate>% (n=<compared>)"
// at its end. Pedestrian flags are split into their two directions (query 1
// and top-1 0, dark; query 0 and top-1 1, light); vehicle fields are one
// colour. The axis runs from 0 to the highest rate rounded up to a tenth
// (at least 10%).
//
// Size (pixels), with b bars:
//   width  = kAttributeChartWidth
//   height = kAttributeChartTop + b * kAttributeChartRow
//            + kAttributeChartBottom
// Text uses OpenCV's Hershey font (ASCII). Plain functions; thread-safe.
#ifndef EVAL_ATTRIBUTE_CHART_H_
#define EVAL_ATTRIBUTE_CHART_H_

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "eval/attribute_analysis.h"

namespace eval {

inline constexpr int kAttributeChartWidth = 900;
inline constexpr int kAttributeChartTop = 64;  // title and legend
inline constexpr int kAttributeChartRow = 22;
inline constexpr int kAttributeChartBottom = 40;  // axis labels

// The size of a chart of `bars` bars (see above).
cv::Size AttributeChartSize(int bars);

// Draws the chart (8-bit BGR).
cv::Mat DrawAttributeChart(const std::vector<AttributeErrorRate>& rates);

// DrawAttributeChart, PNG-encoded in memory and written atomically.
// INVALID_ARGUMENT unless `path` ends in ".png" (any case), then
// common::WriteImageFile's errors.
absl::Status WriteAttributeChart(const std::string& path,
                                 const std::vector<AttributeErrorRate>& rates);

}  // namespace eval

#endif  // EVAL_ATTRIBUTE_CHART_H_
