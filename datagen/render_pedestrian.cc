#include "datagen/render_pedestrian.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "datagen/draw.h"
#include "opencv2/imgproc.hpp"

namespace datagen::internal {
namespace {

const cv::Scalar kTrouserColors[] = {
    {90, 40, 20}, {30, 30, 30}, {90, 90, 90}, {110, 160, 180}, {40, 60, 90},
};
const cv::Scalar kSkinColors[] = {
    {160, 190, 235},
    {130, 170, 220},
    {100, 140, 190},
    {75, 105, 150},
};
const cv::Scalar kHairColors[] = {
    {25, 25, 25},
    {30, 45, 70},
    {35, 60, 100},
};

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
    return {0.1, 0.105, 0.235, 0.57, 0.77, 0.97, 0.13, 0.11, 0.085, 0.07, 0.08};
  }
  return {0.08, 0.085, 0.18, 0.53, 0.75, 0.97, 0.135, 0.11, 0.09, 0.062, 0.075};
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
    FillPoly(
        layer,
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
      cv::rectangle(layer, cv::Rect(x, box.y, band, box.height), c, cv::FILLED);
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
    const cv::Point c(
        box.x + box.width / 2,
        static_cast<int>(std::lround(fig.top + logo_y * fig.height)));
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

// The colours of one figure. Accessories have their own colour families:
// hand bags magenta/red, shoulder bags orange/brown, backpacks green/blue,
// held objects white or pale yellow, hats saturated.
struct PedestrianColors {
  cv::Scalar skin, hair;
  cv::Scalar upper;  // shirt, or the coat with kLongCoat
  cv::Scalar trousers, skirt, shoes;
  cv::Scalar hand_bag, shoulder_bag, backpack, object, hat;
};

// Everything the parts of one figure are drawn from: its flags and views,
// placement, proportions, colours and pose (all lengths in figure heights).
struct Pedestrian {
  PedestrianFlags f{};
  bool elderly = false, female = false;
  bool front = false, side = false, back = false;
  bool hold = false;  // kHoldObjectsInFront
  Proportions p{};
  Figure fig{};
  PedestrianColors colors;
  // Elderly people stoop: the upper body leans forward (side view) or the
  // head drops (front and back views).
  double head_x = 0, head_y = 0, shoulder_x = 0;
  double coat_hem = 0, skirt_hem = 0;
  double object_y = 0.36;  // height of held objects
  double pack_y = 0;       // centre of a backpack
};

// Places a figure of the age's size in a w x h image, standing near the
// bottom and roughly centred; side views face left or right.
Figure PlaceFigure(int w, int h, bool child, bool elderly, bool side,
                   Rng& rng) {
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
  return fig;
}

PedestrianColors PickColors(const PedestrianFlags& f, bool elderly, Rng& rng) {
  PedestrianColors c;
  c.skin = Jitter(kSkinColors[rng.Int(0, 3)], rng, 8);
  c.hair = elderly ? Jitter(cv::Scalar::all(rng.Uniform(215, 240)), rng, 5)
                   : Jitter(kHairColors[rng.Int(0, 2)], rng, 8);
  // Shirts stay well away from skin colours so that bare arms show.
  const cv::Scalar shirt = Jitter(PickVividAwayFrom(c.skin, 110, rng), rng, 12);
  const cv::Scalar coat_color =
      Jitter(std::vector<cv::Scalar>{{40, 60, 100},
                                     {30, 30, 30},
                                     {110, 110, 110},
                                     {140, 180, 200},
                                     {90, 40, 30},
                                     {40, 40, 160}}[rng.Int(0, 5)],
             rng, 12);
  c.upper = f[kLongCoat] ? coat_color : shirt;
  c.trousers = Jitter(kTrouserColors[rng.Int(0, 4)], rng, 10);
  c.skirt = Jitter(PickVividAwayFrom(c.skin, 110, rng), rng, 12);
  c.shoes = Jitter(cv::Scalar(25, 25, 25), rng, 10);
  c.hand_bag = Jitter(
      std::vector<cv::Scalar>{
          {200, 40, 220}, {120, 20, 200}, {60, 30, 230}}[rng.Int(0, 2)],
      rng, 12);
  c.shoulder_bag = Jitter(
      std::vector<cv::Scalar>{
          {0, 110, 230}, {20, 70, 150}, {0, 160, 255}}[rng.Int(0, 2)],
      rng, 12);
  c.backpack = Jitter(std::vector<cv::Scalar>{{40, 170, 40},
                                              {200, 110, 0},
                                              {120, 160, 0},
                                              {150, 60, 20}}[rng.Int(0, 3)],
                      rng, 12);
  c.object = Jitter(
      std::vector<cv::Scalar>{
          {250, 250, 250}, {170, 250, 255}, {255, 255, 190}}[rng.Int(0, 2)],
      rng, 5);
  c.hat = Jitter(std::vector<cv::Scalar>{{20, 20, 235},
                                         {235, 60, 0},
                                         {0, 230, 255},
                                         {0, 200, 0},
                                         {220, 0, 220}}[rng.Int(0, 4)],
                 rng, 10);
  return c;
}

// The figure of `f` in a w x h image.
Pedestrian MakePedestrian(const PedestrianFlags& f, int w, int h, Rng& rng) {
  Pedestrian ped;
  ped.f = f;
  const bool child = f[kAgeLess18];
  ped.elderly = f[kAgeOver60];
  ped.female = f[kFemale];
  ped.front = f[kFront];
  ped.side = f[kSide];
  ped.back = f[kBack];
  ped.hold = f[kHoldObjectsInFront];
  ped.p = ProportionsFor(child);
  ped.fig = PlaceFigure(w, h, child, ped.elderly, ped.side, rng);
  ped.colors = PickColors(f, ped.elderly, rng);

  const Proportions& p = ped.p;
  const double lean = ped.elderly ? rng.Uniform(0.03, 0.05) : 0.0;
  const double head_drop = ped.elderly && !ped.side ? 0.015 : 0.0;
  ped.head_x = ped.side ? lean * 1.3 : 0.0;
  ped.head_y = p.head_y + head_drop;
  ped.shoulder_x = ped.side ? lean : 0.0;
  ped.coat_hem = p.knee_y + 0.05;
  ped.skirt_hem = p.knee_y + 0.01;
  ped.pack_y = (p.shoulder_y + p.hip_y) / 2 - 0.03;
  return ped;
}

void DrawShadow(cv::Mat& img, const Pedestrian& ped) {
  const Figure& fig = ped.fig;
  Blend(img, 0.45, [&](cv::Mat& o) {
    cv::ellipse(o, fig.P(0, ped.p.ankle_y + 0.02),
                cv::Size(fig.Len(0.16), fig.Len(0.025)), 0, 0, 360,
                cv::Scalar(15, 15, 15), cv::FILLED, cv::LINE_AA);
  });
}

void DrawLegsAndSkirt(cv::Mat& img, const Pedestrian& ped) {
  const PedestrianFlags& f = ped.f;
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  const bool side = ped.side;
  const double leg_top =
      f[kLongCoat] ? ped.coat_hem - 0.03
                   : (f[kSkirtDress] ? ped.skirt_hem - 0.03 : p.hip_y);
  const cv::Scalar leg_color =
      (f[kSkirtDress] && !f[kLongCoat]) ? ped.colors.skin : ped.colors.trousers;
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
    const cv::Point shoe =
        fig.P(ankle_x + (side ? 0.03 : 0.0), p.ankle_y + 0.01);
    cv::ellipse(img, shoe,
                cv::Size(fig.Len(side ? 0.05 : 0.035), fig.Len(0.02)), 0, 0,
                360, ped.colors.shoes, cv::FILLED, cv::LINE_AA);
  }
  if (f[kSkirtDress] && !f[kLongCoat]) {
    // A wide trapezoid from the waist to the knees.
    const double sw = side ? p.side_w : p.hip_w;
    FillPoly(img,
             {fig.P(-sw, p.hip_y - 0.05), fig.P(sw, p.hip_y - 0.05),
              fig.P(sw + 0.1, ped.skirt_hem), fig.P(-sw - 0.1, ped.skirt_hem)},
             ped.colors.skirt);
  }
}

// What lies behind the torso: an object held in front seen from the back, a
// backpack seen from the front or side, long hair seen from the front or
// side.
void DrawBehindTorso(cv::Mat& img, const Pedestrian& ped) {
  const PedestrianFlags& f = ped.f;
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  // A big block sticking out on both sides of the torso.
  if (ped.hold && ped.back) {
    DrawBox(img, fig.P(0, ped.object_y), fig.Len(p.shoulder_w + 0.08),
            fig.Len(0.06), ped.colors.object);
  }
  // From the front the backpack shows on both sides of the torso, from the
  // side as a big block behind the back.
  if (f[kBackpack] && ped.front) {
    DrawBox(img, fig.P(0, ped.pack_y), fig.Len(p.shoulder_w + 0.055),
            fig.Len(0.15), ped.colors.backpack);
  }
  if (f[kBackpack] && ped.side) {
    const double bx = -(p.side_w + 0.07) + ped.shoulder_x * 0.5;
    DrawBox(img, fig.P(bx, ped.pack_y), fig.Len(0.085), fig.Len(0.15),
            ped.colors.backpack);
  }
  // Long hair behind the head, down past the shoulders.
  if (ped.female && !ped.back) {
    const double hx = ped.side ? ped.head_x - 0.04 : 0.0;
    FillPoly(img,
             {fig.P(hx - p.head_r * 1.25, ped.head_y - p.head_r * 0.4),
              fig.P(hx + p.head_r * 1.25, ped.head_y - p.head_r * 0.4),
              fig.P(hx + p.head_r * 1.5, p.shoulder_y + 0.11),
              fig.P(hx - p.head_r * 1.5, p.shoulder_y + 0.11)},
             ped.colors.hair);
  }
}

// The torso (shirt or coat) with the upper-body pattern; a coat gets its
// opening and a dark belt.
void DrawTorso(cv::Mat& img, const Pedestrian& ped, Rng& rng) {
  const PedestrianFlags& f = ped.f;
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  const cv::Scalar& upper = ped.colors.upper;
  const double shoulder_x = ped.shoulder_x;
  const double bottom = f[kLongCoat] ? ped.coat_hem : p.hip_y + 0.02;
  std::vector<cv::Point> torso;
  if (ped.side) {
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
    if (ped.front) {
      Line(img, fig.P(0, p.hip_y), fig.P(0, bottom), Scale(upper, 0.4),
           fig.Len(0.015));
    }
    const double bw = ped.side ? p.side_w : p.hip_w + 0.01;
    Line(img, fig.P(-bw, p.hip_y - 0.03), fig.P(bw, p.hip_y - 0.03),
         Scale(upper, 0.35), fig.Len(0.022));
  }
}

// What lies over the torso: long hair over the back; the backpack's straps
// (front), the pack over the back, or a strap over the shoulder (side); a
// shoulder bag's diagonal strap and the bag at the hip (+x in front and back
// views, in front of the hip in side view).
void DrawOverTorso(cv::Mat& img, const Pedestrian& ped) {
  const PedestrianFlags& f = ped.f;
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  const cv::Scalar& backpack = ped.colors.backpack;
  const double shoulder_x = ped.shoulder_x;
  const double pack_y = ped.pack_y;
  if (ped.female && ped.back) {
    FillPoly(
        img,
        {fig.P(-p.head_r * 1.2, ped.head_y), fig.P(p.head_r * 1.2, ped.head_y),
         fig.P(p.head_r * 1.5, p.shoulder_y + 0.13),
         fig.P(-p.head_r * 1.5, p.shoulder_y + 0.13)},
        ped.colors.hair);
  }
  if (f[kBackpack] && ped.front) {
    for (double sx : {-1.0, 1.0}) {
      Line(img, fig.P(sx * p.shoulder_w * 0.55, p.shoulder_y),
           fig.P(sx * p.shoulder_w * 0.5, p.shoulder_y + 0.22), backpack,
           fig.Len(0.035));
    }
  }
  if (f[kBackpack] && ped.back) {
    const cv::Point c = fig.P(0, pack_y + 0.02);
    DrawBox(img, c, fig.Len(p.shoulder_w * 0.85), fig.Len(0.16), backpack);
    Line(img, fig.P(-p.shoulder_w * 0.6, pack_y + 0.06),
         fig.P(p.shoulder_w * 0.6, pack_y + 0.06), Scale(backpack, 0.45),
         fig.Len(0.02));
  }
  if (f[kBackpack] && ped.side) {
    Line(img, fig.P(shoulder_x, p.shoulder_y),
         fig.P(-p.side_w * 0.3, p.shoulder_y + 0.2), backpack, fig.Len(0.03));
  }
  if (f[kShoulderBag]) {
    const cv::Scalar& shoulder_bag = ped.colors.shoulder_bag;
    const double bag_x = ped.side ? 0.06 : p.hip_w + 0.03;
    const double from_x =
        ped.side ? shoulder_x - p.side_w * 0.6 : -p.shoulder_w * 0.7;
    Line(img, fig.P(from_x, p.shoulder_y), fig.P(bag_x, p.hip_y - 0.05),
         Scale(shoulder_bag, 0.55), fig.Len(0.03));
    DrawBox(img, fig.P(bag_x, p.hip_y - 0.01), fig.Len(0.075), fig.Len(0.06),
            shoulder_bag);
  }
}

// One arm as shoulder, elbow and wrist points in figure units.
struct Arm {
  double sx, sy, ex, ey, wx, wy;
};

// The arms of the pose: hanging, or bent to hold an object in front.
std::vector<Arm> ArmsOf(const Pedestrian& ped) {
  const Proportions& p = ped.p;
  const double shoulder_x = ped.shoulder_x;
  const double object_y = ped.object_y;
  std::vector<Arm> arms;
  if (ped.side) {
    if (ped.hold) {
      arms.push_back({shoulder_x, p.shoulder_y + 0.02, shoulder_x + 0.02, 0.3,
                      0.16, object_y});
    } else {
      arms.push_back({shoulder_x, p.shoulder_y + 0.02, shoulder_x - 0.04, 0.34,
                      -0.05, 0.49});
    }
  } else {
    for (double sx : {-1.0, 1.0}) {
      const double s0 = sx * (p.shoulder_w - 0.01);
      if (ped.hold) {
        arms.push_back({s0, p.shoulder_y + 0.02, sx * (p.shoulder_w + 0.01),
                        0.31, sx * 0.08, object_y});
      } else {
        arms.push_back({s0, p.shoulder_y + 0.02, sx * (p.shoulder_w + 0.035),
                        0.34, sx * (p.shoulder_w + 0.045), 0.49});
      }
    }
  }
  return arms;
}

// The arms: upper arm in the upper garment's colour; forearm too for long
// sleeves, bare skin below a short sleeve. A held object is a big block in
// front of the chest, over the forearms; from behind only the upper arms
// show.
void DrawArms(cv::Mat& img, const Pedestrian& ped) {
  const PedestrianFlags& f = ped.f;
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  const cv::Scalar& upper = ped.colors.upper;
  const cv::Scalar& skin = ped.colors.skin;
  const bool side = ped.side;
  const cv::Scalar forearm = (f[kLongSleeve] || f[kLongCoat]) ? upper : skin;
  // In side view the arm is thinner so that the garment shows around it.
  const int arm_t = fig.Len(side ? p.arm * 0.7 : p.arm);
  const std::vector<Arm> arms = ArmsOf(ped);
  if (ped.hold && ped.back) {
    for (const Arm& a : arms) {
      Line(img, fig.P(a.sx, a.sy), fig.P(a.ex, a.ey), upper, arm_t);
    }
    return;
  }
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
  if (ped.hold) {
    DrawBox(img, fig.P(side ? 0.14 : 0.0, ped.object_y),
            fig.Len(side ? 0.09 : p.shoulder_w + 0.01), fig.Len(0.065),
            ped.colors.object);
  }
}

// A hand bag hanging low from one hand (-x in front and back views, behind
// the legs in side view).
void DrawHandBag(cv::Mat& img, const Pedestrian& ped) {
  if (!ped.f[kHandBag]) return;
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  const cv::Scalar& hand_bag = ped.colors.hand_bag;
  double hx, hy;
  if (ped.side) {
    hx = ped.hold ? -0.1 : -0.05;
    hy = 0.5;
  } else {
    hx = -(p.shoulder_w + 0.045);
    hy = ped.hold ? 0.5 : 0.49;
  }
  const cv::Point handle = fig.P(hx, hy);
  const cv::Point bag_c = fig.P(hx, hy + 0.11);
  Line(img, handle, fig.P(hx, hy + 0.05), Scale(hand_bag, 0.5), fig.Len(0.015));
  DrawBox(img, bag_c, fig.Len(0.075), fig.Len(0.07), hand_bag);
  Disc(img, handle, fig.Len(p.arm * 0.6), ped.colors.skin);
}

const cv::Scalar kDark(20, 20, 20);

// Neck and head: all hair from the back; in side view hair over the back
// half, nose and eye at the front; in front view a hair cap (long hair also
// frames the face), eyes and mouth.
void DrawHead(cv::Mat& img, const Pedestrian& ped) {
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  const cv::Scalar& skin = ped.colors.skin;
  const cv::Scalar& hair = ped.colors.hair;
  const double head_x = ped.head_x, head_y = ped.head_y;
  Line(img, fig.P(head_x * 0.5, head_y + p.head_r * 0.8),
       fig.P(ped.shoulder_x * 0.8, p.shoulder_y), skin,
       fig.Len(p.head_r * 0.8));
  const cv::Point head = fig.P(head_x, head_y);
  const int hr = fig.Len(p.head_r);
  if (ped.back) {
    Disc(img, head, hr, hair);
    return;
  }
  Disc(img, head, hr, skin);
  if (ped.side) {
    cv::ellipse(
        img, fig.P(head_x - p.head_r * 0.35, head_y - p.head_r * 0.2),
        cv::Size(static_cast<int>(hr * 0.9), static_cast<int>(hr * 0.9)), 0, 0,
        360, hair, cv::FILLED, cv::LINE_AA);
    FillPoly(img,
             {fig.P(head_x + p.head_r * 0.85, head_y - p.head_r * 0.25),
              fig.P(head_x + p.head_r * 1.4, head_y + p.head_r * 0.2),
              fig.P(head_x + p.head_r * 0.85, head_y + p.head_r * 0.35)},
             skin);
    Disc(img, fig.P(head_x + p.head_r * 0.5, head_y - p.head_r * 0.05),
         std::max(1, hr / 5), kDark);
    return;
  }
  cv::ellipse(img, fig.P(0, head_y - p.head_r * 0.3),
              cv::Size(static_cast<int>(hr * 1.05), static_cast<int>(hr * 0.8)),
              0, 180, 360, hair, cv::FILLED, cv::LINE_AA);
  if (ped.female) {
    for (double sx : {-1.0, 1.0}) {
      Line(img, fig.P(sx * p.head_r * 0.95, head_y - p.head_r * 0.3),
           fig.P(sx * p.head_r * 1.1, head_y + p.head_r * 1.5), hair,
           std::max(3, hr * 2 / 3));
    }
  }
  for (double sx : {-1.0, 1.0}) {
    Disc(img, fig.P(sx * p.head_r * 0.38, head_y + p.head_r * 0.05),
         std::max(1, hr / 5), kDark);
  }
  Line(img, fig.P(-p.head_r * 0.3, head_y + p.head_r * 0.55),
       fig.P(p.head_r * 0.3, head_y + p.head_r * 0.55), cv::Scalar(40, 40, 150),
       std::max(1, hr / 5));
}

// Glasses: a thick bright band across the eyes (front), over the front half
// of the head (side) or the strap across the back of the head.
void DrawGlasses(cv::Mat& img, const Pedestrian& ped) {
  if (!ped.f[kGlasses]) return;
  const cv::Point head = ped.fig.P(ped.head_x, ped.head_y);
  const int hr = ped.fig.Len(ped.p.head_r);
  const cv::Scalar lens(255, 255, 0);
  const int band = std::max(5, static_cast<int>(std::lround(hr * 0.75)));
  const int ft = std::max(1, band / 4);
  cv::Rect r;
  if (ped.front) {
    r = cv::Rect(head.x - hr * 11 / 10, head.y - band / 2, hr * 22 / 10, band);
  } else if (ped.side) {
    const int x0 = ped.fig.dir > 0 ? head.x - hr / 5 : head.x - hr * 13 / 10;
    r = cv::Rect(x0, head.y - band / 2, hr * 3 / 2, band);
  } else {
    r = cv::Rect(head.x - hr * 11 / 10, head.y - band / 2, hr * 22 / 10,
                 band * 2 / 3);
  }
  cv::rectangle(img, r, kDark, cv::FILLED);
  cv::rectangle(
      img, cv::Rect(r.x + ft, r.y + ft, r.width - 2 * ft, r.height - 2 * ft),
      ped.back ? cv::Scalar(0, 170, 255) : lens, cv::FILLED);
}

// Hat: a tall, saturated crown with a wide brim.
void DrawHat(cv::Mat& img, const Pedestrian& ped) {
  if (!ped.f[kHat]) return;
  const Proportions& p = ped.p;
  const Figure& fig = ped.fig;
  const cv::Scalar& hat = ped.colors.hat;
  const double head_x = ped.head_x, head_y = ped.head_y;
  const int hr = fig.Len(p.head_r);
  const cv::Point crown = fig.P(head_x, head_y - p.head_r * 0.35);
  cv::ellipse(img, crown,
              cv::Size(static_cast<int>(hr * 1.15), static_cast<int>(hr * 1.1)),
              0, 180, 360, hat, cv::FILLED, cv::LINE_AA);
  const int brim_t = std::max(3, hr * 2 / 5);
  if (ped.side) {
    Line(img, fig.P(head_x - p.head_r * 1.1, head_y - p.head_r * 0.35),
         fig.P(head_x + p.head_r * 1.9, head_y - p.head_r * 0.35),
         Scale(hat, 0.7), brim_t);
  } else {
    Line(img, fig.P(-p.head_r * 1.7, head_y - p.head_r * 0.35),
         fig.P(p.head_r * 1.7, head_y - p.head_r * 0.35), Scale(hat, 0.7),
         brim_t);
  }
}

}  // namespace

// The parts are drawn back to front, so that what is nearer the viewer
// covers what is behind it.
cv::Mat RenderPedestrian(const PedestrianFlags& f, Rng& rng) {
  const int w = rng.Int(64, 100);
  const int h = rng.Int(170, 230);
  cv::Mat img = Background(w, h, rng);
  const Pedestrian ped = MakePedestrian(f, w, h, rng);
  DrawShadow(img, ped);
  DrawLegsAndSkirt(img, ped);
  DrawBehindTorso(img, ped);
  DrawTorso(img, ped, rng);
  DrawOverTorso(img, ped);
  DrawArms(img, ped);
  DrawHandBag(img, ped);
  DrawHead(img, ped);
  DrawGlasses(img, ped);
  DrawHat(img, ped);
  Degrade(img, rng);
  return img;
}

}  // namespace datagen::internal
