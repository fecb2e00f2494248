// Publishes model versions for tests (index/model_version.h): a gallery index
// over given embeddings, the model files a callback writes into the staging
// directory, and a manifest. No LibTorch: tests/test_model.h builds on it
// with a real tiny CLIP, index tests use it with stand-in weights.
#ifndef TESTS_GALLERY_VERSION_H_
#define TESTS_GALLERY_VERSION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/category.h"
#include "index/gallery_index.h"
#include "index/manifest.h"

namespace tests {

struct GalleryVersion {
  std::vector<std::string> names;            // image name of each row
  std::vector<common::Category> categories;  // one per row
  std::string index_factory = "Flat";
  // Published as given (after the ModelWriter's changes), except the fields
  // that describe the index: index_type, num_images and the per-category
  // counts.
  gallery::Manifest manifest;
};

// Writes the model files (at least manifest.weights_file) into the staging
// directory, records what describes the model in `manifest` (embedding_dim
// at least, when the GalleryVersion does not give it) and returns the gallery
// embeddings, [names.size(), embedding_dim] in row order.
using ModelWriter = std::function<absl::StatusOr<std::vector<float>>(
    const std::string& staging_dir, gallery::Manifest& manifest)>;

// Writes the files that follow the index's row order (names() gives it;
// the index groups rows by category) into the staging directory once the
// index is built, recording them in `manifest`.
using IndexOrderWriter = std::function<absl::Status(
    const std::string& staging_dir, const gallery::GalleryIndex& index,
    gallery::Manifest& manifest)>;

// Stages `version` under `models_dir` and publishes it; returns its number.
// `write_in_index_order`, when given, runs after the index is saved.
absl::StatusOr<int64_t> PublishGalleryVersion(
    const std::string& models_dir, const GalleryVersion& version,
    const ModelWriter& write_model,
    const IndexOrderWriter& write_in_index_order = nullptr);

}  // namespace tests

#endif  // TESTS_GALLERY_VERSION_H_
