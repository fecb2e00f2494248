#include "datagen/render_vehicle.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "datagen/draw.h"
#include "opencv2/imgproc.hpp"

namespace datagen::internal {
namespace {

// Body colours of VehicleColorNames(), in its order.
const cv::Scalar kVehicleColors[] = {
    {28, 28, 28},     // black
    {185, 85, 25},    // blue
    {35, 65, 115},    // brown
    {45, 145, 45},    // green
    {130, 130, 130},  // grey
    {0, 135, 250},    // orange
    {195, 150, 255},  // pink
    {145, 45, 125},   // purple
    {35, 35, 205},    // red
    {242, 242, 242},  // white
    {0, 215, 240},    // yellow
};

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
  double top;                 // highest h
  double badge_t, badge_h;    // brand emblem centre
  double badge_hw, badge_hh;  // emblem half-width and half-height
  double light_h;             // height of head and tail lights
};

std::vector<std::pair<double, double>> Rect(double t0, double h0, double t1,
                                            double h1) {
  return {{t0, h0}, {t0, h1}, {t1, h1}, {t1, h0}};
}

VehicleShape ShapeOf(int type) {
  VehicleShape s;
  // Outline points in rows, laid out by hand.
  // clang-format off
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
  // clang-format on
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

// Draws brand `brand`'s emblem as a rectangle of half-size (hw, hh) centred
// on `c`, with a dark frame.
void DrawBrandEmblem(cv::Mat& img, cv::Point c, int hw, int hh, int brand) {
  const int layout = brand % kNumEmblemLayouts;
  const int pair = brand / kNumEmblemLayouts;
  const cv::Scalar field = kEmblemColors[kEmblemPairs[pair][0]];
  const cv::Scalar mark = kEmblemColors[kEmblemPairs[pair][1]];
  const int frame = std::max(2, std::min(hw, hh) / 5);
  const cv::Rect outer(c.x - hw - frame, c.y - hh - frame, 2 * (hw + frame),
                       2 * (hh + frame));
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
      cv::ellipse(img, c,
                  cv::Size(std::max(2, hw * 6 / 10), std::max(2, hh * 7 / 10)),
                  0, 0, 360, mark, cv::FILLED, cv::LINE_AA);
      break;
    case 3:  // upward triangle
      FillPoly(img,
               {cv::Point(r.x, r.y + r.height), cv::Point(c.x, r.y),
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

}  // namespace

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
      attr.color >= 0
          ? attr.color
          : rng.Int(0, static_cast<int>(VehicleColorNames().size()) - 1);
  const cv::Scalar body = Jitter(kVehicleColors[color_index], rng, 12);
  const cv::Scalar outline = Scale(body, 0.45);
  const cv::Scalar glass = Jitter(cv::Scalar(70, 55, 40), rng, 15);

  // Shadow.
  Blend(img, 0.55, [&](cv::Mat& o) {
    cv::ellipse(o, f.P(0.5, 0.0),
                cv::Size(f.Len(0.55), std::max(2, f.Len(0.035))), 0, 0, 360,
                cv::Scalar(20, 20, 20), cv::FILLED, cv::LINE_AA);
  });

  if (type == kTruck) {  // chassis
    FillPoly(img,
             {f.P(0.0, 0.05), f.P(0.0, 0.1), f.P(1.0, 0.1), f.P(1.0, 0.05)},
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

}  // namespace datagen::internal
