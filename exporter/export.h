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
// Three more ways to make a version, for galleries that change and grow:
//
// Incremental (from_version > 0): version N+1 from version N of models_dir
// plus the images of `images` (added, encoded) and the names listed in
// `remove_list` (removed). The other images keep N's stored embeddings, so
// only the added ones are encoded, with N's own weights, tokenizer,
// precision and resize mode. A Flat or HNSW index is rebuilt over the new
// gallery; a trained index (IVF, PQ, OPQ, SQ) keeps N's training (coarse
// quantizer, codebooks) and is refilled, until the images added since it
// was trained pass retrain_share of those it was trained on: then it is
// trained anew on the new gallery. Recall is measured again either way.
// The manifest records the parent, the counts and lists, and the training.
//
// Sharded encoding (num_shards > 1 with shard_dir): this process encodes
// only shard shard_index of the gallery, a contiguous run of whole batches
// of the image list, and writes it to shard_dir as
// shard-IIIII-of-KKKKK.safetensors (embeddings, and a fingerprint of the
// list, weights and preprocessing) and .txt (its image names and
// categories). K processes or pods encode the K shards side by side.
//
// Merging (merge_shards): reads the K shard files of shard_dir, checks that
// they are complete and come from one list, weights and preprocessing, and
// builds and publishes the version as a one-process export would. Because
// shards are cut at batch boundaries, each image is encoded in the same
// batch as in one process, so the embeddings are the same.
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
#include <utility>

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
  // FAISS index_factory string; "auto" (or empty) picks one by the
  // gallery's size (gallery::DefaultIndexChoice: Flat up to 100k images,
  // IVF-SQ8 up to 2M, IVF-PQ with SQ8 refinement above), with its nprobe,
  // efSearch and refine factor in place of those below. An incremental
  // version keeps its parent's index type and parameters.
  std::string index_factory = "auto";
  int nprobe = 16;
  int ef_search = 128;
  int refine_factor = 4;  // Refine/RFlat: candidates re-scored per hit
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

  // Incremental versions (see above). `images` is then the images to add
  // (may be empty) and `weights` may be empty (the parent's are used; when
  // given they must be the same file, by sha256).
  int64_t from_version = 0;
  // Names to remove, one per line ("name" or images.txt's
  // "name<TAB>category"); blank lines and lines starting with '#' skipped.
  std::string remove_list;
  // Retrain a trained index when the images added since its training pass
  // this share of the images it was trained on; 0 retrains every time.
  double retrain_share = 0.2;

  // Sharded encoding and merging (see above).
  int num_shards = 0;
  int shard_index = 0;
  std::string shard_dir;
  bool merge_shards = false;
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
  // Incremental versions: the parent, the images added and removed, and
  // whether the index was trained anew (always true for a new trained
  // index; false for untrained types).
  int64_t parent_version = 0;
  int64_t added_images = 0;
  int64_t removed_images = 0;
  bool index_trained = false;
  // Sharded encoding: the shard file written (version is then 0: nothing
  // is published). Merging: the number of shards merged.
  std::string shard_file;
  int64_t merged_shards = 0;
  // The index type built, and whether it was picked by gallery size.
  std::string index_factory;
  bool index_chosen = false;
};

// The rows [first, last) of a list of `num_images` images that shard
// `shard_index` of `num_shards` encodes: whole batches of `batch_size`,
// spread as evenly as batches allow (trailing shards may be empty).
std::pair<int64_t, int64_t> ShardRows(int64_t num_images, int batch_size,
                                      int num_shards, int shard_index);

// The shard file names in shard_dir: shard-00001-of-00004.safetensors and
// shard-00001-of-00004.txt.
std::string ShardFileName(int shard_index, int num_shards,
                          const std::string& extension);

absl::StatusOr<ExportResult> Export(
    const ExportOptions& options,
    const std::function<void(int64_t done, int64_t total)>& progress = {});

}  // namespace exporter

#endif  // EXPORTER_EXPORT_H_
