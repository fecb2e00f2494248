// Colours (BGR) and drawing primitives shared by the vehicle and pedestrian
// renderers: anti-aliased shapes, blending, backgrounds and sensor effects.
#ifndef DATAGEN_DRAW_H_
#define DATAGEN_DRAW_H_

#include <vector>

#include "datagen/rng.h"
#include "opencv2/core.hpp"

namespace datagen::internal {

// `c` with each channel moved by up to `amount`, clamped to [0, 255].
cv::Scalar Jitter(const cv::Scalar& c, Rng& rng, int amount);
// `c` times `f`, each channel at most 255.
cv::Scalar Scale(const cv::Scalar& c, double f);
// Euclidean distance of two colours.
double ColorDistance(const cv::Scalar& a, const cv::Scalar& b);

// A vivid colour (clothes, accessories, pattern contrast).
cv::Scalar PickVivid(Rng& rng);
// A vivid colour far from `c`: one of the three most distant palette entries.
cv::Scalar Contrast(const cv::Scalar& c, Rng& rng);
// A vivid colour at least `min_distance` from `avoid` (falls back to the
// most distant palette entry).
cv::Scalar PickVividAwayFrom(const cv::Scalar& avoid, double min_distance,
                             Rng& rng);

void FillPoly(cv::Mat& img, const std::vector<cv::Point>& pts,
              const cv::Scalar& color);
void Line(cv::Mat& img, cv::Point a, cv::Point b, const cv::Scalar& color,
          int thickness);
void Disc(cv::Mat& img, cv::Point c, int r, const cv::Scalar& color);
// The `n` corners of a regular polygon of radius `r` centred on `c`, the
// first at angle `phase`.
std::vector<cv::Point> RegularPolygon(cv::Point c, double r, int n,
                                      double phase);

// Draws `draw` on a copy of the image and blends it in with weight `alpha`.
template <typename F>
void Blend(cv::Mat& img, double alpha, F draw) {
  cv::Mat overlay = img.clone();
  draw(overlay);
  cv::addWeighted(overlay, alpha, img, 1.0 - alpha, 0.0, img);
}

// Backgrounds: asphalt with lane marks, paving tiles, a vertical gradient
// with building-like blocks; any of them may get extra clutter.
cv::Mat Background(int w, int h, Rng& rng);

// Sensor effects: brightness/contrast, blur and noise.
void Degrade(cv::Mat& img, Rng& rng);

}  // namespace datagen::internal

#endif  // DATAGEN_DRAW_H_
