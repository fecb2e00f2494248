#include "clip/precision.h"

#include "common/cpu_features.h"
#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

TEST(PrecisionTest, ParsesNamesAndAliases) {
  EXPECT_EQ(*ParsePrecision("fp32"), Precision::kFp32);
  EXPECT_EQ(*ParsePrecision("Float32"), Precision::kFp32);
  EXPECT_EQ(*ParsePrecision("bf16"), Precision::kBf16);
  EXPECT_EQ(*ParsePrecision("BFLOAT16"), Precision::kBf16);
  EXPECT_EQ(*ParsePrecision("fp16"), Precision::kFp16);
  EXPECT_EQ(*ParsePrecision("auto"), Precision::kAuto);
  EXPECT_THAT(
      ParsePrecision("int8").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'int8'")));
  EXPECT_THAT(
      ParsePrecision("").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("auto, fp32")));
}

TEST(PrecisionTest, NamesRoundTrip) {
  for (Precision p : {Precision::kAuto, Precision::kFp32, Precision::kBf16,
                      Precision::kFp16}) {
    EXPECT_EQ(*ParsePrecision(PrecisionName(p)), p);
  }
}

TEST(PrecisionTest, AutoFollowsTheCpu) {
  const Precision expected = common::GetCpuFeatures().native_bf16()
                                 ? Precision::kBf16
                                 : Precision::kFp32;
  EXPECT_EQ(*ResolvePrecision(Precision::kAuto, "cpu"), expected);
  EXPECT_EQ(*ResolvePrecision(Precision::kFp32, "cpu"), Precision::kFp32);
  EXPECT_EQ(*ResolvePrecision(Precision::kBf16, "cpu"), Precision::kBf16);
}

TEST(PrecisionTest, Fp16IsForCudaOnly) {
  EXPECT_THAT(ResolvePrecision(Precision::kFp16, "cpu").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CUDA")));
  EXPECT_EQ(*ResolvePrecision(Precision::kFp16, "cuda:0"), Precision::kFp16);
  EXPECT_EQ(*ResolvePrecision(Precision::kAuto, "cuda"), Precision::kFp16);
  EXPECT_EQ(*ResolvePrecision(Precision::kBf16, "cuda:1"), Precision::kBf16);
}

TEST(PrecisionTest, DescribeSaysWhatWasAskedAndWhatRuns) {
  const std::string line =
      DescribePrecision(Precision::kAuto, Precision::kBf16);
  EXPECT_THAT(line, HasSubstr("precision bf16"));
  EXPECT_THAT(line, HasSubstr("asked auto"));
  EXPECT_THAT(line, HasSubstr(common::GetCpuFeatures().Describe()));
}

}  // namespace
}  // namespace clip
