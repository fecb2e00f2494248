#include "tests/gallery_version.h"

#include <memory>

#include "common/status_macros.h"
#include "index/gallery_index.h"
#include "index/model_version.h"

namespace tests {

absl::StatusOr<int64_t> PublishGalleryVersion(
    const std::string& models_dir, const GalleryVersion& version,
    const ModelWriter& write_model,
    const IndexOrderWriter& write_in_index_order) {
  ASSIGN_OR_RETURN(std::unique_ptr<gallery::VersionWriter> writer,
                   gallery::VersionWriter::Begin(models_dir));
  const std::string dir = writer->staging_dir();
  gallery::Manifest m = version.manifest;
  ASSIGN_OR_RETURN(std::vector<float> embeddings, write_model(dir, m));
  gallery::BuildOptions options;
  options.factory = version.index_factory;
  ASSIGN_OR_RETURN(
      std::unique_ptr<gallery::GalleryIndex> index,
      gallery::GalleryIndex::Build(embeddings, m.embedding_dim, version.names,
                                   version.categories, options));
  RETURN_IF_ERROR(
      index->Save(dir + "/" + m.index_file, dir + "/" + m.images_file));
  if (write_in_index_order) {
    RETURN_IF_ERROR(write_in_index_order(dir, *index, m));
  }
  m.index_type = version.index_factory;
  m.num_images = static_cast<int64_t>(version.names.size());
  m.num_pedestrian_images = index->CountOf(common::Category::kPedestrian);
  m.num_vehicle_images = index->CountOf(common::Category::kVehicle);
  return writer->Publish(m);
}

}  // namespace tests
