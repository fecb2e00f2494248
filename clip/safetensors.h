// Reading and writing the safetensors format without LibTorch.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
// "__metadata__": {"k": "v"}}), then the raw little-endian C-order bytes;
// offsets are relative to the start of the data section.
//
// Thread safety: a SafetensorsFile is immutable after Read/Parse and may be
// shared between threads.
#ifndef CLIP_SAFETENSORS_H_
#define CLIP_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clip {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "I64", ...; the names safetensors uses.
absl::string_view DTypeName(DType dtype);
absl::StatusOr<DType> ParseDType(absl::string_view name);
size_t DTypeSize(DType dtype);

// A tensor inside a SafetensorsFile; `data` points into the file's buffer.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  absl::string_view data;

  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Reads and validates `path`. Errors name the file and, where it applies,
  // the tensor: DATA_LOSS for a truncated file or corrupt header,
  // NOT_FOUND for a missing file.
  static absl::StatusOr<SafetensorsFile> Read(const std::string& path);
  // Reads the header of `path` and the bytes of only the tensors named in
  // `names` (one pread each), not the rest of the file: a few small tensors
  // of a large file without reading it whole. The header is checked as Read
  // checks it, every tensor's byte range against the file's size. Names
  // the file lacks are skipped; names(), contains() and Get() see only the
  // tensors read (Get() of any other is NOT_FOUND), metadata() is complete.
  // Errors as Read's: NOT_FOUND for a missing file, DATA_LOSS naming the
  // file (and the tensor) for a corrupt header or a tensor past the end.
  static absl::StatusOr<SafetensorsFile> ReadTensors(
      const std::string& path, const std::vector<std::string>& names);
  // Parses bytes already in memory; `source` names them in errors.
  static absl::StatusOr<SafetensorsFile> Parse(std::string bytes,
                                               std::string source);

  const std::string& source() const { return source_; }
  const std::map<std::string, std::string>& metadata() const {
    return metadata_;
  }
  // Names in sorted order.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const {
    return tensors_.count(name) > 0;
  }
  // NOT_FOUND naming the tensor and the file when absent.
  absl::StatusOr<TensorView> Get(const std::string& name) const;

  // Copies a tensor out as a typed vector. The dtype must match exactly
  // (kF32 -> float, kI64 -> int64_t, kI32 -> int32_t), else
  // INVALID_ARGUMENT naming tensor and file.
  absl::StatusOr<std::vector<float>> GetF32(const std::string& name) const;
  absl::StatusOr<std::vector<int64_t>> GetI64(const std::string& name) const;
  absl::StatusOr<std::vector<int32_t>> GetI32(const std::string& name) const;

 private:
  std::string source_;
  std::shared_ptr<const std::string> bytes_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> tensors_;
};

// Collects tensors and writes them in the standard layout (sorted keys, header
// padded with spaces to a multiple of 8), atomically.
class SafetensorsWriter {
 public:
  // `data` must hold exactly numel(shape) * DTypeSize(dtype) bytes; the bytes
  // are copied. INVALID_ARGUMENT for a size mismatch or a duplicate name.
  absl::Status Add(const std::string& name, DType dtype,
                   std::vector<int64_t> shape, absl::string_view data);
  void SetMetadata(const std::string& key, const std::string& value) {
    metadata_[key] = value;
  }
  // The serialised file.
  std::string Serialize() const;
  // Serialises and writes atomically to `path`.
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::string data;
  };
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace clip

#endif  // CLIP_SAFETENSORS_H_
