#include "datagen/draw.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "opencv2/imgproc.hpp"

namespace datagen::internal {
namespace {

// Vivid colours for clothes, accessories and pattern contrast.
const cv::Scalar kVivid[] = {
    {245, 245, 245}, {20, 20, 20},    {40, 40, 210}, {0, 210, 240},
    {200, 90, 20},   {50, 160, 50},   {0, 130, 250}, {160, 50, 150},
    {190, 190, 60},  {120, 120, 120}, {60, 90, 150}, {180, 140, 240},
};
constexpr int kNumVivid = sizeof(kVivid) / sizeof(kVivid[0]);

// Low-frequency texture: `base` plus smooth noise of amplitude `amp`.
cv::Mat Blotches(int w, int h, const cv::Scalar& base, double amp, int cell,
                 Rng& rng) {
  cv::Mat small(std::max(2, h / cell + 2), std::max(2, w / cell + 2), CV_32FC3);
  cv::RNG cv_rng(rng.Next());
  cv_rng.fill(small, cv::RNG::UNIFORM, cv::Scalar::all(-amp),
              cv::Scalar::all(amp));
  // Mostly grey-level variation with a little colour.
  std::vector<cv::Mat> ch;
  cv::split(small, ch);
  cv::Mat lum = ch[0].clone();
  for (int i = 0; i < 3; ++i) ch[i] = lum + ch[i] * 0.25;
  cv::merge(ch, small);
  cv::Mat big;
  cv::resize(small, big, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  big += base;
  cv::Mat out;
  big.convertTo(out, CV_8UC3);
  return out;
}

}  // namespace

cv::Scalar Jitter(const cv::Scalar& c, Rng& rng, int amount) {
  cv::Scalar out;
  for (int i = 0; i < 3; ++i) {
    out[i] = std::clamp(c[i] + rng.Int(-amount, amount), 0.0, 255.0);
  }
  return out;
}

cv::Scalar Scale(const cv::Scalar& c, double f) {
  return cv::Scalar(std::min(255.0, c[0] * f), std::min(255.0, c[1] * f),
                    std::min(255.0, c[2] * f));
}

double ColorDistance(const cv::Scalar& a, const cv::Scalar& b) {
  double d = 0;
  for (int i = 0; i < 3; ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(d);
}

cv::Scalar PickVivid(Rng& rng) { return kVivid[rng.Int(0, kNumVivid - 1)]; }

cv::Scalar Contrast(const cv::Scalar& c, Rng& rng) {
  std::vector<std::pair<double, int>> by_distance;
  for (int i = 0; i < kNumVivid; ++i) {
    by_distance.push_back({-ColorDistance(c, kVivid[i]), i});
  }
  std::sort(by_distance.begin(), by_distance.end());
  return kVivid[by_distance[rng.Int(0, 2)].second];
}

cv::Scalar PickVividAwayFrom(const cv::Scalar& avoid, double min_distance,
                             Rng& rng) {
  std::vector<int> ok;
  for (int i = 0; i < kNumVivid; ++i) {
    if (ColorDistance(kVivid[i], avoid) >= min_distance) ok.push_back(i);
  }
  if (ok.empty()) return Contrast(avoid, rng);
  return kVivid[ok[rng.Int(0, static_cast<int>(ok.size()) - 1)]];
}

void FillPoly(cv::Mat& img, const std::vector<cv::Point>& pts,
              const cv::Scalar& color) {
  std::vector<std::vector<cv::Point>> polys = {pts};
  cv::fillPoly(img, polys, color, cv::LINE_AA);
}

void Line(cv::Mat& img, cv::Point a, cv::Point b, const cv::Scalar& color,
          int thickness) {
  cv::line(img, a, b, color, std::max(1, thickness), cv::LINE_AA);
}

void Disc(cv::Mat& img, cv::Point c, int r, const cv::Scalar& color) {
  cv::circle(img, c, std::max(1, r), color, cv::FILLED, cv::LINE_AA);
}

std::vector<cv::Point> RegularPolygon(cv::Point c, double r, int n,
                                      double phase) {
  std::vector<cv::Point> pts;
  for (int i = 0; i < n; ++i) {
    const double a = phase + 2 * M_PI * i / n;
    pts.emplace_back(static_cast<int>(std::lround(c.x + r * std::cos(a))),
                     static_cast<int>(std::lround(c.y + r * std::sin(a))));
  }
  return pts;
}

cv::Mat Background(int w, int h, Rng& rng) {
  cv::Mat img;
  const int style = rng.Int(0, 2);
  if (style == 0) {
    const double g = rng.Uniform(65, 125);
    const cv::Scalar base = Jitter(cv::Scalar(g, g, g), rng, 8);
    const double amp = rng.Uniform(8, 20);
    const int cell = rng.Int(3, 8);
    img = Blotches(w, h, base, amp, cell, rng);
    const int marks = rng.Int(0, 2);
    for (int m = 0; m < marks; ++m) {
      const cv::Scalar paint = rng.Chance(0.7) ? cv::Scalar(225, 225, 225)
                                               : cv::Scalar(40, 200, 230);
      const int y = rng.Int(0, h - 1);
      const int slope = rng.Int(-h / 4, h / 4);
      const int dash = rng.Int(10, 30);
      const int thick = rng.Int(2, 5);
      for (int x = -rng.Int(0, dash); x < w; x += 2 * dash) {
        const int y0 = y + slope * x / std::max(1, w);
        const int y1 = y + slope * (x + dash) / std::max(1, w);
        Line(img, {x, y0}, {x + dash, y1}, paint, thick);
      }
    }
  } else if (style == 1) {
    const double g = rng.Uniform(120, 190);
    const double green = g + rng.Uniform(-5, 10);
    const double red = g + rng.Uniform(0, 20);
    const cv::Scalar base = Jitter(cv::Scalar(g, green, red), rng, 10);
    const double amp = rng.Uniform(5, 14);
    const int cell = rng.Int(4, 10);
    img = Blotches(w, h, base, amp, cell, rng);
    const cv::Scalar grout = Scale(base, rng.Uniform(0.6, 0.8));
    const int step = rng.Int(12, 26);
    const int off_x = rng.Int(0, step), off_y = rng.Int(0, step);
    for (int x = off_x; x < w; x += step) Line(img, {x, 0}, {x, h}, grout, 1);
    for (int y = off_y; y < h; y += step) Line(img, {0, y}, {w, y}, grout, 1);
  } else {
    const cv::Scalar tint = Jitter(PickVivid(rng), rng, 30) * 0.4;
    const cv::Scalar top = tint + cv::Scalar::all(rng.Uniform(60, 140));
    const cv::Scalar bottom =
        Jitter(cv::Scalar::all(rng.Uniform(60, 150)), rng, 20);
    img.create(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y) {
      const double t = static_cast<double>(y) / std::max(1, h - 1);
      const cv::Scalar c = top * (1 - t) + bottom * t;
      img.row(y).setTo(c);
    }
    const int blocks = rng.Int(1, 4);
    for (int b = 0; b < blocks; ++b) {
      const int x0 = rng.Int(-w / 4, w - 1);
      const int bw = rng.Int(w / 6, w / 2);
      const int y0 = rng.Int(0, h / 2);
      const cv::Scalar c =
          Jitter(cv::Scalar::all(rng.Uniform(70, 200)), rng, 25);
      cv::rectangle(img, cv::Rect(x0, y0, bw, h), c, cv::FILLED);
    }
  }
  // Clutter: poles, bollards and blobs at low contrast.
  const int clutter = rng.Int(0, 3);
  for (int i = 0; i < clutter; ++i) {
    const cv::Scalar c = Jitter(cv::Scalar::all(rng.Uniform(50, 200)), rng, 30);
    Blend(img, rng.Uniform(0.3, 0.7), [&](cv::Mat& o) {
      if (rng.Chance(0.5)) {
        const int x = rng.Int(0, w - 1);
        const int y = rng.Int(0, h / 2);
        const int thickness = rng.Int(2, 6);
        Line(o, {x, y}, {x, h}, c, thickness);
      } else {
        const int x = rng.Int(0, w - 1);
        const int y = rng.Int(0, h - 1);
        const int ax = rng.Int(4, w / 4 + 4);
        const int ay = rng.Int(4, h / 6 + 4);
        cv::ellipse(o, cv::Point(x, y), cv::Size(ax, ay), 0, 0, 360, c,
                    cv::FILLED, cv::LINE_AA);
      }
    });
  }
  return img;
}

void Degrade(cv::Mat& img, Rng& rng) {
  const double gain = rng.Uniform(0.85, 1.15);
  const double offset = rng.Uniform(-15, 15);
  img.convertTo(img, -1, gain, offset);
  const double sigma = rng.Uniform(0.0, 0.9);
  if (sigma > 0.3) cv::GaussianBlur(img, img, cv::Size(0, 0), sigma);
  cv::Mat noise(img.size(), CV_16SC3);
  cv::RNG cv_rng(rng.Next());
  cv_rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0),
              cv::Scalar::all(rng.Uniform(2.0, 7.0)));
  cv::Mat wide;
  img.convertTo(wide, CV_16SC3);
  wide += noise;
  wide.convertTo(img, CV_8UC3);
}

}  // namespace datagen::internal
