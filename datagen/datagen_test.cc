#include "datagen/datagen.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opencv2/imgcodecs.hpp"
#include "tests/tiny_dataset.h"

namespace datagen {
namespace {

namespace fs = std::filesystem;
using ::common_testing::StatusIs;
using ::testing::HasSubstr;

// A fresh, not yet existing path under the test's temporary directory.
std::string FreshPath(const std::string& name) {
  static std::atomic<int> counter{0};
  const std::string path = absl::StrCat(::testing::TempDir(), "/datagen_test_",
                                        name, "_", counter.fetch_add(1));
  fs::remove_all(path);
  return path;
}

DatagenOptions SmallOptions(const std::string& dir) {
  DatagenOptions o = tests::TinyDatasetOptions(dir, /*train_size=*/48,
                                               /*val_size=*/12,
                                               /*test_size=*/24);
  o.seed = 42;
  o.vehicle_pool_size = 12;
  o.pedestrian_pool_size = 10;
  o.pedestrian_caption_variants = 3;
  return o;
}

// Relative path -> contents of every regular file under `root`.
std::map<std::string, std::string> ReadTree(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    absl::StatusOr<std::string> bytes = common::ReadFile(entry.path().string());
    EXPECT_OK(bytes);
    files[fs::relative(entry.path(), root).string()] = bytes.value_or("");
  }
  return files;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  EXPECT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "") << "file must end with a newline";
  lines.pop_back();
  return lines;
}

bool IsVehicleName(const std::string& name) {
  if (name.size() != 14 || !absl::EndsWith(name, ".jpg")) return false;
  return std::all_of(name.begin(), name.begin() + 10,
                     [](char c) { return c >= 'a' && c <= 'z'; });
}

bool IsPedestrianName(const std::string& name) {
  if (name.size() != 10 || !absl::EndsWith(name, ".jpg")) return false;
  return std::all_of(name.begin(), name.begin() + 6,
                     [](char c) { return c >= '0' && c <= '9'; });
}

// Checks one label file against the competition format and the images in
// `images_dir`; returns the parsed lines.
std::vector<std::vector<std::string>> CheckLabelFile(
    const std::string& path, const std::string& images_dir) {
  absl::StatusOr<std::string> text = common::ReadFile(path);
  EXPECT_OK(text);
  std::vector<std::vector<std::string>> out;
  int line_no = 0;
  for (const std::string& line : Lines(text.value_or(""))) {
    ++line_no;
    SCOPED_TRACE(absl::StrCat(path, ":", line_no, ": ", line));
    std::vector<std::string> fields = absl::StrSplit(line, '$');
    EXPECT_EQ(fields.size(), 3u);
    if (fields.size() != 3) continue;
    const std::string& name = fields[0];
    const std::string& attr = fields[1];
    const std::string& text_field = fields[2];
    EXPECT_TRUE(fs::is_regular_file(images_dir + "/" + name));
    if (IsVehicleName(name)) {
      absl::StatusOr<VehicleAttribute> v = ParseVehicleAttribute(attr);
      EXPECT_OK(v);
      if (!v.ok()) continue;
      if (v->color >= 0) {
        EXPECT_THAT(text_field, HasSubstr(VehicleColorNames()[v->color]));
      }
      if (v->brand >= 0) {
        EXPECT_THAT(text_field, HasSubstr(VehicleBrandNames()[v->brand]));
      } else {
        EXPECT_THAT(text_field, HasSubstr(VehicleTypeNames()[v->type]));
      }
    } else {
      EXPECT_TRUE(IsPedestrianName(name));
      absl::StatusOr<PedestrianFlags> f = ParsePedestrianAttribute(attr);
      EXPECT_OK(f);  // also checks one age, one orientation, one sleeve
      if (!f.ok()) continue;
      if ((*f)[kFemale]) {
        EXPECT_TRUE(absl::StrContains(text_field, "female") ||
                    absl::StrContains(text_field, "woman"));
      } else {
        EXPECT_FALSE(absl::StrContains(text_field, "female") ||
                     absl::StrContains(text_field, "woman"));
      }
      if ((*f)[kHat]) {
        EXPECT_THAT(text_field, HasSubstr("hat"));
      }
      if ((*f)[kGlasses]) {
        EXPECT_THAT(text_field, HasSubstr("glasses"));
      }
      if ((*f)[kBackpack]) {
        EXPECT_THAT(text_field, HasSubstr("backpack"));
      }
    }
    out.push_back(fields);
  }
  return out;
}

TEST(ValidateDatagenOptionsTest, AcceptsDefaults) {
  DatagenOptions o;
  o.output_dir = "/tmp/x";
  EXPECT_OK(ValidateDatagenOptions(o));
}

TEST(ValidateDatagenOptionsTest, NamesTheBadField) {
  struct Case {
    void (*mutate)(DatagenOptions&);
    const char* field;
  };
  const Case cases[] = {
      {[](DatagenOptions& o) { o.output_dir = ""; }, "output_dir"},
      {[](DatagenOptions& o) { o.train_size = 0; }, "train_size"},
      {[](DatagenOptions& o) { o.val_size = -1; }, "val_size"},
      {[](DatagenOptions& o) { o.test_size = 0; }, "test_size"},
      {[](DatagenOptions& o) { o.train_size = 600000; }, "train_size +"},
      {[](DatagenOptions& o) { o.num_queries = -2; }, "num_queries"},
      {[](DatagenOptions& o) { o.vehicle_fraction = 1.5; }, "vehicle_fraction"},
      {[](DatagenOptions& o) { o.vehicle_pool_size = 0; }, "vehicle_pool_size"},
      {[](DatagenOptions& o) { o.pedestrian_pool_size = 6000; },
       "pedestrian_pool_size"},
      {[](DatagenOptions& o) { o.pedestrian_caption_variants = 0; },
       "pedestrian_caption_variants"},
      {[](DatagenOptions& o) { o.jpeg_quality = 20; }, "jpeg_quality"},
      {[](DatagenOptions& o) { o.threads = 0; }, "threads"},
  };
  for (const Case& c : cases) {
    DatagenOptions o;
    o.output_dir = "/tmp/x";
    c.mutate(o);
    EXPECT_THAT(
        ValidateDatagenOptions(o),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.field;
  }
}

TEST(PoolTest, VehiclePoolIsDistinctValidAndMixesForms) {
  const std::vector<AttributeSet> pool = MakeVehiclePool(40, 3);
  ASSERT_EQ(pool.size(), 40u);
  std::set<std::string> attrs;
  std::map<int, std::set<int>> colors_of_brand;
  int type_only = 0, brand_only = 0;
  for (const AttributeSet& s : pool) {
    ASSERT_EQ(s.kind, SampleKind::kVehicle);
    ASSERT_OK(ValidateVehicleAttribute(s.vehicle));
    attrs.insert(AttributeString(s));
    if (s.vehicle.brand < 0) {
      ++type_only;
    } else if (s.vehicle.color < 0) {
      ++brand_only;
    } else {
      colors_of_brand[s.vehicle.brand].insert(s.vehicle.color);
    }
  }
  EXPECT_EQ(attrs.size(), 40u);
  EXPECT_EQ(type_only, 4);
  EXPECT_EQ(brand_only, 2);
  // Few brands, several colours each: brand and colour must both be learnt.
  EXPECT_LE(colors_of_brand.size(), 12u);
  int multi_color_brands = 0;
  for (const auto& [brand, colors] : colors_of_brand) {
    multi_color_brands += colors.size() > 1;
  }
  EXPECT_GE(multi_color_brands, 5);
  // Same seed, same pool; another seed, another pool.
  std::vector<std::string> again, other;
  for (const AttributeSet& s : MakeVehiclePool(40, 3)) {
    again.push_back(AttributeString(s));
  }
  for (const AttributeSet& s : MakeVehiclePool(40, 4)) {
    other.push_back(AttributeString(s));
  }
  std::vector<std::string> first;
  for (const AttributeSet& s : pool) first.push_back(AttributeString(s));
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
}

TEST(PoolTest, PedestrianPoolIsDistinctAndConsistent) {
  const std::vector<AttributeSet> pool = MakePedestrianPool(200, 5);
  ASSERT_EQ(pool.size(), 200u);
  std::set<std::string> attrs;
  int flag_count[kNumPedestrianFlags] = {};
  for (const AttributeSet& s : pool) {
    ASSERT_EQ(s.kind, SampleKind::kPedestrian);
    const PedestrianFlags& f = s.pedestrian;
    ASSERT_OK(ValidatePedestrianFlags(f));
    attrs.insert(AttributeString(s));
    if (f[kLongCoat]) {
      EXPECT_TRUE(f[kLongSleeve]);
    }
    if (f[kSkirtDress]) {
      EXPECT_TRUE(f[kFemale] && !f[kLongCoat]);
    }
    EXPECT_LE(
        f[kHandBag] + f[kShoulderBag] + f[kBackpack] + f[kHoldObjectsInFront],
        2);
    EXPECT_LE(
        f[kUpperStride] + f[kUpperLogo] + f[kUpperPlaid] + f[kUpperSplice], 1);
    for (int i = 0; i < kNumPedestrianFlags; ++i) flag_count[i] += f[i];
  }
  EXPECT_EQ(attrs.size(), 200u);
  // Every flag occurs in a pool of this size.
  for (int i = 0; i < kNumPedestrianFlags; ++i) {
    EXPECT_GT(flag_count[i], 0) << PedestrianFlagNames()[i];
  }
}

TEST(RenderTest, ImagesHaveTheDocumentedSizesAndAreDeterministic) {
  const std::vector<AttributeSet> vehicles = MakeVehiclePool(40, 1);
  const std::vector<AttributeSet> pedestrians = MakePedestrianPool(40, 1);
  for (int i = 0; i < 40; ++i) {
    const cv::Mat v = RenderImage(vehicles[i], 1000 + i);
    ASSERT_EQ(v.type(), CV_8UC3);
    EXPECT_GE(v.cols, 130);
    EXPECT_LE(v.cols, 200);
    EXPECT_GE(v.rows, 100);
    EXPECT_LE(v.rows, 140);
    EXPECT_GT(v.cols, v.rows);
    const cv::Mat p = RenderImage(pedestrians[i], 2000 + i);
    ASSERT_EQ(p.type(), CV_8UC3);
    EXPECT_GE(p.cols, 64);
    EXPECT_LE(p.cols, 100);
    EXPECT_GE(p.rows, 170);
    EXPECT_LE(p.rows, 230);
  }
  const cv::Mat a = RenderImage(pedestrians[0], 7);
  const cv::Mat b = RenderImage(pedestrians[0], 7);
  const cv::Mat c = RenderImage(pedestrians[0], 8);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_TRUE(a.size() != c.size() || cv::norm(a, c, cv::NORM_INF) > 0.0);
}

// The attribute is drawn, not just written down: the same seed with another
// vehicle colour or pedestrian flag changes the pixels.
TEST(RenderTest, AttributesChangeThePixels) {
  AttributeSet red, blue;
  red.vehicle = {8, 0, BrandVehicleType(0)};   // red Audi
  blue.vehicle = {1, 0, BrandVehicleType(0)};  // blue Audi
  const cv::Mat r = RenderImage(red, 5), b = RenderImage(blue, 5);
  ASSERT_EQ(r.size(), b.size());
  EXPECT_GT(cv::norm(r, b, cv::NORM_L1) / r.total(), 5.0);

  absl::StatusOr<PedestrianFlags> base =
      ParsePedestrianAttribute("0,0,1,0,1,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0");
  ASSERT_OK(base);
  for (int flag :
       {kHat, kGlasses, kHandBag, kShoulderBag, kBackpack, kHoldObjectsInFront,
        kUpperStride, kUpperLogo, kUpperPlaid, kUpperSplice, kLongCoat}) {
    AttributeSet plain, with;
    plain.kind = with.kind = SampleKind::kPedestrian;
    plain.pedestrian = with.pedestrian = *base;
    with.pedestrian[flag] = true;
    if (flag == kLongCoat) {
      with.pedestrian[kShortSleeve] = false;
      with.pedestrian[kLongSleeve] = true;
    }
    const cv::Mat p = RenderImage(plain, 9), w = RenderImage(with, 9);
    ASSERT_EQ(p.size(), w.size());
    EXPECT_GT(cv::norm(p, w, cv::NORM_L1), 0.0) << PedestrianFlagNames()[flag];
  }
}

TEST(RenderTest, SampleCarriesLabelFieldsAndJpegRoundTrips) {
  const std::vector<AttributeSet> pool = MakePedestrianPool(3, 2);
  const Sample s = RenderSample(pool[0], 11, 5);
  EXPECT_EQ(s.attribute, PedestrianAttributeString(pool[0].pedestrian));
  ASSERT_EQ(s.captions.size(), 5u);
  for (int v = 0; v < 5; ++v) {
    EXPECT_EQ(s.captions[v], PedestrianCaption(pool[0].pedestrian, v));
  }
  absl::StatusOr<std::string> jpeg = EncodeJpeg(s.image, 90);
  ASSERT_OK(jpeg);
  ASSERT_GE(jpeg->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*jpeg)[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>((*jpeg)[1]), 0xD8);
  std::vector<uchar> buf(jpeg->begin(), jpeg->end());
  const cv::Mat decoded = cv::imdecode(buf, cv::IMREAD_COLOR);
  ASSERT_FALSE(decoded.empty());
  EXPECT_EQ(decoded.size(), s.image.size());
  // Lossy but close.
  EXPECT_LT(cv::norm(decoded, s.image, cv::NORM_L1) / s.image.total(), 30.0);
  absl::StatusOr<std::string> again = EncodeJpeg(s.image, 90);
  ASSERT_OK(again);
  EXPECT_EQ(*jpeg, *again);
}

TEST(PlanTest, SplitsNamesAndQueries) {
  DatagenOptions o = SmallOptions("/unused");
  absl::StatusOr<DatasetPlan> plan = PlanDataset(o);
  ASSERT_OK(plan);
  EXPECT_EQ(plan->pool.size(), 22u);
  EXPECT_EQ(plan->train.size(), 48u);
  EXPECT_EQ(plan->val.size(), 12u);
  EXPECT_EQ(plan->test.size(), 24u);
  std::set<std::string> names;
  std::map<int, int> train_count;
  int train_vehicles = 0;
  for (const auto* split : {&plan->train, &plan->val, &plan->test}) {
    for (const PlannedImage& image : *split) {
      EXPECT_TRUE(names.insert(image.name).second) << image.name;
      const AttributeSet& set = plan->pool[image.attribute_set];
      if (set.kind == SampleKind::kVehicle) {
        EXPECT_TRUE(IsVehicleName(image.name)) << image.name;
      } else {
        EXPECT_TRUE(IsPedestrianName(image.name)) << image.name;
      }
      EXPECT_GE(image.jpeg_quality, 75);
      EXPECT_LE(image.jpeg_quality, 90);
      EXPECT_LT(image.caption_variant, NumCaptionVariants(set, 3));
    }
  }
  for (const PlannedImage& image : plan->train) {
    ++train_count[image.attribute_set];
    train_vehicles +=
        plan->pool[image.attribute_set].kind == SampleKind::kVehicle;
  }
  EXPECT_EQ(train_vehicles, 24);
  // Balanced: 24 vehicles over 12 sets and 24 pedestrians over 10 sets.
  for (int i = 0; i < 22; ++i) {
    EXPECT_GE(train_count[i], 2) << i;
    EXPECT_LE(train_count[i], 3) << i;
  }
  // Queries: distinct test captions.
  std::set<std::string> test_captions;
  for (const PlannedImage& image : plan->test) {
    test_captions.insert(
        Caption(plan->pool[image.attribute_set], image.caption_variant));
  }
  EXPECT_EQ(plan->queries.size(), test_captions.size());
  EXPECT_EQ(std::set<std::string>(plan->queries.begin(), plan->queries.end()),
            test_captions);

  o.num_queries = 5;
  absl::StatusOr<DatasetPlan> sampled = PlanDataset(o);
  ASSERT_OK(sampled);
  ASSERT_EQ(sampled->queries.size(), 5u);
  for (const std::string& q : sampled->queries) {
    EXPECT_EQ(test_captions.count(q), 1u) << q;
  }
  // The rest of the plan does not depend on num_queries.
  EXPECT_EQ(LabelLine(*sampled, sampled->test[3]),
            LabelLine(*plan, plan->test[3]));
}

TEST(PlanTest, RejectsBadOptions) {
  DatagenOptions o = SmallOptions("/unused");
  o.vehicle_fraction = -0.1;
  EXPECT_THAT(PlanDataset(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("vehicle_fraction")));
}

TEST(GenerateDatasetTest, WritesTheCompetitionLayout) {
  const std::string dir = FreshPath("layout");
  ASSERT_OK(GenerateDataset(SmallOptions(dir)));
  for (const char* f :
       {"train/train_label.txt", "val/val_label.txt", "test/test_text.txt",
        "test/test_label.txt", "manifest.txt"}) {
    EXPECT_TRUE(fs::is_regular_file(dir + "/" + f)) << f;
  }
  const auto train =
      CheckLabelFile(dir + "/train/train_label.txt", dir + "/train/images");
  const auto val =
      CheckLabelFile(dir + "/val/val_label.txt", dir + "/val/images");
  const auto test =
      CheckLabelFile(dir + "/test/test_label.txt", dir + "/test/images");
  EXPECT_EQ(train.size(), 48u);
  EXPECT_EQ(val.size(), 12u);
  EXPECT_EQ(test.size(), 24u);
  // Exactly the labelled images are on disk, and each decodes at a size in
  // the documented range.
  for (const auto& [split, rows] :
       std::vector<std::pair<std::string, decltype(train)>>{
           {"train", train}, {"val", val}, {"test", test}}) {
    int files = 0;
    for (const auto& e :
         fs::directory_iterator(dir + "/" + split + "/images")) {
      (void)e;
      ++files;
    }
    EXPECT_EQ(files, static_cast<int>(rows.size())) << split;
    for (const auto& row : rows) {
      const cv::Mat img =
          cv::imread(dir + "/" + split + "/images/" + row[0], cv::IMREAD_COLOR);
      ASSERT_FALSE(img.empty()) << row[0];
      if (IsVehicleName(row[0])) {
        EXPECT_TRUE(img.cols >= 130 && img.cols <= 200 && img.rows >= 100 &&
                    img.rows <= 140)
            << row[0] << " " << img.size();
      } else {
        EXPECT_TRUE(img.cols >= 64 && img.cols <= 100 && img.rows >= 170 &&
                    img.rows <= 230)
            << row[0] << " " << img.size();
      }
    }
  }
  // Val and test use the train pools.
  std::set<std::string> train_attrs;
  for (const auto& row : train) train_attrs.insert(row[1]);
  for (const auto& row : val) EXPECT_EQ(train_attrs.count(row[1]), 1u);
  for (const auto& row : test) EXPECT_EQ(train_attrs.count(row[1]), 1u);
  // Every query is the text of some gallery label, so it has ground truth.
  absl::StatusOr<std::string> queries =
      common::ReadFile(dir + "/test/test_text.txt");
  ASSERT_OK(queries);
  std::set<std::string> test_texts;
  for (const auto& row : test) test_texts.insert(row[2]);
  const std::vector<std::string> query_lines = Lines(*queries);
  EXPECT_EQ(query_lines.size(), test_texts.size());
  for (const std::string& q : query_lines) EXPECT_EQ(test_texts.count(q), 1u);
  absl::StatusOr<std::string> manifest =
      common::ReadFile(dir + "/manifest.txt");
  ASSERT_OK(manifest);
  EXPECT_THAT(*manifest, HasSubstr("seed=42\n"));
  EXPECT_THAT(*manifest, HasSubstr("train_size=48\n"));
  EXPECT_THAT(*manifest, HasSubstr("test_size=24\n"));
  // No temporary directory left beside the output.
  for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path())) {
    EXPECT_FALSE(absl::StrContains(e.path().filename().string(),
                                   fs::path(dir).filename().string() + ".tmp"))
        << e.path();
  }
}

TEST(GenerateDatasetTest, SameSeedSameBytesWhateverTheThreadCount) {
  const std::string one = FreshPath("threads1");
  const std::string two = FreshPath("threads2");
  const std::string other = FreshPath("seed43");
  DatagenOptions o = SmallOptions(one);
  o.threads = 1;
  ASSERT_OK(GenerateDataset(o));
  o.output_dir = two;
  o.threads = 2;
  ASSERT_OK(GenerateDataset(o));
  o.output_dir = other;
  o.seed = 43;
  ASSERT_OK(GenerateDataset(o));

  const auto a = ReadTree(one);
  const auto b = ReadTree(two);
  EXPECT_EQ(a.size(), 48u + 12u + 24u + 5u);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [path, bytes] : a) {
    auto it = b.find(path);
    ASSERT_NE(it, b.end()) << path;
    EXPECT_TRUE(it->second == bytes) << path << " differs";
  }
  const auto c = ReadTree(other);
  EXPECT_NE(a.at("train/train_label.txt"), c.at("train/train_label.txt"));
  EXPECT_NE(a.at("test/test_text.txt"), c.at("test/test_text.txt"));
}

TEST(GenerateDatasetTest, RefusesToOverwriteUnlessAsked) {
  const std::string dir = FreshPath("overwrite");
  ASSERT_OK(common::MakeDirs(dir));
  ASSERT_OK(common::WriteFileAtomically(dir + "/keep.txt", "precious"));
  DatagenOptions o = SmallOptions(dir);
  EXPECT_THAT(GenerateDataset(o),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(dir)));
  EXPECT_TRUE(fs::exists(dir + "/keep.txt"));
  EXPECT_FALSE(fs::exists(dir + "/manifest.txt"));

  o.overwrite = true;
  ASSERT_OK(GenerateDataset(o));
  EXPECT_FALSE(fs::exists(dir + "/keep.txt"));
  EXPECT_TRUE(fs::exists(dir + "/train/train_label.txt"));
  // Nothing left over from the swap.
  for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path())) {
    const std::string name = e.path().filename().string();
    EXPECT_FALSE(
        absl::StartsWith(name, fs::path(dir).filename().string() + ".tmp"))
        << name;
  }
}

TEST(GenerateDatasetTest, FillsAnEmptyDirectory) {
  const std::string dir = FreshPath("empty");
  ASSERT_OK(common::MakeDirs(dir));
  ASSERT_OK(GenerateDataset(SmallOptions(dir)));
  EXPECT_TRUE(fs::exists(dir + "/test/test_text.txt"));
}

TEST(GenerateDatasetTest, RejectsAFileAsOutputDir) {
  const std::string path = FreshPath("file");
  ASSERT_OK(common::WriteFileAtomically(path, "x"));
  DatagenOptions o = SmallOptions(path);
  o.overwrite = true;
  EXPECT_THAT(GenerateDataset(o),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not a directory")));
}

TEST(GenerateDatasetTest, InvalidOptionsWriteNothing) {
  const std::string dir = FreshPath("invalid");
  DatagenOptions o = SmallOptions(dir);
  o.threads = 0;
  EXPECT_THAT(GenerateDataset(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("threads")));
  EXPECT_FALSE(fs::exists(dir));
}

TEST(GenerateDatasetTest, UnwritableParentFailsAndCleansUp) {
  if (::geteuid() == 0) {
    // root ignores directory permissions; use a path under a file instead.
    const std::string file = FreshPath("parent_is_file");
    ASSERT_OK(common::WriteFileAtomically(file, "x"));
    const absl::Status st = GenerateDataset(SmallOptions(file + "/data"));
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(st.message(), HasSubstr(file));
    return;
  }
  const std::string parent = FreshPath("readonly");
  ASSERT_OK(common::MakeDirs(parent));
  fs::permissions(parent, fs::perms::owner_read | fs::perms::owner_exec);
  const absl::Status st = GenerateDataset(SmallOptions(parent + "/data"));
  fs::permissions(parent, fs::perms::owner_all);
  EXPECT_THAT(st,
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(parent)));
  EXPECT_TRUE(fs::is_empty(parent));
}

}  // namespace
}  // namespace datagen
