// manifest.json of a model version directory: everything one answer depends
// on, described. Written by the exporter, verified by the server.
#ifndef INDEX_MANIFEST_H_
#define INDEX_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace gallery {

inline constexpr char kManifestFormat[] = "traffic-retrieval-model/1";
inline constexpr char kManifestFile[] = "manifest.json";
// Name of the gallery's attribute probabilities in the embeddings file.
inline constexpr char kAttributeProbsTensor[] = "attribute_probs";

struct Manifest {
  std::string format = kManifestFormat;
  std::string model_name;
  // The CLIP constructor arguments (clip::ClipConfig::ToMetadata()).
  std::map<std::string, std::string> architecture;
  std::string architecture_description;  // ClipConfig::Describe()
  int64_t embedding_dim = 0;
  std::string metric = "inner_product";  // on L2-normalised embeddings
  std::string index_type = "Flat";       // FAISS index_factory string
  std::map<std::string, std::string> index_params;  // nprobe, efSearch, ...
  // Recall@10 of the index against exact search on held-out queries; < 0
  // when not measured (exact indexes).
  double recall_at_10 = -1;
  int64_t recall_queries = 0;
  int64_t num_images = 0;
  int64_t num_pedestrian_images = 0;
  int64_t num_vehicle_images = 0;
  // The label file that gave the images their categories, and the share of
  // the images it covered (those with a category / num_images). Empty and
  // -1 when the gallery was exported without labels.
  std::string labels_file;
  double label_coverage = -1;
  // File names, relative to the version directory.
  std::string weights_file = "model.safetensors";
  std::string weights_sha256;
  std::string index_file = "index.faiss";
  std::string images_file = "images.txt";
  std::string embeddings_file = "embeddings.safetensors";
  std::string tokenizer_file = "bpe_vocab.txt.gz";
  // Image preprocessing used for the gallery.
  int64_t image_resolution = 0;
  std::string resize_mode = "center_crop";
  // Precision the gallery embeddings were computed in ("fp32", "bf16",
  // "fp16"; clip/precision.h). Versions written before it was recorded read
  // as "fp32". Queries may be encoded in another precision.
  std::string embedding_precision = "fp32";
  // Attribute heads and re-ranking (rerank/). `attribute_layout` is
  // eval::AttributeLayoutId() of the heads in the weights file and of the
  // gallery's predicted attribute probabilities, stored in the embeddings
  // file as kAttributeProbsTensor (F32 [num_images, layout size], index row
  // order); empty when the model has no attribute heads. `rerank_weights`
  // (rerank::RerankWeights::ToString(), fitted on a validation split) and
  // `rerank_candidates` (the short list re-ranked per query) say how the
  // server re-ranks by default; empty / 0 = no re-ranking.
  std::string attribute_layout;
  std::string rerank_weights;
  int64_t rerank_candidates = 0;
  std::string dataset;  // where the gallery images came from
  // Lineage of an incremental version (exporter/export.h): the version it
  // was derived from (0: built from scratch), how many images it added and
  // removed, and the lists they came from.
  int64_t parent_version = 0;
  int64_t added_images = 0;
  int64_t removed_images = 0;
  std::string added_from;
  std::string removed_from;
  // Index types that are trained (IVF, PQ, OPQ, SQ): the version whose
  // export trained this index (0: this version's own), the number of images
  // it was trained on, and the images added since by incremental versions
  // that reused the training. 0 for untrained types (Flat, HNSW).
  int64_t index_trained_version = 0;
  int64_t index_trained_images = 0;
  int64_t added_since_training = 0;
  // The number of shards the gallery was encoded in (0 or 1: one process).
  int64_t encoded_shards = 0;
  std::map<std::string, double> training_metrics;
  std::string created_at;  // RFC 3339, UTC
};

std::string ManifestToJson(const Manifest& m);
// INVALID_ARGUMENT / DATA_LOSS naming `source` when the JSON is malformed, a
// required field is missing or mistyped (integer fields must be JSON integers
// in the int64 range), or the format is not kManifestFormat.
// INVALID_ARGUMENT naming `source` and the field when a file name (weights,
// index, images, embeddings, tokenizer) would leave the version directory:
// absolute, with a ".." component, empty (embeddings and tokenizer may be
// empty: no such file) or naming the directory itself
// (common::CheckRelativeName).
absl::StatusOr<Manifest> ManifestFromJson(const std::string& json,
                                          const std::string& source);
absl::StatusOr<Manifest> ReadManifest(const std::string& path);

// The current time as RFC 3339 UTC ("2026-11-27T04:37:27Z").
std::string NowRfc3339();

}  // namespace gallery

#endif  // INDEX_MANIFEST_H_
