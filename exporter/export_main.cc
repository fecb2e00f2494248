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
// Creates models_dir/<next integer version>/ atomically (see
// exporter/export.h) and prints its path, the throughput and, with --labels,
// the share of images the label file gave a category to. Fails before
// encoding when --models_dir cannot be written to, or when that share is
// below --min_label_coverage (default 0.9; 0 disables the check).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
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
ABSL_FLAG(std::string, index, "Flat",
          "FAISS index_factory string (inner product on L2-normalised "
          "embeddings): Flat (exact), HNSW32, IVF1024,Flat, IVF1024,PQ64, ...");
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
  if (o.weights.empty() || o.images.empty() || o.models_dir.empty()) {
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
