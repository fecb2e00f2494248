#include "clip/safetensors.h"

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace clip {
namespace {

struct DTypeInfo {
  DType dtype;
  absl::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8},   {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

// Upper bound on the JSON header; real headers of very large models are a
// few hundred KiB.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

template <typename T>
absl::StatusOr<std::vector<T>> CopyAs(const SafetensorsFile& file,
                                      const std::string& name, DType want) {
  ASSIGN_OR_RETURN(TensorView view, file.Get(name));
  if (view.dtype != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", name, "' in ", file.source(), " has dtype ",
                     DTypeName(view.dtype), ", expected ", DTypeName(want)));
  }
  std::vector<T> out(static_cast<size_t>(view.numel()));
  if (!out.empty()) std::memcpy(out.data(), view.data.data(), view.data.size());
  return out;
}

}  // namespace

absl::string_view DTypeName(DType dtype) {
  for (const auto& info : kDTypes) {
    if (info.dtype == dtype) return info.name;
  }
  return "?";
}

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  for (const auto& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown safetensors dtype '", name, "'"));
}

size_t DTypeSize(DType dtype) {
  for (const auto& info : kDTypes) {
    if (info.dtype == dtype) return info.size;
  }
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Read(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  return Parse(std::move(bytes), path);
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Parse(std::string bytes,
                                                       std::string source) {
  SafetensorsFile file;
  file.source_ = std::move(source);
  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("corrupt safetensors file ", file.source_, ": ", what));
  };
  if (bytes.size() < 8) {
    return corrupt(
        absl::StrCat("only ", bytes.size(),
                     " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) {
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  }
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8) {
    return corrupt(absl::StrCat("header length ", header_len,
                                " exceeds the file size ", bytes.size(),
                                " (truncated file?)"));
  }
  nlohmann::json header = nlohmann::json::parse(
      bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(header_len),
      /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return corrupt("header is not a JSON object");
  }
  const size_t data_start = 8 + header_len;
  const size_t data_size = bytes.size() - data_start;
  file.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  const char* data_base = file.bytes_->data() + data_start;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return corrupt("__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) {
          return corrupt(
              absl::StrCat("metadata '", m.key(), "' is not a string"));
        }
        file.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](absl::string_view what) {
      return corrupt(absl::StrCat("tensor '", name, "': ", what));
    };
    if (!entry.is_object() || !entry.contains("dtype") ||
        !entry.contains("shape") || !entry.contains("data_offsets")) {
      return bad("needs dtype, shape and data_offsets");
    }
    if (!entry["dtype"].is_string()) return bad("dtype is not a string");
    auto dtype = ParseDType(entry["dtype"].get<std::string>());
    if (!dtype.ok()) return bad(dtype.status().message());
    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    const auto& shape = entry["shape"];
    if (!shape.is_array()) return bad("shape is not an array");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) return bad("shape holds a non-integer");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v / 16) {
        return bad("shape overflows");
      }
      numel *= v;
      view.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      return bad("data_offsets must be two unsigned integers");
    }
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) return bad("data_offsets begin after end");
    if (end > data_size) {
      return bad(absl::StrCat("data ends at byte ", end,
                              " but the data section has ", data_size,
                              " bytes (truncated file?)"));
    }
    if (end - begin != numel * DTypeSize(view.dtype)) {
      return bad(absl::StrCat("holds ", end - begin,
                              " bytes, shape and dtype need ",
                              numel * DTypeSize(view.dtype)));
    }
    view.data = absl::string_view(data_base + begin, end - begin);
    file.tensors_.emplace(name, std::move(view));
  }
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, _] : tensors_) out.push_back(name);
  return out;
}

absl::StatusOr<TensorView> SafetensorsFile::Get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(
        absl::StrCat("tensor '", name, "' not found in ", source_));
  }
  return it->second;
}

absl::StatusOr<std::vector<float>> SafetensorsFile::GetF32(
    const std::string& name) const {
  return CopyAs<float>(*this, name, DType::kF32);
}
absl::StatusOr<std::vector<int64_t>> SafetensorsFile::GetI64(
    const std::string& name) const {
  return CopyAs<int64_t>(*this, name, DType::kI64);
}
absl::StatusOr<std::vector<int32_t>> SafetensorsFile::GetI32(
    const std::string& name) const {
  return CopyAs<int32_t>(*this, name, DType::kI32);
}

absl::Status SafetensorsWriter::Add(const std::string& name, DType dtype,
                                    std::vector<int64_t> shape,
                                    absl::string_view data) {
  if (name.empty() || name == "__metadata__") {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid tensor name '", name, "'"));
  }
  if (tensors_.count(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", name, "' added twice"));
  }
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "' has a negative dimension"));
    }
    numel *= static_cast<uint64_t>(d);
  }
  if (numel * DTypeSize(dtype) != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", name, "': ", data.size(), " bytes given, shape [",
        absl::StrJoin(shape, ","), "] of ", DTypeName(dtype), " needs ",
        numel * DTypeSize(dtype)));
  }
  tensors_.emplace(name, Entry{dtype, std::move(shape), std::string(data)});
  return absl::OkStatus();
}

std::string SafetensorsWriter::Serialize() const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata_) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto& [name, e] : tensors_) {
    nlohmann::ordered_json entry;
    entry["dtype"] = std::string(DTypeName(e.dtype));
    entry["shape"] = e.shape;
    entry["data_offsets"] = {offset, offset + e.data.size()};
    offset += e.data.size();
    header[name] = std::move(entry);
  }
  std::string json = header.dump();
  while (json.size() % 8 != 0) json.push_back(' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += json;
  for (const auto& [name, e] : tensors_) out += e.data;
  return out;
}

absl::Status SafetensorsWriter::WriteFile(const std::string& path) const {
  return common::WriteFileAtomically(path, Serialize());
}

}  // namespace clip
