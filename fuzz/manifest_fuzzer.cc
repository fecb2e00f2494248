// Fuzzes the manifest reader (index/manifest.h).
//
// Invariants: an accepted manifest has kManifestFormat and file names that
// stay inside the version directory; it serialises, the JSON reads back,
// and serialising that gives the same JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "common/path_util.h"
#include "fuzz/fuzz_check.h"
#include "index/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  auto manifest = gallery::ManifestFromJson(json, "fuzz");
  if (!manifest.ok()) {
    const absl::StatusCode code = manifest.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
               code == absl::StatusCode::kDataLoss)
        << manifest.status();
    FUZZ_CHECK(absl::StartsWith(manifest.status().message(), "fuzz:"))
        << manifest.status();
    return 0;
  }
  FUZZ_CHECK(manifest->format == gallery::kManifestFormat);
  for (const std::string* name :
       {&manifest->weights_file, &manifest->index_file,
        &manifest->images_file}) {
    FUZZ_CHECK(common::CheckRelativeName(*name).ok()) << fuzz::Escaped(*name);
  }
  const std::string written = gallery::ManifestToJson(*manifest);
  auto again = gallery::ManifestFromJson(written, "written");
  FUZZ_CHECK(again.ok()) << again.status() << " " << fuzz::Escaped(written);
  const std::string rewritten = gallery::ManifestToJson(*again);
  FUZZ_CHECK(rewritten == written)
      << fuzz::Escaped(written) << " vs " << fuzz::Escaped(rewritten);
  return 0;
}
