// Versioned model directories, after TensorFlow Serving's base_path/<version>:
//
//   <models_dir>/<integer version>/  manifest.json, index.faiss, images.txt,
//                                    weights, tokenizer, embeddings
//
// A version is assembled under a hidden temporary name in <models_dir> and
// renamed into place only when complete, so a reader never sees half a
// version; a crashed writer leaves only a ".tmp-*" directory, which readers
// ignore. The server serves the newest complete version.
#ifndef INDEX_MODEL_VERSION_H_
#define INDEX_MODEL_VERSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/gallery_index.h"
#include "index/manifest.h"

namespace gallery {

// Integer-named subdirectories of `models_dir`, ascending. Other entries are
// ignored. NOT_FOUND when `models_dir` does not exist.
absl::StatusOr<std::vector<int64_t>> ListVersions(
    const std::string& models_dir);

// Writes one new version. Not thread-safe; one writer per object.
class VersionWriter {
 public:
  // Creates "<models_dir>/.tmp-<pid>-<n>" (and models_dir if missing).
  static absl::StatusOr<std::unique_ptr<VersionWriter>> Begin(
      const std::string& models_dir);
  // Checks, before any expensive work, that a version can be written into
  // `models_dir`: creates it if missing, then creates and removes a file
  // in it (named like a staging directory, so readers ignore one left
  // behind). The error's code comes from errno (PERMISSION_DENIED,
  // RESOURCE_EXHAUSTED, ...); its message reads "models directory <dir> is
  // not writable: <why>".
  static absl::Status CheckWritable(const std::string& models_dir);

  // Removes the temporary directory unless Publish succeeded.
  ~VersionWriter();

  // The temporary directory to write the version's files into.
  const std::string& staging_dir() const { return staging_; }

  // Fills the weights hash from the staged weights file, writes
  // manifest.json, and renames the staging directory to the next free
  // integer version. Returns that version.
  absl::StatusOr<int64_t> Publish(Manifest manifest);

 private:
  VersionWriter(std::string models_dir, std::string staging)
      : models_dir_(std::move(models_dir)), staging_(std::move(staging)) {}
  std::string models_dir_;
  std::string staging_;
  bool published_ = false;
};

// A verified version with its index loaded.
struct LoadedVersion {
  int64_t version = 0;
  std::string dir;
  Manifest manifest;
  std::unique_ptr<GalleryIndex> index;
};

// Loads and verifies <models_dir>/<version>: the manifest is present and
// valid, the index's vector count equals the number of names and the
// manifest's num_images, the embedding size matches the index, and the
// sha256 of the weights file matches the manifest. Every error names the
// offending file (FAILED_PRECONDITION for a mismatch, DATA_LOSS for a
// corrupt file, NOT_FOUND for a missing one). A file name of the manifest that
// leaves the version directory is INVALID_ARGUMENT (see ManifestFromJson), or
// FAILED_PRECONDITION when the file is a symbolic link out of it; both name
// the manifest and the field. `index_options` go to GalleryIndex::Load.
absl::StatusOr<LoadedVersion> LoadVersion(
    const std::string& models_dir, int64_t version,
    const LoadOptions& index_options = {});

}  // namespace gallery

#endif  // INDEX_MODEL_VERSION_H_
