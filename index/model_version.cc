#include "index/model_version.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace gallery {
namespace fs = std::filesystem;
namespace {

// The manifest's names are checked lexically when it is parsed; this also
// refuses a file of the version that is a symbolic link out of it.
absl::Status CheckStaysInside(const std::string& dir, const std::string& name,
                              const std::string& manifest_path,
                              const char* field) {
  if (name.empty()) return absl::OkStatus();
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(dir, ec);
  if (ec) return absl::OkStatus();  // reported by the loads that follow
  const fs::path target = fs::weakly_canonical(fs::path(dir) / name, ec);
  if (ec) return absl::OkStatus();
  const std::string prefix = root.string() + "/";
  if (target.string().compare(0, prefix.size(), prefix) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path, ": files.", field, " ", dir, "/", name, " resolves to ",
        target.string(), ", outside the version directory"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> ListVersions(
    const std::string& models_dir) {
  std::error_code ec;
  if (!fs::is_directory(models_dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("models directory ", models_dir, " does not exist"));
  }
  std::vector<int64_t> versions;
  for (const auto& entry : fs::directory_iterator(models_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    const std::string name = entry.path().filename().string();
    int64_t v;
    if (!name.empty() && name[0] != '0' &&
        name.find_first_not_of("0123456789") == std::string::npos &&
        absl::SimpleAtoi(name, &v)) {
      versions.push_back(v);
    }
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot list ", models_dir, ": ", ec.message()));
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

absl::StatusOr<std::unique_ptr<VersionWriter>> VersionWriter::Begin(
    const std::string& models_dir) {
  static std::atomic<int> counter{0};
  RETURN_IF_ERROR(common::MakeDirs(models_dir));
  std::string staging =
      absl::StrCat(models_dir, "/.tmp-", ::getpid(), "-", counter.fetch_add(1));
  std::error_code ec;
  fs::remove_all(staging, ec);
  RETURN_IF_ERROR(common::MakeDirs(staging));
  return std::unique_ptr<VersionWriter>(new VersionWriter(models_dir, staging));
}

absl::Status VersionWriter::CheckWritable(const std::string& models_dir) {
  auto not_writable = [&](const absl::Status& why) {
    return absl::Status(why.code(),
                        absl::StrCat("models directory ", models_dir,
                                     " is not writable: ", why.message()));
  };
  if (absl::Status made = common::MakeDirs(models_dir); !made.ok()) {
    return not_writable(made);
  }
  const std::string probe =
      absl::StrCat(models_dir, "/.tmp-probe-", ::getpid());
  const int fd =
      ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return not_writable(
        common::ErrnoToStatus(errno, absl::StrCat("cannot create ", probe)));
  }
  const bool written = ::write(fd, "x", 1) == 1;
  const int write_errno = errno;
  ::close(fd);
  if (::unlink(probe.c_str()) != 0) {
    return not_writable(
        common::ErrnoToStatus(errno, absl::StrCat("cannot remove ", probe)));
  }
  if (!written) {
    return not_writable(common::ErrnoToStatus(
        write_errno, absl::StrCat("cannot write ", probe)));
  }
  return absl::OkStatus();
}

VersionWriter::~VersionWriter() {
  if (!published_) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
}

absl::StatusOr<int64_t> VersionWriter::Publish(Manifest manifest) {
  ASSIGN_OR_RETURN(manifest.weights_sha256,
                   common::Sha256File(staging_ + "/" + manifest.weights_file));
  if (manifest.created_at.empty()) manifest.created_at = NowRfc3339();
  RETURN_IF_ERROR(common::WriteFileAtomically(staging_ + "/" + kManifestFile,
                                              ManifestToJson(manifest)));
  RETURN_IF_ERROR(common::SyncDirectory(staging_));
  // Another writer may take a number between listing and renaming; rename(2)
  // onto an existing non-empty directory fails, so try the next number.
  for (int attempt = 0; attempt < 100; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<int64_t> versions, ListVersions(models_dir_));
    int64_t next = versions.empty() ? 1 : versions.back() + 1;
    const std::string target = absl::StrCat(models_dir_, "/", next);
    if (::rename(staging_.c_str(), target.c_str()) == 0) {
      published_ = true;
      RETURN_IF_ERROR(common::SyncDirectory(models_dir_));
      return next;
    }
    if (errno != ENOTEMPTY && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("cannot rename ", staging_,
                                              " to ", target, ": ",
                                              std::strerror(errno)));
    }
  }
  return absl::AbortedError(
      absl::StrCat("could not claim a version number in ", models_dir_));
}

absl::StatusOr<LoadedVersion> LoadVersion(const std::string& models_dir,
                                          int64_t version,
                                          const LoadOptions& index_options) {
  LoadedVersion out;
  out.version = version;
  out.dir = absl::StrCat(models_dir, "/", version);
  const std::string manifest_path = out.dir + "/" + kManifestFile;
  ASSIGN_OR_RETURN(out.manifest, ReadManifest(manifest_path));
  const Manifest& m = out.manifest;
  RETURN_IF_ERROR(
      CheckStaysInside(out.dir, m.weights_file, manifest_path, "weights"));
  RETURN_IF_ERROR(
      CheckStaysInside(out.dir, m.index_file, manifest_path, "index"));
  RETURN_IF_ERROR(
      CheckStaysInside(out.dir, m.images_file, manifest_path, "images"));
  RETURN_IF_ERROR(CheckStaysInside(out.dir, m.embeddings_file, manifest_path,
                                   "embeddings"));
  RETURN_IF_ERROR(
      CheckStaysInside(out.dir, m.tokenizer_file, manifest_path, "tokenizer"));
  const std::string weights = out.dir + "/" + m.weights_file;
  ASSIGN_OR_RETURN(std::string sha, common::Sha256File(weights));
  if (sha != m.weights_sha256) {
    return absl::FailedPreconditionError(
        absl::StrCat("sha256 of ", weights, " is ", sha, " but ", manifest_path,
                     " records ", m.weights_sha256));
  }
  ASSIGN_OR_RETURN(out.index, GalleryIndex::Load(out.dir + "/" + m.index_file,
                                                 out.dir + "/" + m.images_file,
                                                 index_options));
  if (out.index->size() != m.num_images) {
    return absl::FailedPreconditionError(
        absl::StrCat(out.dir, "/", m.index_file, " holds ", out.index->size(),
                     " images but ", manifest_path, " records ", m.num_images));
  }
  auto arch_dim = m.architecture.find("embed_dim");
  if (arch_dim != m.architecture.end() &&
      arch_dim->second != absl::StrCat(m.embedding_dim)) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path, ": the model's embed_dim is ", arch_dim->second,
        " but embedding_dim is ", m.embedding_dim));
  }
  if (out.index->dim() != m.embedding_dim) {
    return absl::FailedPreconditionError(absl::StrCat(
        out.dir, "/", m.index_file, " has embedding size ", out.index->dim(),
        " but ", manifest_path, " records ", m.embedding_dim));
  }
  return out;
}

}  // namespace gallery
