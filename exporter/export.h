// Export: encodes a gallery of images with a CLIP checkpoint and publishes a
// model version directory (index/model_version.h) that the server loads:
//   model.safetensors  the weights (converted to safetensors if needed)
//   bpe_vocab.txt.gz   the tokenizer (or vocab.json + merges.txt)
//   index.faiss        FAISS index over the L2-normalised image embeddings
//   images.txt         row i of the index: "name<TAB>category"
//   embeddings.safetensors  the raw embeddings F32 [n, D] in row order, and
//                      with attribute heads in the weights the gallery's
//                      predicted attributes ("attribute_probs")
//   manifest.json      what the version is, with the weights' sha256
// The version appears atomically: an interrupted export leaves none behind.
//
// Checks made before any image is encoded: the models directory can be
// written to (gallery::VersionWriter::CheckWritable), and with a label file,
// that it gives a category to at least min_label_coverage of the gallery's
// images (images missing from it would be "unspecified" and never match a
// category-filtered search). The coverage is recorded in the manifest.
#ifndef EXPORTER_EXPORT_H_
#define EXPORTER_EXPORT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "clip/image_preprocess.h"
#include "clip/precision.h"

namespace exporter {

struct ExportOptions {
  std::string weights;  // any format clip/weights.h reads
  std::string vocab;    // tokenizer; "" = beside the weights
  std::string images;   // a directory or a .txt list of paths
  std::string labels;   // optional label file giving each image's category
  // With `labels`: the least share of gallery images the label file must
  // give a category to (FAILED_PRECONDITION below it, before encoding);
  // 0 disables the check.
  double min_label_coverage = 0.9;
  std::string models_dir;  // versions are created inside
  std::string model_name = "traffic-clip";
  std::string index_factory = "Flat";
  int nprobe = 16;
  int ef_search = 128;
  int64_t max_training_rows = 100000;
  // ANN indexes: recall@10 against exact search is measured on this many
  // queries: texts from recall_texts when given (one per line), else
  // gallery images.
  int recall_queries = 1000;
  std::string recall_texts;
  int batch_size = 32;
  int loader_workers = 1;
  clip::ResizeMode resize_mode = clip::ResizeMode::kCenterCrop;
  bool skip_bad_images = false;
  std::string device = "cpu";
  // Precision of the image encoding (clip/precision.h); recorded in the
  // manifest as embedding_precision.
  clip::Precision precision = clip::Precision::kFp32;
  bool gpu_index = false;  // build the index on the GPU (CUDA builds)
  // When the weights carry attribute heads (rerank/attribute_head.h): store
  // the image head's predictions for the gallery with the embeddings and
  // record the layout and the fitted re-rank weights in the manifest.
  bool attribute_heads = true;
  uint64_t seed = 1234;
};

struct ExportResult {
  int64_t version = 0;
  std::string version_dir;
  int64_t num_images = 0;
  int64_t skipped_images = 0;
  double encode_seconds = 0;     // wall time of decoding + encoding
  double images_per_second = 0;  // decode included
  double decode_wait_share =
      0;  // share of that time the model waited for decoding
  double decode_cpu_seconds = 0;  // decoding work summed over workers
  double index_seconds = 0;
  std::string encoder_description;  // ClipEncoder::Describe()
  double recall_at_10 = -1;         // ANN only
  // Exported images that got a category from the label file, and their
  // share of num_images; -1 without a label file.
  int64_t labelled_images = 0;
  double label_coverage = -1;
  // With attribute heads: the layout of the stored gallery predictions, and
  // the re-rank weights recorded ("" when the weights hold none).
  std::string attribute_layout;
  std::string rerank_weights;
};

absl::StatusOr<ExportResult> Export(
    const ExportOptions& options,
    const std::function<void(int64_t done, int64_t total)>& progress = {});

}  // namespace exporter

#endif  // EXPORTER_EXPORT_H_
