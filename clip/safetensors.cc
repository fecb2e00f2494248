#include "clip/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

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

namespace {

absl::Status Corrupt(const std::string& source, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("corrupt safetensors file ", source, ": ", what));
}

// The JSON header's length from the file's first 8 bytes, checked against
// the file size.
absl::StatusOr<uint64_t> HeaderLength(const unsigned char* first8,
                                      uint64_t file_size,
                                      const std::string& source) {
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | first8[i];
  if (header_len > kMaxHeaderBytes || header_len > file_size - 8) {
    return Corrupt(source, absl::StrCat("header length ", header_len,
                                        " exceeds the file size ", file_size,
                                        " (truncated file?)"));
  }
  return header_len;
}

// One tensor of the header: its byte range in the data section.
struct TensorEntry {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct Header {
  std::map<std::string, std::string> metadata;
  std::map<std::string, TensorEntry> tensors;
};

// Parses and checks the JSON header; every tensor's range must lie within
// the `data_size` bytes that follow it.
absl::StatusOr<Header> ParseHeader(absl::string_view json, uint64_t data_size,
                                   const std::string& source) {
  nlohmann::json header = nlohmann::json::parse(json.begin(), json.end(),
                                                /*cb=*/nullptr,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Corrupt(source, "header is not a JSON object");
  }
  Header out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        return Corrupt(source, "__metadata__ is not an object");
      }
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) {
          return Corrupt(
              source, absl::StrCat("metadata '", m.key(), "' is not a string"));
        }
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](absl::string_view what) {
      return Corrupt(source, absl::StrCat("tensor '", name, "': ", what));
    };
    if (!entry.is_object() || !entry.contains("dtype") ||
        !entry.contains("shape") || !entry.contains("data_offsets")) {
      return bad("needs dtype, shape and data_offsets");
    }
    if (!entry["dtype"].is_string()) return bad("dtype is not a string");
    auto dtype = ParseDType(entry["dtype"].get<std::string>());
    if (!dtype.ok()) return bad(dtype.status().message());
    TensorEntry tensor;
    tensor.dtype = *dtype;
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
      tensor.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      return bad("data_offsets must be two unsigned integers");
    }
    tensor.begin = off[0].get<uint64_t>();
    tensor.end = off[1].get<uint64_t>();
    if (tensor.begin > tensor.end) return bad("data_offsets begin after end");
    if (tensor.end > data_size) {
      return bad(absl::StrCat("data ends at byte ", tensor.end,
                              " but the data section has ", data_size,
                              " bytes (truncated file?)"));
    }
    if (tensor.end - tensor.begin != numel * DTypeSize(tensor.dtype)) {
      return bad(absl::StrCat("holds ", tensor.end - tensor.begin,
                              " bytes, shape and dtype need ",
                              numel * DTypeSize(tensor.dtype)));
    }
    out.tensors.emplace(name, std::move(tensor));
  }
  return out;
}

// Reads exactly `size` bytes at `offset` of `fd`; DATA_LOSS naming `path`
// when the file ends first.
absl::Status ReadAt(int fd, const std::string& path, uint64_t offset, char* out,
                    size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return common::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
    }
    if (n == 0) {
      return absl::DataLossError(absl::StrCat(
          "corrupt safetensors file ", path, ": ended at byte ", offset + done,
          ", reading ", size, " bytes at ", offset, " (truncated file?)"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Read(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  return Parse(std::move(bytes), path);
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Parse(std::string bytes,
                                                       std::string source) {
  SafetensorsFile file;
  file.source_ = std::move(source);
  if (bytes.size() < 8) {
    return Corrupt(
        file.source_,
        absl::StrCat("only ", bytes.size(),
                     " bytes, shorter than the 8-byte header length"));
  }
  ASSIGN_OR_RETURN(
      const uint64_t header_len,
      HeaderLength(reinterpret_cast<const unsigned char*>(bytes.data()),
                   bytes.size(), file.source_));
  const size_t data_start = 8 + header_len;
  ASSIGN_OR_RETURN(Header header,
                   ParseHeader(absl::string_view(bytes).substr(8, header_len),
                               bytes.size() - data_start, file.source_));
  file.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  const char* data_base = file.bytes_->data() + data_start;
  file.metadata_ = std::move(header.metadata);
  for (auto& [name, entry] : header.tensors) {
    TensorView view;
    view.name = name;
    view.dtype = entry.dtype;
    view.shape = std::move(entry.shape);
    view.data =
        absl::string_view(data_base + entry.begin, entry.end - entry.begin);
    file.tensors_.emplace(name, std::move(view));
  }
  return file;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::ReadTensors(
    const std::string& path, const std::vector<std::string>& names) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("cannot stat ", path));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is a directory, expected a file"));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    return Corrupt(
        path, absl::StrCat("only ", file_size,
                           " bytes, shorter than the 8-byte header length"));
  }
  unsigned char first8[8];
  RETURN_IF_ERROR(ReadAt(fd, path, 0, reinterpret_cast<char*>(first8), 8));
  ASSIGN_OR_RETURN(const uint64_t header_len,
                   HeaderLength(first8, file_size, path));
  std::string json(header_len, '\0');
  RETURN_IF_ERROR(ReadAt(fd, path, 8, json.data(), json.size()));
  const uint64_t data_start = 8 + header_len;
  ASSIGN_OR_RETURN(Header header,
                   ParseHeader(json, file_size - data_start, path));

  // The wanted tensors, packed into one buffer in name order.
  std::vector<std::pair<std::string, const TensorEntry*>> wanted;
  uint64_t total = 0;
  for (const std::string& name : names) {
    auto it = header.tensors.find(name);
    if (it == header.tensors.end()) continue;
    if (std::find_if(wanted.begin(), wanted.end(), [&](const auto& w) {
          return w.first == name;
        }) != wanted.end()) {
      continue;
    }
    wanted.push_back({name, &it->second});
    total += it->second.end - it->second.begin;
  }
  auto buffer = std::make_shared<std::string>(total, '\0');
  SafetensorsFile file;
  file.source_ = path;
  file.metadata_ = std::move(header.metadata);
  uint64_t at = 0;
  for (const auto& [name, entry] : wanted) {
    const uint64_t size = entry->end - entry->begin;
    RETURN_IF_ERROR(
        ReadAt(fd, path, data_start + entry->begin, buffer->data() + at, size));
    TensorView view;
    view.name = name;
    view.dtype = entry->dtype;
    view.shape = entry->shape;
    view.data = absl::string_view(buffer->data() + at, size);
    file.tensors_.emplace(name, std::move(view));
    at += size;
  }
  file.bytes_ = std::move(buffer);
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
