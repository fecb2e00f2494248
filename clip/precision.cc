#include "clip/precision.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/cpu_features.h"

namespace clip {

absl::StatusOr<Precision> ParsePrecision(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "auto") return Precision::kAuto;
  if (n == "fp32" || n == "float32") return Precision::kFp32;
  if (n == "bf16" || n == "bfloat16") return Precision::kBf16;
  if (n == "fp16" || n == "float16") return Precision::kFp16;
  return absl::InvalidArgumentError(absl::StrCat(
      "precision '", name, "' is not one of auto, fp32, bf16, fp16"));
}

std::string PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kAuto:
      return "auto";
    case Precision::kFp32:
      return "fp32";
    case Precision::kBf16:
      return "bf16";
    case Precision::kFp16:
      return "fp16";
  }
  return "unknown";
}

absl::StatusOr<Precision> ResolvePrecision(Precision requested,
                                           absl::string_view device) {
  const bool cuda = absl::StartsWith(device, "cuda");
  if (cuda) {
    return requested == Precision::kAuto ? Precision::kFp16 : requested;
  }
  switch (requested) {
    case Precision::kAuto:
      return common::GetCpuFeatures().native_bf16() ? Precision::kBf16
                                                    : Precision::kFp32;
    case Precision::kFp16:
      return absl::InvalidArgumentError(
          absl::StrCat("precision fp16 needs a CUDA device; device is '",
                       device, "' (use bf16 or fp32 on CPUs)"));
    default:
      return requested;
  }
}

std::string DescribePrecision(Precision requested, Precision resolved) {
  return absl::StrCat("precision ", PrecisionName(resolved), " (asked ",
                      PrecisionName(requested), "; cpu offers ",
                      common::GetCpuFeatures().Describe(), ")");
}

}  // namespace clip
