// Fuzzes the safetensors reader (clip/safetensors.h) and the architecture
// inference that reads its header (clip/config.h).
//
// Invariants: every tensor of an accepted file has non-negative dimensions
// and exactly numel * dtype-size bytes inside the file; writing the tensors
// and metadata again with SafetensorsWriter gives a file that reads back
// with the same names, dtypes, shapes, bytes and metadata.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "clip/config.h"
#include "clip/safetensors.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto file = clip::SafetensorsFile::Parse(bytes, "fuzz");
  if (!file.ok()) {
    FUZZ_CHECK(file.status().code() == absl::StatusCode::kDataLoss)
        << file.status();
    FUZZ_CHECK(absl::StrContains(file.status().message(), "fuzz"))
        << file.status();
    return 0;
  }
  clip::SafetensorsWriter writer;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const std::string& name : file->names()) {
    auto view = file->Get(name);
    FUZZ_CHECK(view.ok()) << view.status();
    int64_t numel = 1;
    for (int64_t d : view->shape) {
      FUZZ_CHECK(d >= 0) << "tensor " << fuzz::Escaped(name) << " dim " << d;
      numel *= d;
    }
    FUZZ_CHECK(view->numel() == numel);
    FUZZ_CHECK(static_cast<uint64_t>(numel) * clip::DTypeSize(view->dtype) ==
               view->data.size())
        << fuzz::Escaped(name);
    FUZZ_CHECK(view->data.data() >= file->Get(name)->data.data());
    shapes[name] = view->shape;
    const absl::Status added =
        writer.Add(name, view->dtype, view->shape, view->data);
    FUZZ_CHECK(added.ok()) << added;
  }
  for (const auto& [key, value] : file->metadata()) {
    writer.SetMetadata(key, value);
  }
  auto again = clip::SafetensorsFile::Parse(writer.Serialize(), "written");
  FUZZ_CHECK(again.ok()) << again.status();
  FUZZ_CHECK(again->names() == file->names());
  FUZZ_CHECK(again->metadata() == file->metadata());
  for (const std::string& name : file->names()) {
    auto a = file->Get(name);
    auto b = again->Get(name);
    FUZZ_CHECK(b.ok()) << b.status();
    FUZZ_CHECK(a->dtype == b->dtype && a->shape == b->shape &&
               a->data == b->data)
        << fuzz::Escaped(name);
  }
  // The architecture is read from the same header; errors are fine, crashes
  // are not.
  auto inferred = clip::InferConfig(shapes, file->metadata());
  auto from_metadata =
      clip::ConfigFromMetadata(file->metadata(), clip::ClipConfig());
  (void)inferred;
  (void)from_metadata;
  return 0;
}
