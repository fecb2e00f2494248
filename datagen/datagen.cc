#include "datagen/datagen.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/mix.h"
#include "common/status_macros.h"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace datagen {
namespace {

// ---------------------------------------------------------------------------
// Deterministic randomness. Everything random is drawn from Rng streams
// seeded by SeedFor, never from global generators, so that a stream depends
// only on (seed, tag, index).

using common::Mix64;

enum SeedTag : uint64_t {
  kTagVehiclePool = 1,
  kTagPedestrianPool = 2,
  kTagNames = 3,
  kTagQueries = 4,
  kTagSplitPlan = 10,  // + split
  kTagRender = 20,     // + split
};

uint64_t SeedFor(uint64_t seed, uint64_t tag, uint64_t index) {
  return Mix64(Mix64(Mix64(seed) ^ (tag * 0x632be59bd9b4e019ULL)) + index);
}

// SplitMix64 stream.
class Rng {
 public:
  explicit Rng(uint64_t seed) : stream_(seed) {}

  uint64_t Next() { return stream_.Next(); }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform in [lo, hi], inclusive.
  int Int(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return Uniform() < p; }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      std::swap(v[i - 1], v[Next() % i]);
    }
  }

 private:
  common::SplitMix64 stream_;
};

// ---------------------------------------------------------------------------
// Colours (BGR).

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

// Body colours of VehicleColorNames(), in its order.
const cv::Scalar kVehicleColors[] = {
    {28, 28, 28},    // black
    {185, 85, 25},   // blue
    {35, 65, 115},   // brown
    {45, 145, 45},   // green
    {130, 130, 130}, // grey
    {0, 135, 250},   // orange
    {195, 150, 255}, // pink
    {145, 45, 125},  // purple
    {35, 35, 205},   // red
    {242, 242, 242}, // white
    {0, 215, 240},   // yellow
};

// Vivid colours for clothes, accessories and pattern contrast.
const cv::Scalar kVivid[] = {
    {245, 245, 245}, {20, 20, 20},   {40, 40, 210},  {0, 210, 240},
    {200, 90, 20},   {50, 160, 50},  {0, 130, 250},  {160, 50, 150},
    {190, 190, 60},  {120, 120, 120}, {60, 90, 150}, {180, 140, 240},
};
constexpr int kNumVivid = sizeof(kVivid) / sizeof(kVivid[0]);

const cv::Scalar kTrouserColors[] = {
    {90, 40, 20}, {30, 30, 30}, {90, 90, 90}, {110, 160, 180}, {40, 60, 90},
};
const cv::Scalar kSkinColors[] = {
    {160, 190, 235}, {130, 170, 220}, {100, 140, 190}, {75, 105, 150},
};
const cv::Scalar kHairColors[] = {
    {25, 25, 25}, {30, 45, 70}, {35, 60, 100},
};

cv::Scalar PickVivid(Rng& rng) { return kVivid[rng.Int(0, kNumVivid - 1)]; }

// A vivid colour far from `c`: one of the three most distant palette entries.
cv::Scalar Contrast(const cv::Scalar& c, Rng& rng) {
  std::vector<std::pair<double, int>> by_distance;
  for (int i = 0; i < kNumVivid; ++i) {
    by_distance.push_back({-ColorDistance(c, kVivid[i]), i});
  }
  std::sort(by_distance.begin(), by_distance.end());
  return kVivid[by_distance[rng.Int(0, 2)].second];
}

// ---------------------------------------------------------------------------
// Drawing helpers.

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

// Draws `draw` on a copy of the image and blends it in with weight `alpha`.
template <typename F>
void Blend(cv::Mat& img, double alpha, F draw) {
  cv::Mat overlay = img.clone();
  draw(overlay);
  cv::addWeighted(overlay, alpha, img, 1.0 - alpha, 0.0, img);
}

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

// Backgrounds: asphalt with lane marks, paving tiles, a vertical gradient
// with building-like blocks; any of them may get extra clutter.
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
    const cv::Scalar bottom = Jitter(cv::Scalar::all(rng.Uniform(60, 150)),
                                     rng, 20);
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

// Sensor effects: brightness/contrast, blur and noise.
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

// ---------------------------------------------------------------------------
// Vehicles.

enum VehicleType { kBus = 0, kMicrobus, kMinivan, kSUV, kSedan, kTruck };

// A point of the side view: t along the vehicle from the rear (0) to the
// front (1), h height above the ground, both in vehicle lengths.
struct VehicleFrame {
  double x0, ground, length;
  bool facing_right;
  cv::Point P(double t, double h) const {
    const double x = facing_right ? x0 + t * length : x0 + (1 - t) * length;
    return cv::Point(static_cast<int>(std::lround(x)),
                     static_cast<int>(std::lround(ground - h * length)));
  }
  int Len(double units) const {
    return std::max(1, static_cast<int>(std::lround(units * length)));
  }
};

struct VehicleShape {
  std::vector<std::pair<double, double>> body;
  std::vector<std::vector<std::pair<double, double>>> windows;
  std::vector<double> wheels;  // t of each wheel centre
  double wheel_r;
  double top;                  // highest h
  double badge_t, badge_h;     // brand emblem centre
  double badge_hw, badge_hh;   // emblem half-width and half-height
  double light_h;              // height of head and tail lights
};

std::vector<std::pair<double, double>> Rect(double t0, double h0, double t1,
                                            double h1) {
  return {{t0, h0}, {t0, h1}, {t1, h1}, {t1, h0}};
}

VehicleShape ShapeOf(int type) {
  VehicleShape s;
  switch (type) {
    case kSedan:
      s.body = {{0.0, 0.06},  {0.0, 0.18},  {0.04, 0.2},  {0.26, 0.21},
                {0.36, 0.33}, {0.66, 0.33}, {0.79, 0.22}, {0.97, 0.19},
                {1.0, 0.15},  {1.0, 0.06}};
      s.windows = {{{0.3, 0.215}, {0.375, 0.31}, {0.5, 0.31}, {0.5, 0.215}},
                   {{0.52, 0.215}, {0.52, 0.31}, {0.645, 0.31},
                    {0.75, 0.215}}};
      s.wheels = {0.19, 0.8};
      s.wheel_r = 0.085;
      s.top = 0.33;
      s.badge_t = 0.5, s.badge_h = 0.135, s.light_h = 0.16;
      s.badge_hw = 0.17, s.badge_hh = 0.07;
      break;
    case kSUV:
      s.body = {{0.0, 0.07},  {0.0, 0.31},  {0.03, 0.42}, {0.72, 0.42},
                {0.82, 0.3},  {0.98, 0.27}, {1.0, 0.2},   {1.0, 0.07}};
      s.windows = {{{0.05, 0.3}, {0.06, 0.39}, {0.36, 0.39}, {0.36, 0.3}},
                   {{0.39, 0.3}, {0.39, 0.39}, {0.7, 0.39}, {0.79, 0.3}}};
      s.wheels = {0.18, 0.8};
      s.wheel_r = 0.1;
      s.top = 0.42;
      s.badge_t = 0.49, s.badge_h = 0.19, s.light_h = 0.22;
      s.badge_hw = 0.19, s.badge_hh = 0.09;
      break;
    case kMinivan:
      s.body = {{0.0, 0.06},  {0.0, 0.35},  {0.03, 0.4},  {0.62, 0.41},
                {0.85, 0.26}, {0.99, 0.22}, {1.0, 0.06}};
      s.windows = {{{0.04, 0.27}, {0.05, 0.37}, {0.3, 0.38}, {0.3, 0.27}},
                   {{0.33, 0.27}, {0.33, 0.38}, {0.6, 0.38}, {0.8, 0.27}}};
      s.wheels = {0.16, 0.82};
      s.wheel_r = 0.08;
      s.top = 0.41;
      s.badge_t = 0.49, s.badge_h = 0.165, s.light_h = 0.18;
      s.badge_hw = 0.2, s.badge_hh = 0.085;
      break;
    case kMicrobus:
      s.body = {{0.0, 0.07},  {0.0, 0.5},  {0.02, 0.53}, {0.86, 0.53},
                {0.98, 0.36}, {1.0, 0.2},  {1.0, 0.07}};
      s.windows = {Rect(0.04, 0.36, 0.27, 0.48), Rect(0.3, 0.36, 0.55, 0.48),
                   {{0.58, 0.36}, {0.58, 0.48}, {0.84, 0.49}, {0.93, 0.36}}};
      s.wheels = {0.17, 0.83};
      s.wheel_r = 0.085;
      s.top = 0.53;
      s.badge_t = 0.5, s.badge_h = 0.215, s.light_h = 0.2;
      s.badge_hw = 0.2, s.badge_hh = 0.115;
      break;
    case kBus:
      s.body = {{0.0, 0.06}, {0.0, 0.52}, {0.01, 0.55}, {0.99, 0.55},
                {1.0, 0.52}, {1.0, 0.06}};
      for (int i = 0; i < 6; ++i) {
        const double t0 = 0.04 + i * 0.145;
        s.windows.push_back(Rect(t0, 0.32, t0 + 0.125, 0.5));
      }
      s.windows.push_back(Rect(0.9, 0.1, 0.97, 0.3));  // door
      s.wheels = {0.15, 0.8};
      s.wheel_r = 0.065;
      s.top = 0.55;
      s.badge_t = 0.48, s.badge_h = 0.195, s.light_h = 0.14;
      s.badge_hw = 0.2, s.badge_hh = 0.11;
      break;
    case kTruck:
    default:
      // Cargo box behind the cab; the chassis is drawn separately.
      s.body = {{0.0, 0.1},   {0.0, 0.56}, {0.72, 0.56}, {0.72, 0.1},
                {0.74, 0.1},  {0.74, 0.5}, {0.94, 0.5},  {1.0, 0.36},
                {1.0, 0.08},  {0.0, 0.08}};
      s.windows = {{{0.82, 0.33}, {0.82, 0.46}, {0.93, 0.46}, {0.975, 0.33}}};
      s.wheels = {0.12, 0.28, 0.86};
      s.wheel_r = 0.07;
      s.top = 0.56;
      s.badge_t = 0.36, s.badge_h = 0.33, s.light_h = 0.16;
      s.badge_hw = 0.26, s.badge_hh = 0.18;
      break;
  }
  return s;
}

// Brand emblems: a large flag-like decal on the vehicle side, drawn in
// image coordinates (not mirrored with the vehicle). Brand b uses layout
// b % 5 and colour pair b / 5, so the 65 brands get 65 distinct emblems, and
// brands that share a layout differ in both or one of two large colour areas.
const cv::Scalar kEmblemColors[] = {
    {0, 0, 235},      // red
    {235, 90, 0},     // blue
    {0, 200, 0},      // green
    {0, 235, 255},    // yellow
    {250, 250, 250},  // white
    {20, 20, 20},     // black
};
constexpr int kNumEmblemLayouts = 5;
// Ordered (field, mark) colour pairs, indices into kEmblemColors.
constexpr int kEmblemPairs[][2] = {
    {0, 4}, {1, 3}, {2, 5}, {3, 0}, {4, 1}, {5, 3}, {0, 2},
    {1, 4}, {2, 3}, {3, 5}, {4, 0}, {5, 2}, {1, 0},
};

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

// Draws brand `brand`'s emblem as a rectangle of half-size (hw, hh) centred
// on `c`, with a dark frame.
void DrawBrandEmblem(cv::Mat& img, cv::Point c, int hw, int hh, int brand) {
  const int layout = brand % kNumEmblemLayouts;
  const int pair = brand / kNumEmblemLayouts;
  const cv::Scalar field = kEmblemColors[kEmblemPairs[pair][0]];
  const cv::Scalar mark = kEmblemColors[kEmblemPairs[pair][1]];
  const int frame = std::max(2, std::min(hw, hh) / 5);
  const cv::Rect outer(c.x - hw - frame, c.y - hh - frame,
                       2 * (hw + frame), 2 * (hh + frame));
  cv::rectangle(img, outer, cv::Scalar(25, 25, 25), cv::FILLED);
  const cv::Rect r(c.x - hw, c.y - hh, 2 * hw, 2 * hh);
  cv::rectangle(img, r, field, cv::FILLED);
  switch (layout) {
    case 0:  // right half
      cv::rectangle(img, cv::Rect(c.x, r.y, hw, 2 * hh), mark, cv::FILLED);
      break;
    case 1:  // lower half
      cv::rectangle(img, cv::Rect(r.x, c.y, 2 * hw, hh), mark, cv::FILLED);
      break;
    case 2:  // central disc
      cv::ellipse(img, c, cv::Size(std::max(2, hw * 6 / 10),
                                   std::max(2, hh * 7 / 10)),
                  0, 0, 360, mark, cv::FILLED, cv::LINE_AA);
      break;
    case 3:  // upward triangle
      FillPoly(img, {cv::Point(r.x, r.y + r.height),
                     cv::Point(c.x, r.y),
                     cv::Point(r.x + r.width, r.y + r.height)},
               mark);
      break;
    default:  // three vertical bars: field, mark, field, mark, field
      for (int k = 0; k < 2; ++k) {
        const int x0 = r.x + r.width * (1 + 2 * k) / 5;
        const int x1 = r.x + r.width * (2 + 2 * k) / 5;
        cv::rectangle(img, cv::Rect(x0, r.y, x1 - x0, r.height), mark,
                      cv::FILLED);
      }
      break;
  }
}

cv::Mat RenderVehicle(const VehicleAttribute& attr, Rng& rng) {
  const int type = attr.type;
  const bool big = (type == kBus || type == kTruck);
  const int w = rng.Int(big ? 150 : 130, 200);
  // Wider than tall, like real vehicle crops.
  const int h = std::clamp(
      static_cast<int>(std::lround(w * rng.Uniform(0.6, 0.8))), 100, 140);
  cv::Mat img = Background(w, h, rng);

  const VehicleShape s = ShapeOf(type);
  double length = w * rng.Uniform(0.78, 0.93);
  length = std::min(length, 0.85 * h / (s.top + 0.02));
  VehicleFrame f;
  f.length = length;
  f.facing_right = rng.Chance(0.5);
  f.x0 = rng.Uniform(0, std::max(0.0, w - length));
  const double min_ground = s.top * length + 2;
  f.ground = std::max(min_ground, h * (1 - rng.Uniform(0.04, 0.15)));
  f.ground = std::min(f.ground, h - 1.0);

  const int color_index =
      attr.color >= 0 ? attr.color
                      : rng.Int(0, static_cast<int>(VehicleColorNames().size()) - 1);
  const cv::Scalar body = Jitter(kVehicleColors[color_index], rng, 12);
  const cv::Scalar outline = Scale(body, 0.45);
  const cv::Scalar glass =
      Jitter(cv::Scalar(70, 55, 40), rng, 15);

  // Shadow.
  Blend(img, 0.55, [&](cv::Mat& o) {
    cv::ellipse(o, f.P(0.5, 0.0),
                cv::Size(f.Len(0.55), std::max(2, f.Len(0.035))), 0, 0, 360,
                cv::Scalar(20, 20, 20), cv::FILLED, cv::LINE_AA);
  });

  if (type == kTruck) {  // chassis
    FillPoly(img, {f.P(0.0, 0.05), f.P(0.0, 0.1), f.P(1.0, 0.1), f.P(1.0, 0.05)},
             cv::Scalar(35, 35, 35));
  }
  std::vector<cv::Point> body_pts;
  for (const auto& [t, hh] : s.body) body_pts.push_back(f.P(t, hh));
  FillPoly(img, body_pts, body);
  // Rocker panel shading and a belt-line highlight.
  Blend(img, 0.35, [&](cv::Mat& o) {
    FillPoly(o, {f.P(0.0, 0.06), f.P(0.0, 0.1), f.P(1.0, 0.1), f.P(1.0, 0.06)},
             cv::Scalar(0, 0, 0));
  });
  cv::polylines(img, std::vector<std::vector<cv::Point>>{body_pts}, true,
                outline, std::max(1, f.Len(0.008)), cv::LINE_AA);
  for (const auto& win : s.windows) {
    std::vector<cv::Point> pts;
    for (const auto& [t, hh] : win) pts.push_back(f.P(t, hh));
    FillPoly(img, pts, glass);
  }
  // Lights.
  Disc(img, f.P(0.985, s.light_h), std::max(2, f.Len(0.018)),
       cv::Scalar(170, 235, 250));
  Disc(img, f.P(0.012, s.light_h), std::max(2, f.Len(0.015)),
       cv::Scalar(30, 30, 210));
  // Wheels.
  for (double t : s.wheels) {
    const cv::Point c = f.P(t, s.wheel_r);
    Disc(img, c, f.Len(s.wheel_r), cv::Scalar(22, 22, 22));
    Disc(img, c, f.Len(s.wheel_r * 0.5), cv::Scalar(150, 150, 150));
    Disc(img, c, f.Len(s.wheel_r * 0.15), cv::Scalar(60, 60, 60));
  }
  if (attr.brand >= 0) {
    DrawBrandEmblem(img, f.P(s.badge_t, s.badge_h), f.Len(s.badge_hw),
                    f.Len(s.badge_hh), attr.brand);
  }
  Degrade(img, rng);
  return img;
}

// ---------------------------------------------------------------------------
// Pedestrians.

// Figure coordinates: x in figure heights from the centre line (positive is
// the figure's left in front view, its facing direction in side view), y in
// figure heights from the top of the head.
struct Figure {
  double cx, top, height;
  int dir = 1;  // side view: +1 faces right, -1 faces left
  cv::Point P(double x, double y) const {
    return cv::Point(static_cast<int>(std::lround(cx + dir * x * height)),
                     static_cast<int>(std::lround(top + y * height)));
  }
  int Len(double units) const {
    return std::max(1, static_cast<int>(std::lround(units * height)));
  }
};

// Body proportions in figure heights.
struct Proportions {
  double head_r, head_y, shoulder_y, hip_y, knee_y, ankle_y;
  double shoulder_w, hip_w;  // half-widths, front view
  double side_w;             // half-width, side view
  double arm, leg;           // limb thickness
};

Proportions ProportionsFor(bool child) {
  if (child) {
    return {0.1, 0.105, 0.235, 0.57, 0.77, 0.97, 0.13, 0.11, 0.085,
            0.07, 0.08};
  }
  return {0.08, 0.085, 0.18, 0.53, 0.75, 0.97, 0.135, 0.11, 0.09,
          0.062, 0.075};
}

// Fills a torso-shaped region with `base` and draws the upper-body pattern on
// it, clipped to the region. The patterns are coarse so that they survive
// strong downscaling: wide vertical stripes, a large chest logo, a coarse
// two-colour checkerboard, or a top/bottom two-colour split.
void DrawGarment(cv::Mat& img, const std::vector<cv::Point>& region,
                 const cv::Scalar& base, const PedestrianFlags& f,
                 const Figure& fig, double logo_y, Rng& rng) {
  FillPoly(img, region, base);
  const bool stride = f[kUpperStride], logo = f[kUpperLogo],
             plaid = f[kUpperPlaid], splice = f[kUpperSplice];
  if (!stride && !logo && !plaid && !splice) return;
  const cv::Rect box = cv::boundingRect(region);
  cv::Mat layer = img.clone();
  const cv::Scalar accent = Contrast(base, rng);
  if (splice) {
    // Upper and lower halves in two colours, split at a slight slant.
    const int tilt = rng.Int(-box.height / 12, box.height / 12);
    const int mid = box.y + box.height * 9 / 20;
    FillPoly(layer,
             {cv::Point(box.x, mid - tilt), cv::Point(box.x + box.width, mid + tilt),
              cv::Point(box.x + box.width, box.y + box.height),
              cv::Point(box.x, box.y + box.height)},
             accent);
  }
  if (stride) {
    // Wide vertical stripes.
    const int period = std::max(6, fig.Len(0.075));
    const int band = std::max(3, period / 2);
    const cv::Scalar c = splice ? Contrast(accent, rng) : accent;
    for (int x = box.x + rng.Int(0, period / 3); x < box.x + box.width;
         x += period) {
      cv::rectangle(layer, cv::Rect(x, box.y, band, box.height), c,
                    cv::FILLED);
    }
  }
  if (plaid) {
    // Coarse checkerboard of the base and two contrasting colours.
    const int cw = std::max(5, fig.Len(0.06));
    const int ch = std::max(6, fig.Len(0.075));
    const cv::Scalar c1 = accent;
    const cv::Scalar c2 = Scale(accent, 0.45);
    const int x0 = box.x - rng.Int(0, cw / 2), y0 = box.y - rng.Int(0, ch / 2);
    for (int j = 0; y0 + j * ch < box.y + box.height; ++j) {
      for (int i = 0; x0 + i * cw < box.x + box.width; ++i) {
        if ((i + j) % 2 == 0) continue;
        cv::rectangle(layer, cv::Rect(x0 + i * cw, y0 + j * ch, cw, ch),
                      (j % 2 == 0) ? c1 : c2, cv::FILLED);
      }
    }
  }
  if (logo) {
    const cv::Point c(box.x + box.width / 2, static_cast<int>(std::lround(
                                                 fig.top + logo_y * fig.height)));
    const int r = std::max(5, std::min(fig.Len(0.07), box.width * 2 / 5));
    const cv::Scalar lc = Contrast(splice ? accent : base, rng);
    Disc(layer, c, r + std::max(2, r / 4), Scale(lc, 0.25));
    switch (rng.Int(0, 2)) {
      case 0:
        Disc(layer, c, r, lc);
        break;
      case 1:
        FillPoly(layer, RegularPolygon(c, r * 1.1, 4, -M_PI / 2), lc);
        break;
      default: {
        std::vector<cv::Point> star;
        for (int i = 0; i < 10; ++i) {
          const double rr = (i % 2 == 0) ? r * 1.2 : r * 0.65;
          const double a = -M_PI / 2 + M_PI * i / 5;
          star.emplace_back(
              static_cast<int>(std::lround(c.x + rr * std::cos(a))),
              static_cast<int>(std::lround(c.y + rr * std::sin(a))));
        }
        FillPoly(layer, star, lc);
        break;
      }
    }
  }
  cv::Mat mask = cv::Mat::zeros(img.size(), CV_8UC1);
  FillPoly(mask, region, cv::Scalar(255));
  layer.copyTo(img, mask);
}

void DrawBox(cv::Mat& img, cv::Point center, int half_w, int half_h,
             const cv::Scalar& color) {
  const cv::Rect r(center.x - half_w, center.y - half_h, 2 * half_w,
                   2 * half_h);
  cv::rectangle(img, r, Scale(color, 0.35), cv::FILLED, cv::LINE_AA);
  const int e = std::max(1, std::min(half_w, half_h) / 5);
  cv::rectangle(img,
                cv::Rect(r.x + e, r.y + e, r.width - 2 * e, r.height - 2 * e),
                color, cv::FILLED, cv::LINE_AA);
}

// A vivid colour at least `min_distance` from `avoid` (falls back to the
// most distant palette entry).
cv::Scalar PickVividAwayFrom(const cv::Scalar& avoid, double min_distance,
                             Rng& rng) {
  std::vector<int> ok;
  for (int i = 0; i < kNumVivid; ++i) {
    if (ColorDistance(kVivid[i], avoid) >= min_distance) ok.push_back(i);
  }
  if (ok.empty()) return Contrast(avoid, rng);
  return kVivid[ok[rng.Int(0, static_cast<int>(ok.size()) - 1)]];
}

cv::Mat RenderPedestrian(const PedestrianFlags& f, Rng& rng) {
  const int w = rng.Int(64, 100);
  const int h = rng.Int(170, 230);
  cv::Mat img = Background(w, h, rng);

  const bool child = f[kAgeLess18];
  const bool elderly = f[kAgeOver60];
  const bool female = f[kFemale];
  const bool front = f[kFront], side = f[kSide], back = f[kBack];
  const Proportions p = ProportionsFor(child);

  Figure fig;
  fig.height = h * (child ? rng.Uniform(0.62, 0.7) : rng.Uniform(0.84, 0.92));
  if (elderly) fig.height *= rng.Uniform(0.93, 0.97);
  const double foot = h - rng.Uniform(0.01, 0.04) * h;
  fig.top = std::max(0.06 * h, foot - fig.height);
  fig.height = foot - fig.top;
  const double half_span = 0.21 * fig.height;
  double cx = w / 2.0 + rng.Uniform(-0.06, 0.06) * w;
  if (w > 2 * half_span) cx = std::clamp(cx, half_span, w - half_span);
  fig.cx = cx;
  fig.dir = side ? (rng.Chance(0.5) ? 1 : -1) : 1;

  const cv::Scalar skin = Jitter(kSkinColors[rng.Int(0, 3)], rng, 8);
  const cv::Scalar hair =
      elderly ? Jitter(cv::Scalar::all(rng.Uniform(215, 240)), rng, 5)
              : Jitter(kHairColors[rng.Int(0, 2)], rng, 8);
  // Shirts stay well away from skin colours so that bare arms show.
  const cv::Scalar shirt =
      Jitter(PickVividAwayFrom(skin, 110, rng), rng, 12);
  const cv::Scalar coat_color = Jitter(
      std::vector<cv::Scalar>{{40, 60, 100}, {30, 30, 30}, {110, 110, 110},
                              {140, 180, 200}, {90, 40, 30}, {40, 40, 160}}
          [rng.Int(0, 5)],
      rng, 12);
  const cv::Scalar upper = f[kLongCoat] ? coat_color : shirt;
  const cv::Scalar trousers = Jitter(kTrouserColors[rng.Int(0, 4)], rng, 10);
  const cv::Scalar skirt_color =
      Jitter(PickVividAwayFrom(skin, 110, rng), rng, 12);
  const cv::Scalar shoes = Jitter(cv::Scalar(25, 25, 25), rng, 10);
  // Accessories have their own colour families: hand bags magenta/red,
  // shoulder bags orange/brown, backpacks green/blue, held objects white or
  // pale yellow, hats saturated.
  const cv::Scalar hand_bag = Jitter(
      std::vector<cv::Scalar>{{200, 40, 220}, {120, 20, 200}, {60, 30, 230}}
          [rng.Int(0, 2)],
      rng, 12);
  const cv::Scalar shoulder_bag = Jitter(
      std::vector<cv::Scalar>{{0, 110, 230}, {20, 70, 150}, {0, 160, 255}}
          [rng.Int(0, 2)],
      rng, 12);
  const cv::Scalar backpack = Jitter(
      std::vector<cv::Scalar>{{40, 170, 40}, {200, 110, 0}, {120, 160, 0},
                              {150, 60, 20}}[rng.Int(0, 3)],
      rng, 12);
  const cv::Scalar object = Jitter(
      std::vector<cv::Scalar>{{250, 250, 250}, {170, 250, 255}, {255, 255, 190}}
          [rng.Int(0, 2)],
      rng, 5);
  const cv::Scalar hat = Jitter(
      std::vector<cv::Scalar>{{20, 20, 235}, {235, 60, 0}, {0, 230, 255},
                              {0, 200, 0}, {220, 0, 220}}[rng.Int(0, 4)],
      rng, 10);

  // Elderly people stoop: the upper body leans forward (side view) or the
  // head drops (front and back views).
  const double lean = elderly ? rng.Uniform(0.03, 0.05) : 0.0;
  const double head_drop = elderly && !side ? 0.015 : 0.0;
  const double head_x = side ? lean * 1.3 : 0.0;
  const double head_y = p.head_y + head_drop;
  const double shoulder_x = side ? lean : 0.0;
  const double coat_hem = p.knee_y + 0.05;
  const double skirt_hem = p.knee_y + 0.01;

  Blend(img, 0.45, [&](cv::Mat& o) {
    cv::ellipse(o, fig.P(0, p.ankle_y + 0.02),
                cv::Size(fig.Len(0.16), fig.Len(0.025)), 0, 0, 360,
                cv::Scalar(15, 15, 15), cv::FILLED, cv::LINE_AA);
  });

  // ---- Legs and skirt.
  const double leg_top = f[kLongCoat] ? coat_hem - 0.03
                                      : (f[kSkirtDress] ? skirt_hem - 0.03
                                                        : p.hip_y);
  const cv::Scalar leg_color =
      (f[kSkirtDress] && !f[kLongCoat]) ? skin : trousers;
  const double leg_w = f[kSkirtDress] ? p.leg * 0.7 : p.leg;
  std::vector<std::pair<double, double>> feet;  // x of hip and ankle per leg
  if (side) {
    feet = {{0.02, 0.12}, {-0.02, -0.1}};
  } else {
    feet = {{0.05, 0.055}, {-0.05, -0.055}};
  }
  for (const auto& [hip_x, ankle_x] : feet) {
    const double t = (leg_top - p.hip_y) / (p.ankle_y - p.hip_y);
    const double top_x = hip_x + (ankle_x - hip_x) * t;
    Line(img, fig.P(top_x, leg_top), fig.P(ankle_x, p.ankle_y), leg_color,
         fig.Len(leg_w));
    const cv::Point shoe = fig.P(ankle_x + (side ? 0.03 : 0.0), p.ankle_y + 0.01);
    cv::ellipse(img, shoe, cv::Size(fig.Len(side ? 0.05 : 0.035), fig.Len(0.02)),
                0, 0, 360, shoes, cv::FILLED, cv::LINE_AA);
  }
  if (f[kSkirtDress] && !f[kLongCoat]) {
    // A wide trapezoid from the waist to the knees.
    const double sw = side ? p.side_w : p.hip_w;
    FillPoly(img,
             {fig.P(-sw, p.hip_y - 0.05), fig.P(sw, p.hip_y - 0.05),
              fig.P(sw + 0.1, skirt_hem), fig.P(-sw - 0.1, skirt_hem)},
             skirt_color);
  }

  // ---- Held objects seen from the back: a big block sticking out on both
  // sides of the torso.
  const double object_y = 0.36;
  if (f[kHoldObjectsInFront] && back) {
    DrawBox(img, fig.P(0, object_y), fig.Len(p.shoulder_w + 0.08),
            fig.Len(0.06), object);
  }

  // ---- Backpack behind the body: from the front it shows on both sides of
  // the torso, from the side as a big block behind the back.
  const double pack_y = (p.shoulder_y + p.hip_y) / 2 - 0.03;
  if (f[kBackpack] && front) {
    DrawBox(img, fig.P(0, pack_y), fig.Len(p.shoulder_w + 0.055),
            fig.Len(0.15), backpack);
  }
  if (f[kBackpack] && side) {
    const double bx = -(p.side_w + 0.07) + shoulder_x * 0.5;
    DrawBox(img, fig.P(bx, pack_y), fig.Len(0.085), fig.Len(0.15), backpack);
  }

  // ---- Long hair behind the head, down past the shoulders (front and
  // side views).
  if (female && !back) {
    const double hx = side ? head_x - 0.04 : 0.0;
    FillPoly(img,
             {fig.P(hx - p.head_r * 1.25, head_y - p.head_r * 0.4),
              fig.P(hx + p.head_r * 1.25, head_y - p.head_r * 0.4),
              fig.P(hx + p.head_r * 1.5, p.shoulder_y + 0.11),
              fig.P(hx - p.head_r * 1.5, p.shoulder_y + 0.11)},
             hair);
  }

  // ---- Torso (shirt or coat) with the pattern.
  const double bottom = f[kLongCoat] ? coat_hem : p.hip_y + 0.02;
  std::vector<cv::Point> torso;
  if (side) {
    const double hem_w = f[kLongCoat] ? p.side_w + 0.06 : p.side_w;
    torso = {fig.P(shoulder_x - p.side_w, p.shoulder_y - 0.005),
             fig.P(shoulder_x + p.side_w, p.shoulder_y - 0.005),
             fig.P(p.side_w * 0.95, p.hip_y),
             fig.P(hem_w, bottom),
             fig.P(-hem_w, bottom),
             fig.P(-p.side_w * 0.95, p.hip_y)};
  } else {
    const double hem_w = f[kLongCoat] ? p.hip_w + 0.07 : p.hip_w;
    torso = {fig.P(-p.shoulder_w, p.shoulder_y + 0.01),
             fig.P(-p.shoulder_w + 0.03, p.shoulder_y - 0.01),
             fig.P(p.shoulder_w - 0.03, p.shoulder_y - 0.01),
             fig.P(p.shoulder_w, p.shoulder_y + 0.01),
             fig.P(p.hip_w, p.hip_y),
             fig.P(hem_w, bottom),
             fig.P(-hem_w, bottom),
             fig.P(-p.hip_w, p.hip_y)};
  }
  DrawGarment(img, torso, upper, f, fig, (p.shoulder_y + p.hip_y) / 2 - 0.02,
              rng);
  if (f[kLongCoat]) {  // coat opening and a dark belt
    if (front) {
      Line(img, fig.P(0, p.hip_y), fig.P(0, bottom), Scale(upper, 0.4),
           fig.Len(0.015));
    }
    const double bw = side ? p.side_w : p.hip_w + 0.01;
    Line(img, fig.P(-bw, p.hip_y - 0.03), fig.P(bw, p.hip_y - 0.03),
         Scale(upper, 0.35), fig.Len(0.022));
  }

  // ---- Long hair over the back.
  if (female && back) {
    FillPoly(img,
             {fig.P(-p.head_r * 1.2, head_y), fig.P(p.head_r * 1.2, head_y),
              fig.P(p.head_r * 1.5, p.shoulder_y + 0.13),
              fig.P(-p.head_r * 1.5, p.shoulder_y + 0.13)},
             hair);
  }

  // ---- Backpack: thick straps in front view, the pack over the back.
  if (f[kBackpack] && front) {
    for (double sx : {-1.0, 1.0}) {
      Line(img, fig.P(sx * p.shoulder_w * 0.55, p.shoulder_y),
           fig.P(sx * p.shoulder_w * 0.5, p.shoulder_y + 0.22), backpack,
           fig.Len(0.035));
    }
  }
  if (f[kBackpack] && back) {
    const cv::Point c = fig.P(0, pack_y + 0.02);
    DrawBox(img, c, fig.Len(p.shoulder_w * 0.85), fig.Len(0.16), backpack);
    Line(img, fig.P(-p.shoulder_w * 0.6, pack_y + 0.06),
         fig.P(p.shoulder_w * 0.6, pack_y + 0.06), Scale(backpack, 0.45),
         fig.Len(0.02));
  }
  if (f[kBackpack] && side) {  // strap over the shoulder
    Line(img, fig.P(shoulder_x, p.shoulder_y),
         fig.P(-p.side_w * 0.3, p.shoulder_y + 0.2), backpack,
         fig.Len(0.03));
  }

  // ---- Shoulder bag: a thick diagonal strap and a bag at the hip (+x in
  // front and back views, in front of the hip in side view).
  if (f[kShoulderBag]) {
    const double bag_x = side ? 0.06 : p.hip_w + 0.03;
    const double from_x = side ? shoulder_x - p.side_w * 0.6
                               : -p.shoulder_w * 0.7;
    Line(img, fig.P(from_x, p.shoulder_y), fig.P(bag_x, p.hip_y - 0.05),
         Scale(shoulder_bag, 0.55), fig.Len(0.03));
    DrawBox(img, fig.P(bag_x, p.hip_y - 0.01), fig.Len(0.075), fig.Len(0.06),
            shoulder_bag);
  }

  // ---- Arms. Upper arm in the upper garment's colour; forearm too for long
  // sleeves, bare skin below a short sleeve.
  const cv::Scalar forearm =
      (f[kLongSleeve] || f[kLongCoat]) ? upper : skin;
  // In side view the arm is thinner so that the garment shows around it.
  const int arm_t = fig.Len(side ? p.arm * 0.7 : p.arm);
  struct Arm {
    double sx, sy, ex, ey, wx, wy;  // shoulder, elbow, wrist
  };
  std::vector<Arm> arms;
  const bool hold = f[kHoldObjectsInFront];
  if (side) {
    if (hold) {
      arms.push_back({shoulder_x, p.shoulder_y + 0.02, shoulder_x + 0.02,
                      0.3, 0.16, object_y});
    } else {
      arms.push_back({shoulder_x, p.shoulder_y + 0.02, shoulder_x - 0.04,
                      0.34, -0.05, 0.49});
    }
  } else {
    for (double sx : {-1.0, 1.0}) {
      const double s0 = sx * (p.shoulder_w - 0.01);
      if (hold) {
        arms.push_back({s0, p.shoulder_y + 0.02, sx * (p.shoulder_w + 0.01),
                        0.31, sx * 0.08, object_y});
      } else {
        arms.push_back({s0, p.shoulder_y + 0.02, sx * (p.shoulder_w + 0.035),
                        0.34, sx * (p.shoulder_w + 0.045), 0.49});
      }
    }
  }
  if (hold && back) {
    // From behind only the upper arms show; the forearms are in front.
    for (const Arm& a : arms) {
      Line(img, fig.P(a.sx, a.sy), fig.P(a.ex, a.ey), upper, arm_t);
    }
  } else {
    for (const Arm& a : arms) {
      const cv::Point s = fig.P(a.sx, a.sy), e = fig.P(a.ex, a.ey),
                      wr = fig.P(a.wx, a.wy);
      if (f[kShortSleeve] && !f[kLongCoat]) {
        // The sleeve covers only the top third of the upper arm.
        Line(img, s, e, skin, arm_t);
        Line(img, e, wr, skin, arm_t);
        const cv::Point end(s.x + (e.x - s.x) / 3, s.y + (e.y - s.y) / 3);
        Line(img, s, end, upper, arm_t + 3);
      } else {
        Line(img, s, e, upper, arm_t + 1);
        Line(img, e, wr, forearm, arm_t + 1);
      }
      Disc(img, wr, fig.Len(p.arm * 0.6), skin);
    }
    if (hold) {  // a big block in front of the chest, over the forearms
      DrawBox(img, fig.P(side ? 0.14 : 0.0, object_y),
              fig.Len(side ? 0.09 : p.shoulder_w + 0.01), fig.Len(0.065),
              object);
    }
  }

  // ---- Hand bag hanging low from one hand (-x in front and back views,
  // behind the legs in side view).
  if (f[kHandBag]) {
    double hx, hy;
    if (side) {
      hx = hold ? -0.1 : -0.05;
      hy = 0.5;
    } else {
      hx = -(p.shoulder_w + 0.045);
      hy = hold ? 0.5 : 0.49;
    }
    const cv::Point handle = fig.P(hx, hy);
    const cv::Point bag_c = fig.P(hx, hy + 0.11);
    Line(img, handle, fig.P(hx, hy + 0.05), Scale(hand_bag, 0.5),
         fig.Len(0.015));
    DrawBox(img, bag_c, fig.Len(0.075), fig.Len(0.07), hand_bag);
    Disc(img, handle, fig.Len(p.arm * 0.6), skin);
  }

  // ---- Neck and head.
  Line(img, fig.P(head_x * 0.5, head_y + p.head_r * 0.8),
       fig.P(shoulder_x * 0.8, p.shoulder_y), skin, fig.Len(p.head_r * 0.8));
  const cv::Point head = fig.P(head_x, head_y);
  const int hr = fig.Len(p.head_r);
  const cv::Scalar dark(20, 20, 20);
  if (back) {
    // The back of the head is all hair.
    Disc(img, head, hr, hair);
  } else {
    Disc(img, head, hr, skin);
    if (side) {
      // Hair over the back half of the head, nose and eye at the front.
      cv::ellipse(img, fig.P(head_x - p.head_r * 0.35, head_y - p.head_r * 0.2),
                  cv::Size(static_cast<int>(hr * 0.9), static_cast<int>(hr * 0.9)),
                  0, 0, 360, hair, cv::FILLED, cv::LINE_AA);
      FillPoly(img,
               {fig.P(head_x + p.head_r * 0.85, head_y - p.head_r * 0.25),
                fig.P(head_x + p.head_r * 1.4, head_y + p.head_r * 0.2),
                fig.P(head_x + p.head_r * 0.85, head_y + p.head_r * 0.35)},
               skin);
      Disc(img, fig.P(head_x + p.head_r * 0.5, head_y - p.head_r * 0.05),
           std::max(1, hr / 5), dark);
    } else {
      // Hair cap; long hair also frames the face. Eyes and mouth.
      cv::ellipse(img, fig.P(0, head_y - p.head_r * 0.3),
                  cv::Size(static_cast<int>(hr * 1.05), static_cast<int>(hr * 0.8)),
                  0, 180, 360, hair, cv::FILLED, cv::LINE_AA);
      if (female) {
        for (double sx : {-1.0, 1.0}) {
          Line(img, fig.P(sx * p.head_r * 0.95, head_y - p.head_r * 0.3),
               fig.P(sx * p.head_r * 1.1, head_y + p.head_r * 1.5), hair,
               std::max(3, hr * 2 / 3));
        }
      }
      for (double sx : {-1.0, 1.0}) {
        Disc(img, fig.P(sx * p.head_r * 0.38, head_y + p.head_r * 0.05),
             std::max(1, hr / 5), dark);
      }
      Line(img, fig.P(-p.head_r * 0.3, head_y + p.head_r * 0.55),
           fig.P(p.head_r * 0.3, head_y + p.head_r * 0.55),
           cv::Scalar(40, 40, 150), std::max(1, hr / 5));
    }
  }

  // ---- Glasses: a thick bright band across the eyes (front), over the
  // front half of the head (side) or the strap across the back of the head.
  if (f[kGlasses]) {
    const cv::Scalar lens(255, 255, 0);
    const int band = std::max(5, static_cast<int>(std::lround(hr * 0.75)));
    const int ft = std::max(1, band / 4);
    cv::Rect r;
    if (front) {
      r = cv::Rect(head.x - hr * 11 / 10, head.y - band / 2, hr * 22 / 10, band);
    } else if (side) {
      const int x0 = fig.dir > 0 ? head.x - hr / 5 : head.x - hr * 13 / 10;
      r = cv::Rect(x0, head.y - band / 2, hr * 3 / 2, band);
    } else {
      r = cv::Rect(head.x - hr * 11 / 10, head.y - band / 2, hr * 22 / 10,
                   band * 2 / 3);
    }
    cv::rectangle(img, r, dark, cv::FILLED);
    cv::rectangle(img,
                  cv::Rect(r.x + ft, r.y + ft, r.width - 2 * ft,
                           r.height - 2 * ft),
                  back ? cv::Scalar(0, 170, 255) : lens, cv::FILLED);
  }

  // ---- Hat: a tall, saturated crown with a wide brim.
  if (f[kHat]) {
    const cv::Point crown = fig.P(head_x, head_y - p.head_r * 0.35);
    cv::ellipse(img, crown,
                cv::Size(static_cast<int>(hr * 1.15), static_cast<int>(hr * 1.1)),
                0, 180, 360, hat, cv::FILLED, cv::LINE_AA);
    const int brim_t = std::max(3, hr * 2 / 5);
    if (side) {
      Line(img, fig.P(head_x - p.head_r * 1.1, head_y - p.head_r * 0.35),
           fig.P(head_x + p.head_r * 1.9, head_y - p.head_r * 0.35),
           Scale(hat, 0.7), brim_t);
    } else {
      Line(img, fig.P(-p.head_r * 1.7, head_y - p.head_r * 0.35),
           fig.P(p.head_r * 1.7, head_y - p.head_r * 0.35), Scale(hat, 0.7),
           brim_t);
    }
  }

  Degrade(img, rng);
  return img;
}

// ---------------------------------------------------------------------------
// Planning.

// `count` entries over [0, pool): whole shuffled passes over the pool, so
// every set appears floor(count/pool) or one more times; then shuffled.
std::vector<int> BalancedDraw(int count, int pool, Rng& rng) {
  std::vector<int> out;
  out.reserve(count);
  std::vector<int> pass(pool);
  while (static_cast<int>(out.size()) < count) {
    for (int i = 0; i < pool; ++i) pass[i] = i;
    rng.Shuffle(pass);
    for (int i = 0; i < pool && static_cast<int>(out.size()) < count; ++i) {
      out.push_back(pass[i]);
    }
  }
  rng.Shuffle(out);
  return out;
}

std::string VehicleName(Rng& rng) {
  std::string name(10, 'a');
  for (char& c : name) c = static_cast<char>('a' + rng.Int(0, 25));
  return name + ".jpg";
}

std::string PedestrianName(Rng& rng) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%06d.jpg", rng.Int(0, 999999));
  return buf;
}

constexpr int kMaxTotalImages = 500000;

absl::Status WriteLabelFile(const std::string& path, const DatasetPlan& plan,
                            const std::vector<PlannedImage>& images) {
  std::string text;
  for (const PlannedImage& image : images) {
    absl::StrAppend(&text, LabelLine(plan, image), "\n");
  }
  return common::WriteFileAtomically(path, text);
}

std::string JoinPath(const std::string& a, const std::string& b) {
  return (std::filesystem::path(a) / b).string();
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API.

absl::Status ValidateDatagenOptions(const DatagenOptions& o) {
  if (o.output_dir.empty()) {
    return absl::InvalidArgumentError("output_dir must not be empty");
  }
  if (o.train_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("train_size must be >= 1, got ", o.train_size));
  }
  if (o.val_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("val_size must be >= 0, got ", o.val_size));
  }
  if (o.test_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("test_size must be >= 1, got ", o.test_size));
  }
  if (static_cast<int64_t>(o.train_size) + o.val_size + o.test_size >
      kMaxTotalImages) {
    return absl::InvalidArgumentError(absl::StrCat(
        "train_size + val_size + test_size must be <= ", kMaxTotalImages,
        " (6-digit pedestrian names), got ",
        static_cast<int64_t>(o.train_size) + o.val_size + o.test_size));
  }
  if (o.num_queries < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_queries must be >= 0, got ", o.num_queries));
  }
  if (!(o.vehicle_fraction >= 0.0 && o.vehicle_fraction <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vehicle_fraction must be in [0, 1], got ", o.vehicle_fraction));
  }
  if (o.vehicle_pool_size < 1 || o.vehicle_pool_size > kMaxVehiclePoolSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("vehicle_pool_size must be in [1, ", kMaxVehiclePoolSize,
                     "], got ", o.vehicle_pool_size));
  }
  if (o.pedestrian_pool_size < 1 ||
      o.pedestrian_pool_size > kMaxPedestrianPoolSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pedestrian_pool_size must be in [1, ", kMaxPedestrianPoolSize,
        "], got ", o.pedestrian_pool_size));
  }
  if (o.pedestrian_caption_variants < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pedestrian_caption_variants must be >= 1, got ",
                     o.pedestrian_caption_variants));
  }
  if (o.jpeg_quality < 30 || o.jpeg_quality > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jpeg_quality must be in [30, 100], got ", o.jpeg_quality));
  }
  if (o.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be >= 1, got ", o.threads));
  }
  return absl::OkStatus();
}

std::string AttributeString(const AttributeSet& set) {
  return set.kind == SampleKind::kVehicle
             ? VehicleAttributeString(set.vehicle)
             : PedestrianAttributeString(set.pedestrian);
}

int NumCaptionVariants(const AttributeSet& set, int pedestrian_variants) {
  return set.kind == SampleKind::kVehicle ? kNumVehicleCaptionVariants
                                          : pedestrian_variants;
}

std::string Caption(const AttributeSet& set, int variant) {
  return set.kind == SampleKind::kVehicle
             ? VehicleCaption(set.vehicle, variant)
             : PedestrianCaption(set.pedestrian,
                                 static_cast<uint32_t>(variant));
}

std::vector<AttributeSet> MakeVehiclePool(int size, uint64_t seed) {
  Rng rng(seed);
  const int num_colors = static_cast<int>(VehicleColorNames().size());
  const int num_types = static_cast<int>(VehicleTypeNames().size());
  const int num_brands = static_cast<int>(VehicleBrandNames().size());

  // Brand-only sets use truck and bus brands, as in the real labels; those
  // brands then stay out of the colour + brand sets.
  std::vector<int> heavy, light;
  for (int b = 0; b < num_brands; ++b) {
    const int t = BrandVehicleType(b);
    (t == kTruck || t == kBus ? heavy : light).push_back(b);
  }
  rng.Shuffle(heavy);
  const int n_type = size >= 10 ? std::min(num_types, (size + 5) / 10) : 0;
  const int n_brand_only =
      size >= 20 ? std::min<int>(heavy.size(), (size + 10) / 20) : 0;
  const int n_combo = size - n_type - n_brand_only;

  std::vector<AttributeSet> pool;
  std::vector<int> types(num_types);
  for (int t = 0; t < num_types; ++t) types[t] = t;
  rng.Shuffle(types);
  for (int i = 0; i < n_type; ++i) {
    AttributeSet s;
    s.kind = SampleKind::kVehicle;
    s.vehicle.type = types[i];
    pool.push_back(s);
  }
  for (int i = 0; i < n_brand_only; ++i) {
    AttributeSet s;
    s.kind = SampleKind::kVehicle;
    s.vehicle.brand = heavy[i];
    s.vehicle.type = BrandVehicleType(heavy[i]);
    pool.push_back(s);
  }
  // Colour + brand over about n_combo / 3 brands, each brand at least once.
  std::vector<int> brands = light;
  brands.insert(brands.end(), heavy.begin() + n_brand_only, heavy.end());
  rng.Shuffle(brands);
  const int n_brands =
      std::min<int>(brands.size(), std::max(1, (n_combo + 2) / 3));
  brands.resize(n_brands);
  std::vector<std::pair<int, int>> pairs;  // (brand, colour)
  std::set<std::pair<int, int>> used;
  for (int b : brands) {
    if (static_cast<int>(pairs.size()) >= n_combo) break;
    const std::pair<int, int> pr{b, rng.Int(0, num_colors - 1)};
    pairs.push_back(pr);
    used.insert(pr);
  }
  std::vector<std::pair<int, int>> rest;
  for (int b : brands) {
    for (int c = 0; c < num_colors; ++c) {
      if (!used.count({b, c})) rest.push_back({b, c});
    }
  }
  rng.Shuffle(rest);
  for (size_t i = 0; static_cast<int>(pairs.size()) < n_combo && i < rest.size();
       ++i) {
    pairs.push_back(rest[i]);
  }
  for (const auto& [b, c] : pairs) {
    AttributeSet s;
    s.kind = SampleKind::kVehicle;
    s.vehicle.brand = b;
    s.vehicle.color = c;
    s.vehicle.type = BrandVehicleType(b);
    pool.push_back(s);
  }
  return pool;
}

std::vector<AttributeSet> MakePedestrianPool(int size, uint64_t seed) {
  Rng rng(seed);
  std::vector<AttributeSet> pool;
  std::set<std::string> seen;
  while (static_cast<int>(pool.size()) < size) {
    PedestrianFlags f{};
    f[kFemale] = rng.Chance(0.5);
    const double age = rng.Uniform();
    f[age < 0.6 ? kAge18To60 : (age < 0.8 ? kAgeLess18 : kAgeOver60)] = true;
    f[kFront + rng.Int(0, 2)] = true;
    f[kHat] = rng.Chance(0.2);
    f[kGlasses] = rng.Chance(0.25);
    f[kHandBag] = rng.Chance(0.2);
    f[kShoulderBag] = rng.Chance(0.2);
    f[kBackpack] = rng.Chance(0.25);
    f[kHoldObjectsInFront] = rng.Chance(0.1);
    if (f[kHandBag] + f[kShoulderBag] + f[kBackpack] +
            f[kHoldObjectsInFront] > 2) {
      continue;
    }
    f[kLongCoat] = rng.Chance(0.12);
    // A coat covers the arms: always long sleeves.
    f[f[kLongCoat] || rng.Chance(0.45) ? kLongSleeve : kShortSleeve] = true;
    const int pattern = rng.Int(0, 7);  // none for 0..3
    if (pattern >= 4) f[kUpperStride + (pattern - 4)] = true;
    f[kSkirtDress] = f[kFemale] && !f[kLongCoat] && rng.Chance(0.3);
    AttributeSet s;
    s.kind = SampleKind::kPedestrian;
    s.pedestrian = f;
    if (seen.insert(PedestrianAttributeString(f)).second) pool.push_back(s);
  }
  return pool;
}

cv::Mat RenderImage(const AttributeSet& set, uint64_t seed) {
  Rng rng(Mix64(seed ^ 0x5bd1e995ULL));
  return set.kind == SampleKind::kVehicle
             ? RenderVehicle(set.vehicle, rng)
             : RenderPedestrian(set.pedestrian, rng);
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
    ok = cv::imencode(".jpg", image, buf,
                      {cv::IMWRITE_JPEG_QUALITY, quality,
                       cv::IMWRITE_JPEG_OPTIMIZE, 0});
  } catch (const cv::Exception& e) {
    return absl::InternalError(
        absl::StrCat("JPEG encoding failed: ", e.what()));
  }
  if (!ok) return absl::InternalError("JPEG encoding failed");
  return std::string(buf.begin(), buf.end());
}

absl::StatusOr<DatasetPlan> PlanDataset(const DatagenOptions& o) {
  RETURN_IF_ERROR(ValidateDatagenOptions(o));
  DatasetPlan plan;
  plan.pool = MakeVehiclePool(o.vehicle_pool_size,
                              SeedFor(o.seed, kTagVehiclePool, 0));
  const int num_vehicle_sets = static_cast<int>(plan.pool.size());
  for (AttributeSet& s : MakePedestrianPool(
           o.pedestrian_pool_size, SeedFor(o.seed, kTagPedestrianPool, 0))) {
    plan.pool.push_back(std::move(s));
  }
  const int num_pedestrian_sets =
      static_cast<int>(plan.pool.size()) - num_vehicle_sets;

  Rng names(SeedFor(o.seed, kTagNames, 0));
  std::set<std::string> used_names;
  std::vector<PlannedImage>* splits[] = {&plan.train, &plan.val, &plan.test};
  const int sizes[] = {o.train_size, o.val_size, o.test_size};
  for (int s = 0; s < 3; ++s) {
    Rng rng(SeedFor(o.seed, kTagSplitPlan + s, 0));
    const int n = sizes[s];
    const int n_vehicle =
        static_cast<int>(std::lround(n * o.vehicle_fraction));
    std::vector<char> is_vehicle(n, 0);
    for (int i = 0; i < n_vehicle; ++i) is_vehicle[i] = 1;
    rng.Shuffle(is_vehicle);
    const std::vector<int> vehicle_sets =
        BalancedDraw(n_vehicle, num_vehicle_sets, rng);
    const std::vector<int> pedestrian_sets =
        BalancedDraw(n - n_vehicle, num_pedestrian_sets, rng);
    size_t next_vehicle = 0, next_pedestrian = 0;
    std::vector<PlannedImage>& out = *splits[s];
    out.reserve(n);
    for (int i = 0; i < n; ++i) {
      PlannedImage image;
      image.attribute_set =
          is_vehicle[i] ? vehicle_sets[next_vehicle++]
                        : num_vehicle_sets + pedestrian_sets[next_pedestrian++];
      const AttributeSet& set = plan.pool[image.attribute_set];
      image.caption_variant = rng.Int(
          0, NumCaptionVariants(set, o.pedestrian_caption_variants) - 1);
      image.render_seed = SeedFor(o.seed, kTagRender + s, i);
      image.jpeg_quality = std::max(30, o.jpeg_quality - rng.Int(0, 15));
      do {
        image.name = set.kind == SampleKind::kVehicle ? VehicleName(names)
                                                      : PedestrianName(names);
      } while (!used_names.insert(image.name).second);
      out.push_back(std::move(image));
    }
  }

  // Queries: distinct test captions in order of first appearance.
  std::vector<std::string> distinct;
  std::set<std::string> seen;
  for (const PlannedImage& image : plan.test) {
    std::string text =
        Caption(plan.pool[image.attribute_set], image.caption_variant);
    if (seen.insert(text).second) distinct.push_back(std::move(text));
  }
  if (o.num_queries > 0 && o.num_queries < static_cast<int>(distinct.size())) {
    std::vector<int> order(distinct.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    Rng rng(SeedFor(o.seed, kTagQueries, 0));
    rng.Shuffle(order);
    order.resize(o.num_queries);
    std::sort(order.begin(), order.end());
    for (int i : order) plan.queries.push_back(distinct[i]);
  } else {
    plan.queries = std::move(distinct);
  }
  return plan;
}

std::string LabelLine(const DatasetPlan& plan, const PlannedImage& image) {
  const AttributeSet& set = plan.pool[image.attribute_set];
  return absl::StrCat(image.name, "$", AttributeString(set), "$",
                      Caption(set, image.caption_variant));
}

absl::StatusOr<std::string> RenderPlannedImage(const DatasetPlan& plan,
                                               const PlannedImage& image) {
  const cv::Mat pixels =
      RenderImage(plan.pool[image.attribute_set], image.render_seed);
  return EncodeJpeg(pixels, image.jpeg_quality);
}

absl::Status GenerateDataset(const DatagenOptions& options) {
  ASSIGN_OR_RETURN(const DatasetPlan plan, PlanDataset(options));
  std::string out = options.output_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();

  std::error_code ec;
  const auto out_status = std::filesystem::symlink_status(out, ec);
  bool out_exists = std::filesystem::exists(out_status);
  bool out_empty = false;
  if (out_exists) {
    if (!std::filesystem::is_directory(out_status)) {
      return absl::FailedPreconditionError(
          absl::StrCat("output_dir ", out, " exists and is not a directory"));
    }
    out_empty = std::filesystem::is_empty(out, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot list ", out, ": ", ec.message()));
    }
    if (!out_empty && !options.overwrite) {
      return absl::FailedPreconditionError(absl::StrCat(
          "output_dir ", out, " exists and is not empty (use overwrite)"));
    }
  }

  const std::string tmp = common::TempPathFor(out);
  auto build = [&]() -> absl::Status {
    const char* split_dirs[] = {"train", "val", "test"};
    for (const char* d : split_dirs) {
      RETURN_IF_ERROR(common::MakeDirs(JoinPath(tmp, JoinPath(d, "images"))));
    }
    struct Job {
      const PlannedImage* image;
      std::string path;
    };
    std::vector<Job> jobs;
    const std::vector<PlannedImage>* splits[] = {&plan.train, &plan.val,
                                                 &plan.test};
    for (int s = 0; s < 3; ++s) {
      const std::string dir = JoinPath(tmp, JoinPath(split_dirs[s], "images"));
      for (const PlannedImage& image : *splits[s]) {
        jobs.push_back({&image, JoinPath(dir, image.name)});
      }
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    absl::Status first_error;
    auto worker = [&]() {
      while (!failed.load()) {
        const size_t i = next.fetch_add(1);
        if (i >= jobs.size()) return;
        absl::Status st;
        absl::StatusOr<std::string> bytes =
            RenderPlannedImage(plan, *jobs[i].image);
        if (!bytes.ok()) {
          st = absl::Status(bytes.status().code(),
                            absl::StrCat(jobs[i].path, ": ",
                                         bytes.status().message()));
        } else {
          st = common::WriteFileAtomically(jobs[i].path, *bytes);
        }
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = st;
          failed.store(true);
        }
      }
    };
    const int n_threads =
        std::max(1, std::min<int>(options.threads, jobs.size()));
    std::vector<std::thread> threads;
    for (int t = 1; t < n_threads; ++t) threads.emplace_back(worker);
    worker();
    for (std::thread& t : threads) t.join();
    RETURN_IF_ERROR(first_error);

    RETURN_IF_ERROR(WriteLabelFile(JoinPath(tmp, "train/train_label.txt"),
                                   plan, plan.train));
    RETURN_IF_ERROR(
        WriteLabelFile(JoinPath(tmp, "val/val_label.txt"), plan, plan.val));
    RETURN_IF_ERROR(WriteLabelFile(JoinPath(tmp, "test/test_label.txt"), plan,
                                   plan.test));
    std::string queries;
    for (const std::string& q : plan.queries) absl::StrAppend(&queries, q, "\n");
    RETURN_IF_ERROR(
        common::WriteFileAtomically(JoinPath(tmp, "test/test_text.txt"), queries));
    int num_vehicle_sets = 0;
    for (const AttributeSet& s : plan.pool) {
      num_vehicle_sets += s.kind == SampleKind::kVehicle;
    }
    const std::string manifest = absl::StrCat(
        "generator=trainer/datagen\n", "datagen_version=", kDatagenVersion,
        "\n", "seed=", options.seed, "\n", "train_size=", plan.train.size(),
        "\n", "val_size=", plan.val.size(), "\n", "test_size=",
        plan.test.size(), "\n", "num_queries=", plan.queries.size(), "\n",
        "vehicle_fraction=", options.vehicle_fraction, "\n",
        "vehicle_pool_size=", num_vehicle_sets, "\n", "pedestrian_pool_size=",
        plan.pool.size() - num_vehicle_sets, "\n",
        "pedestrian_caption_variants=", options.pedestrian_caption_variants,
        "\n", "jpeg_quality=", options.jpeg_quality, "\n");
    RETURN_IF_ERROR(
        common::WriteFileAtomically(JoinPath(tmp, "manifest.txt"), manifest));

    // Install: the new tree replaces `out` in one rename; an old non-empty
    // tree is moved aside first and deleted once the new one is in place.
    std::string old;
    if (out_exists) {
      if (out_empty) {
        std::filesystem::remove(out, ec);
        if (ec) {
          return absl::InternalError(
              absl::StrCat("cannot remove empty ", out, ": ", ec.message()));
        }
      } else {
        old = common::TempPathFor(out) + ".old";
        RETURN_IF_ERROR(common::RenameFile(out, old));
      }
    }
    absl::Status st = common::RenameFile(tmp, out);
    if (!st.ok()) {
      if (!old.empty()) (void)common::RenameFile(old, out);
      return st;
    }
    const std::string parent =
        std::filesystem::path(out).parent_path().string();
    RETURN_IF_ERROR(common::SyncDirectory(parent.empty() ? "." : parent));
    if (!old.empty()) {
      std::filesystem::remove_all(old, ec);
      if (ec) {
        return absl::InternalError(absl::StrCat(
            "dataset written to ", out, " but the old copy ", old,
            " could not be removed: ", ec.message()));
      }
    }
    return absl::OkStatus();
  };
  absl::Status st = build();
  if (!st.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(tmp, ignored);
  }
  return st;
}

}  // namespace datagen
