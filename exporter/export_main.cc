// export: encodes a gallery of images and publishes a model version for the
// server.
//
// Usage:
//   export --weights=runs/demo/model.safetensors --images=DATA/test/images
//          --labels=DATA/test/test_label.txt --models_dir=models/traffic
//   export --weights=ViT-B-16.pt --vocab=bpe_simple_vocab_16e6.txt.gz
//          --images=gallery/ --models_dir=models/traffic --index=IVF1024,PQ64
//          --recall_texts=test/test_text.txt
//
//   # version N+1 from version 3: add today's crops, drop expired ones
//   export --models_dir=models/traffic --from_version=3
//          --images=new_crops.txt --labels=new_labels.txt
//          --remove=expired.txt
//   # a gallery encoded by 4 processes, then merged into one version
//   launch --nproc_per_node=4 -- export --weights=... --images=gallery/
//          --num_shards=4 --shard_dir=shards/run1
//   export --weights=... --merge_shards --shard_dir=shards/run1
//          --models_dir=models/traffic --index=IVF4096,PQ64
//
// Creates models_dir/<next integer version>/ atomically (see
// exporter/export.h) and prints its path, the throughput and, with --labels,
// the share of images the label file gave a category to. Fails before
// encoding when --models_dir cannot be written to, or when that share is
// below --min_label_coverage (default 0.9; 0 disables the check).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "clip/precision.h"
#include "common/exit_code.h"
#include "common/torch_threads.h"
#include "exporter/export.h"

ABSL_FLAG(std::string, weights, "",
          "CLIP checkpoint (any supported format). Required.");
ABSL_FLAG(std::string, vocab, "",
          "Tokenizer; default: the files beside --weights.");
ABSL_FLAG(std::string, images, "",
          "Gallery: a directory of images or a .txt list of paths. Required.");
ABSL_FLAG(std::string, labels, "",
          "Optional label file (image$attribute$text) giving each image's "
          "category, for category-filtered search. Without it every image is "
          "'unspecified'.");
ABSL_FLAG(double, min_label_coverage, 0.9,
          "With --labels: the least share of gallery images the label file "
          "must give a category to; below it the export fails before "
          "encoding (images without one are 'unspecified' and never match a "
          "category-filtered search). 0 disables the check.");
ABSL_FLAG(std::string, models_dir, "",
          "Directory of versions; a new integer version is created inside. "
          "Required.");
ABSL_FLAG(std::string, model_name, "traffic-clip",
          "Name recorded in the manifest.");
ABSL_FLAG(std::string, index, "auto",
          "FAISS index_factory string (inner product on L2-normalised "
          "embeddings): Flat (exact), HNSW32, IVF1024,Flat, IVF1024,PQ64, "
          "...; auto picks by gallery size: Flat up to 100k images, "
          "IVF<lists>,SQ8 up to 2M, IVF<lists>_HNSW32,PQ<d/8>,Refine(SQ8) "
          "above, with their nprobe/efSearch/refine factor (docs/scale.md). "
          "Ignored with --from_version (the parent's index type is kept).");
ABSL_FLAG(int, nprobe, 16, "IVF lists searched per query (IVF indexes only).");
ABSL_FLAG(int, ef_search, 128, "HNSW efSearch (HNSW indexes only).");
ABSL_FLAG(int, recall_queries, 1000,
          "ANN indexes: queries used to measure recall@10 against exact "
          "search (recorded in the manifest).");
ABSL_FLAG(std::string, recall_texts, "",
          "Texts (one per line, e.g. test_text.txt) used as those queries; "
          "default: a sample of gallery images.");
ABSL_FLAG(int, batch_size, 32, "Images per forward pass.");
ABSL_FLAG(int, threads, 0, "Compute threads; 0 = all cores.");
ABSL_FLAG(int, loader_workers, 1, "Image decoding threads.");
ABSL_FLAG(
    std::string, resize_mode, "center_crop",
    "center_crop, pad or squash; use the mode the model was trained with.");
ABSL_FLAG(bool, skip_bad_images, false,
          "Leave unreadable images out (counted) instead of failing.");
ABSL_FLAG(std::string, device, "cpu", "cpu, or cuda on CUDA builds.");
ABSL_FLAG(std::string, precision, "auto",
          "Image encoding precision: auto (bf16 on CPUs with AVX512_BF16 or "
          "AMX, else fp32; fp16 on CUDA), fp32, bf16, or fp16 (CUDA). Recorded "
          "in the manifest.");
ABSL_FLAG(
    bool, gpu_index, false,
    "Build the index on the GPU (CUDA builds of FAISS; ignored otherwise).");
ABSL_FLAG(int64_t, from_version, 0,
          "Publish an incremental version from this version of --models_dir: "
          "--images are added (encoded with that version's weights), the "
          "names in --remove removed, and the other images keep their stored "
          "embeddings. 0: a new gallery from --images.");
ABSL_FLAG(std::string, remove, "",
          "With --from_version: a file of image names to remove, one per line "
          "(an images.txt works).");
ABSL_FLAG(double, retrain_share, 0.2,
          "With --from_version and a trained index (IVF, PQ): train it anew "
          "once the images added since its training pass this share of the "
          "images it was trained on; below it the training is reused.");
ABSL_FLAG(int, num_shards, 0,
          "Encode only one of this many shards of the gallery into "
          "--shard_dir (nothing is published); merge them with "
          "--merge_shards. 0 or 1: one process.");
ABSL_FLAG(int, shard_index, -1,
          "The shard to encode, in [0, --num_shards); -1: from "
          "$JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) or $RANK (launch).");
ABSL_FLAG(std::string, shard_dir, "",
          "Directory of the shard files (shared by the shard processes and "
          "the merge).");
ABSL_FLAG(bool, merge_shards, false,
          "Build and publish the version from the shard files of "
          "--shard_dir (all of one run), instead of encoding --images.");
ABSL_FLAG(bool, attribute_heads, true,
          "When the weights carry attribute heads, store the gallery's "
          "predicted attributes and the fitted re-rank weights in the version "
          "(for query routing and re-ranking in the server).");

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(argc, argv,
                           "Encodes gallery images into a FAISS index and "
                           "publishes a model version.");
  common::SetComputeThreads(absl::GetFlag(FLAGS_threads));
  exporter::ExportOptions o;
  o.weights = absl::GetFlag(FLAGS_weights);
  o.vocab = absl::GetFlag(FLAGS_vocab);
  o.images = absl::GetFlag(FLAGS_images);
  o.labels = absl::GetFlag(FLAGS_labels);
  o.min_label_coverage = absl::GetFlag(FLAGS_min_label_coverage);
  o.models_dir = absl::GetFlag(FLAGS_models_dir);
  o.model_name = absl::GetFlag(FLAGS_model_name);
  o.from_version = absl::GetFlag(FLAGS_from_version);
  o.remove_list = absl::GetFlag(FLAGS_remove);
  o.retrain_share = absl::GetFlag(FLAGS_retrain_share);
  o.num_shards = absl::GetFlag(FLAGS_num_shards);
  o.shard_dir = absl::GetFlag(FLAGS_shard_dir);
  o.merge_shards = absl::GetFlag(FLAGS_merge_shards);
  o.shard_index = absl::GetFlag(FLAGS_shard_index);
  if (o.num_shards > 1 && !o.merge_shards && o.shard_index < 0) {
    for (const char* var : {"JOB_COMPLETION_INDEX", "RANK"}) {
      const char* value = std::getenv(var);
      if (value == nullptr) continue;
      if (!absl::SimpleAtoi(value, &o.shard_index)) {
        std::cerr << "export: $" << var << " is not an integer: " << value
                  << "\n";
        return common::kExitUsage;
      }
      break;
    }
    if (o.shard_index < 0) {
      std::cerr << "export: --num_shards needs --shard_index, "
                   "$JOB_COMPLETION_INDEX or $RANK\n";
      return common::kExitUsage;
    }
  }
  const bool shard_mode = o.num_shards > 1 || o.merge_shards;
  if (!shard_mode && o.from_version == 0 &&
      (o.weights.empty() || o.images.empty() || o.models_dir.empty())) {
    std::cerr << "export: give --weights, --images and --models_dir\n";
    return common::kExitUsage;
  }
  o.index_factory = absl::GetFlag(FLAGS_index);
  o.nprobe = absl::GetFlag(FLAGS_nprobe);
  o.ef_search = absl::GetFlag(FLAGS_ef_search);
  o.recall_queries = absl::GetFlag(FLAGS_recall_queries);
  o.recall_texts = absl::GetFlag(FLAGS_recall_texts);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.loader_workers = absl::GetFlag(FLAGS_loader_workers);
  o.skip_bad_images = absl::GetFlag(FLAGS_skip_bad_images);
  o.device = absl::GetFlag(FLAGS_device);
  o.gpu_index = absl::GetFlag(FLAGS_gpu_index);
  o.attribute_heads = absl::GetFlag(FLAGS_attribute_heads);
  auto mode = clip::ParseResizeMode(absl::GetFlag(FLAGS_resize_mode));
  if (!mode.ok()) {
    std::cerr << "export: --resize_mode: " << mode.status() << "\n";
    return common::kExitUsage;
  }
  o.resize_mode = *mode;
  auto precision = clip::ParsePrecision(absl::GetFlag(FLAGS_precision));
  if (!precision.ok()) {
    std::cerr << "export: --precision: " << precision.status() << "\n";
    return common::kExitUsage;
  }
  o.precision = *precision;
  const bool tty = isatty(STDERR_FILENO);
  auto result = exporter::Export(o, [&](int64_t done, int64_t total) {
    if (tty || done == total || done % 1024 < o.batch_size) {
      std::fprintf(stderr, "%sencoded %lld/%lld images%s",
                   tty ? "\r\033[K" : "", static_cast<long long>(done),
                   static_cast<long long>(total),
                   tty && done < total ? "" : "\n");
    }
  });
  if (!result.ok()) {
    std::cerr << "export: " << result.status() << "\n";
    return common::kExitFailure;
  }
  if (!result->shard_file.empty()) {
    std::printf(
        "encoder %s\nshard %d of %d: %lld images (skipped %lld) in %s\n"
        "encode %.1fs, %.2f images/s with decoding\n",
        result->encoder_description.c_str(), o.shard_index, o.num_shards,
        static_cast<long long>(result->num_images),
        static_cast<long long>(result->skipped_images),
        result->shard_file.c_str(), result->encode_seconds,
        result->images_per_second);
    return common::kExitOk;
  }
  std::printf(
      "encoder %s\nversion %lld\ndir %s\nimages %lld (skipped %lld)\nencode "
      "%.1fs, %.2f "
      "images/s with decoding; model waited for decoding %.1f%% of the time; "
      "decoding used %.1f CPU-s\nindex build %.2fs\n",
      result->encoder_description.c_str(),
      static_cast<long long>(result->version), result->version_dir.c_str(),
      static_cast<long long>(result->num_images),
      static_cast<long long>(result->skipped_images), result->encode_seconds,
      result->images_per_second, 100 * result->decode_wait_share,
      result->decode_cpu_seconds, result->index_seconds);
  if (result->label_coverage >= 0) {
    std::printf("labels %s: category for %lld of %lld images (%.1f%%)\n",
                o.labels.c_str(),
                static_cast<long long>(result->labelled_images),
                static_cast<long long>(result->num_images),
                100 * result->label_coverage);
  }
  std::printf("index %s%s\n", result->index_factory.c_str(),
              result->index_chosen ? " (chosen by gallery size; --index to "
                                     "override)"
                                   : "");
  if (result->parent_version > 0) {
    std::printf("from version %lld: added %lld images, removed %lld\n",
                static_cast<long long>(result->parent_version),
                static_cast<long long>(result->added_images),
                static_cast<long long>(result->removed_images));
  }
  if (result->merged_shards > 0) {
    std::printf("merged %lld shards\n",
                static_cast<long long>(result->merged_shards));
  }
  if (result->recall_at_10 >= 0) {
    std::printf("recall@10 vs exact %.4f\n", result->recall_at_10);
  }
  if (!result->attribute_layout.empty()) {
    std::printf("attribute predictions stored (%s); re-rank weights %s\n",
                result->attribute_layout.c_str(),
                result->rerank_weights.empty()
                    ? "none"
                    : result->rerank_weights.c_str());
  }
  return common::kExitOk;
}
