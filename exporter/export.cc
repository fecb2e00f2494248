#include "exporter/export.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>
#include <random>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clip/embed_tool.h"
#include "clip/encoder.h"
#include "clip/safetensors.h"
#include "clip/weights.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "eval/attributes.h"
#include "eval/labels.h"
#include "index/gallery_index.h"
#include "index/model_version.h"
#include "pipeline/image_stream.h"
#include "rerank/attribute_head.h"
#include "rerank/reranker.h"

namespace exporter {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Copies safetensors weights as they are; converts other formats.
absl::Status StageWeights(const std::string& src, const std::string& dst) {
  ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(src));
  const bool is_zip =
      bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04") == 0;
  if (!is_zip) {
    auto parsed = clip::SafetensorsFile::Parse(bytes, src);
    if (parsed.ok() && parsed->contains("token_embedding.weight")) {
      return common::WriteFileAtomically(dst, bytes);
    }
  }
  ASSIGN_OR_RETURN(clip::ClipModel model, clip::LoadClipModel(src));
  return clip::SaveClipModel(model, dst, {{"converted_from", src}});
}

absl::Status ValidateOptions(const ExportOptions& options) {
  if (options.weights.empty() || options.images.empty() ||
      options.models_dir.empty()) {
    return absl::InvalidArgumentError(
        "weights, images and models_dir are required");
  }
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError("batch_size must be >= 1");
  }
  if (!(options.min_label_coverage >= 0 && options.min_label_coverage <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_label_coverage must be in [0, 1], got ",
                     options.min_label_coverage));
  }
  return absl::OkStatus();
}

// The index, the submission and the label files name images by file name, so
// two listed paths with one file name could not be told apart.
absl::Status CheckUniqueFileNames(const std::vector<std::string>& paths,
                                  const std::string& images) {
  std::unordered_map<std::string, size_t> first_with;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string name = fs::path(paths[i]).filename().string();
    auto [it, inserted] = first_with.emplace(name, i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(images, ": gallery images ", paths[it->second], " and ",
                       paths[i], " share the file name ", name,
                       "; images are named by file name in the index and in "
                       "submissions, so each must be unique"));
    }
  }
  return absl::OkStatus();
}

using CategoryMap = std::unordered_map<std::string, eval::Category>;

// The category of each image file name in options.labels (none without
// labels). FAILED_PRECONDITION when they cover less than min_label_coverage
// of `paths`.
absl::StatusOr<CategoryMap> ReadCategories(
    const ExportOptions& options, const std::vector<std::string>& paths) {
  CategoryMap category_of;
  if (options.labels.empty()) return category_of;
  ASSIGN_OR_RETURN(std::vector<eval::LabelRecord> records,
                   eval::ReadLabelFile(options.labels));
  for (const auto& r : records) category_of.emplace(r.image, r.category);
  int64_t covered = 0;
  std::string first_missing;
  for (const std::string& path : paths) {
    if (category_of.count(fs::path(path).filename().string()) > 0) {
      ++covered;
    } else if (first_missing.empty()) {
      first_missing = fs::path(path).filename().string();
    }
  }
  const int64_t total = static_cast<int64_t>(paths.size());
  const double coverage =
      total > 0 ? static_cast<double>(covered) / total : 1.0;
  if (coverage < options.min_label_coverage) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "label file %s gives a category to %d of %d gallery images in %s "
        "(%.1f%%; the first without one: %s), below min_label_coverage %g: "
        "the others would be 'unspecified' and never match a "
        "category-filtered search; use the label file of this gallery, or "
        "lower min_label_coverage (0 disables the check)",
        options.labels, covered, total, options.images, 100.0 * coverage,
        first_missing, options.min_label_coverage));
  }
  return category_of;
}

absl::StatusOr<std::unique_ptr<clip::ClipEncoder>> LoadEncoder(
    const ExportOptions& options) {
  clip::EncoderOptions eopts;
  eopts.max_batch_size = options.batch_size;
  eopts.device = options.device;
  eopts.precision = options.precision;
  // The image tower, plus the text tower when recall is measured on texts.
  eopts.text_tower = !options.recall_texts.empty();
  const std::string vocab =
      options.vocab.empty() ? fs::path(options.weights).parent_path().string()
                            : options.vocab;
  return clip::ClipEncoder::Load(options.weights, vocab, eopts);
}

// The encoded gallery, in list order without the skipped images.
struct Gallery {
  std::vector<float> embeddings;  // [names.size(), dim]
  std::vector<std::string> names;
  std::vector<eval::Category> categories;
};

// Encodes the images of `paths` in chunks as the image stream decodes them;
// records the skipped images, timings and throughput in `result`.
absl::StatusOr<Gallery> EncodeGallery(
    const ExportOptions& options, const std::vector<std::string>& paths,
    const CategoryMap& category_of, clip::ClipEncoder& encoder,
    const std::function<void(int64_t, int64_t)>& progress,
    ExportResult& result) {
  pipeline::ImageStreamOptions sopts;
  sopts.preprocess.resolution =
      static_cast<int>(encoder.config().image_resolution);
  sopts.preprocess.mode = options.resize_mode;
  sopts.chunk_size = options.batch_size;
  sopts.workers = options.loader_workers;
  sopts.skip_bad_images = options.skip_bad_images;
  Gallery gallery;
  const auto encode_start = Clock::now();
  pipeline::ImageStream stream(paths, sopts);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<pipeline::ImageChunk> chunk, stream.Next());
    if (!chunk.has_value()) break;
    ASSIGN_OR_RETURN(std::vector<float> e,
                     encoder.EncodeImages(chunk->pixels, chunk->size));
    gallery.embeddings.insert(gallery.embeddings.end(), e.begin(), e.end());
    const int64_t end = std::min<int64_t>(chunk->first + options.batch_size,
                                          static_cast<int64_t>(paths.size()));
    size_t skip_i = 0;
    for (int64_t i = chunk->first; i < end; ++i) {
      if (skip_i < chunk->skipped.size() && chunk->skipped[skip_i] == i) {
        ++skip_i;
        ++result.skipped_images;
        continue;
      }
      std::string name = fs::path(paths[i]).filename().string();
      auto it = category_of.find(name);
      gallery.categories.push_back(
          it == category_of.end() ? eval::Category::kUnspecified : it->second);
      gallery.names.push_back(std::move(name));
    }
    if (progress) progress(end, static_cast<int64_t>(paths.size()));
  }
  result.encode_seconds = Since(encode_start);
  result.decode_wait_share =
      stream.wait_seconds() / std::max(1e-9, result.encode_seconds);
  result.decode_cpu_seconds = stream.decode_seconds();
  result.num_images = static_cast<int64_t>(gallery.names.size());
  result.images_per_second =
      result.num_images / std::max(1e-9, result.encode_seconds);
  return gallery;
}

absl::StatusOr<std::unique_ptr<gallery::GalleryIndex>> BuildIndex(
    const ExportOptions& options, const Gallery& gallery, int64_t dim) {
  gallery::BuildOptions bopts;
  bopts.factory = options.index_factory;
  bopts.nprobe = options.nprobe;
  bopts.ef_search = options.ef_search;
  bopts.max_training_rows = options.max_training_rows;
  bopts.seed = options.seed;
  bopts.use_gpu = options.gpu_index;
  return gallery::GalleryIndex::Build(gallery.embeddings, dim, gallery.names,
                                      gallery.categories, bopts);
}

// The gallery's embeddings reordered from list order into the index's row
// order.
std::vector<float> InIndexOrder(const Gallery& gallery,
                                const gallery::GalleryIndex& index,
                                int64_t dim) {
  std::unordered_map<std::string, int64_t> src_row;
  for (size_t i = 0; i < gallery.names.size(); ++i) {
    src_row[gallery.names[i]] = static_cast<int64_t>(i);
  }
  std::vector<float> ordered(gallery.embeddings.size());
  for (int64_t r = 0; r < index.size(); ++r) {
    std::copy_n(gallery.embeddings.begin() + src_row[index.names()[r]] * dim,
                dim, ordered.begin() + r * dim);
  }
  return ordered;
}

// Recall@10 of an approximate index against exact search, on the first
// recall_queries texts of recall_texts, or else on a seeded sample of the
// gallery's own embeddings; sets result.recall_at_10 and returns the number
// of queries (0 for exact indexes).
absl::StatusOr<int64_t> MeasureRecall(const ExportOptions& options,
                                      clip::ClipEncoder& encoder,
                                      const gallery::GalleryIndex& index,
                                      const Gallery& gallery, int64_t dim,
                                      ExportResult& result) {
  if (index.exact() || options.recall_queries <= 0) return 0;
  std::vector<float> queries;
  if (!options.recall_texts.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::string> texts,
                     eval::ReadQueryFile(options.recall_texts));
    if (static_cast<int>(texts.size()) > options.recall_queries) {
      texts.resize(options.recall_queries);
    }
    ASSIGN_OR_RETURN(queries, encoder.EncodeTexts(texts));
  } else {
    std::mt19937_64 rng(options.seed);
    std::vector<int64_t> rows(result.num_images);
    std::iota(rows.begin(), rows.end(), 0);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(std::min<int64_t>(rows.size(), options.recall_queries));
    for (int64_t r : rows) {
      queries.insert(queries.end(), gallery.embeddings.begin() + r * dim,
                     gallery.embeddings.begin() + (r + 1) * dim);
    }
  }
  const int64_t recall_n = static_cast<int64_t>(queries.size()) / dim;
  // Exact answers over the index's own row order.
  const std::vector<float> ordered = InIndexOrder(gallery, index, dim);
  auto truth = gallery::BruteForceTopK(ordered.data(), result.num_images,
                                       queries.data(), recall_n, dim, 10);
  ASSIGN_OR_RETURN(auto hits, index.Search(queries.data(), recall_n, 10));
  result.recall_at_10 = gallery::RecallAtK(truth, hits, 10);
  return recall_n;
}

// The version's manifest; records the label coverage in `result`.
gallery::Manifest MakeManifest(const ExportOptions& options,
                               const clip::ClipEncoder& encoder,
                               const gallery::GalleryIndex& index,
                               int64_t recall_n, ExportResult& result) {
  gallery::Manifest m;
  m.model_name = options.model_name;
  m.architecture = encoder.config().ToMetadata();
  m.architecture_description = encoder.config().Describe();
  m.embedding_dim = encoder.embed_dim();
  m.index_type = options.index_factory;
  if (absl::StrContains(options.index_factory, "IVF")) {
    m.index_params["nprobe"] = absl::StrCat(options.nprobe);
  }
  if (absl::StrContains(options.index_factory, "HNSW")) {
    m.index_params["efSearch"] = absl::StrCat(options.ef_search);
  }
  m.recall_at_10 = result.recall_at_10;
  m.recall_queries = recall_n;
  m.num_images = index.size();
  m.num_pedestrian_images = index.CountOf(eval::Category::kPedestrian);
  m.num_vehicle_images = index.CountOf(eval::Category::kVehicle);
  if (!options.labels.empty()) {
    result.labelled_images = m.num_pedestrian_images + m.num_vehicle_images;
    result.label_coverage =
        static_cast<double>(result.labelled_images) / index.size();
    m.labels_file = options.labels;
    m.label_coverage = result.label_coverage;
  }
  m.image_resolution = encoder.config().image_resolution;
  m.resize_mode = clip::ResizeModeName(options.resize_mode);
  m.embedding_precision = clip::PrecisionName(encoder.precision());
  m.dataset = fs::absolute(options.images).string();
  return m;
}

// With attribute heads in the staged weights file: the image head's
// predictions for the gallery (`ordered`, index row order) go into `w` as
// kAttributeProbsTensor, and the layout, the fitted re-rank weights and
// their validation scores into `m`. Nothing without heads.
absl::Status AddAttributeProbs(const std::string& weights_path,
                               const std::vector<float>& ordered, int64_t dim,
                               clip::SafetensorsWriter& w,
                               gallery::Manifest& m) {
  ASSIGN_OR_RETURN(const clip::SafetensorsFile weights,
                   clip::SafetensorsFile::Read(weights_path));
  if (!rerank::AttributeHead::PresentIn(weights)) return absl::OkStatus();
  ASSIGN_OR_RETURN(const rerank::AttributeHead head,
                   rerank::AttributeHead::Read(weights, rerank::Tower::kImage));
  if (head.dim() != dim) {
    return absl::FailedPreconditionError(
        absl::StrCat(weights_path, ": attribute head of dimension ", head.dim(),
                     " for embeddings of ", dim));
  }
  const int64_t n = static_cast<int64_t>(ordered.size()) / dim;
  const std::vector<float> probs = head.Predict(ordered.data(), n);
  RETURN_IF_ERROR(
      w.Add(gallery::kAttributeProbsTensor, clip::DType::kF32,
            {n, eval::AttributeLayout::kSize},
            absl::string_view(reinterpret_cast<const char*>(probs.data()),
                              probs.size() * sizeof(float))));
  m.attribute_layout = eval::AttributeLayoutId();
  const auto& meta = weights.metadata();
  if (auto it = meta.find("rerank_weights"); it != meta.end()) {
    absl::StatusOr<rerank::RerankWeights> parsed =
        rerank::RerankWeights::Parse(it->second);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(weights_path, ": ", parsed.status().message()));
    }
    m.rerank_weights = parsed->ToString();
    int64_t candidates = 0;
    auto c = meta.find("rerank_candidates");
    if (c == meta.end() || !absl::SimpleAtoi(c->second, &candidates) ||
        candidates < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          weights_path, ": rerank_weights without a valid rerank_candidates"));
    }
    m.rerank_candidates = candidates;
  }
  for (const auto& [k, v] : meta) {
    double d;
    if ((absl::StartsWith(k, "rerank_val_") || k == "val_map10") &&
        absl::SimpleAtod(v, &d)) {
      m.training_metrics[k] = d;
    }
  }
  return absl::OkStatus();
}

// Writes the weights, the tokenizer (OpenAI's format, or Hugging Face's when
// it cannot be written as OpenAI's; recorded in `m`), the index and the raw
// embeddings in index row order into `dir`.
absl::Status WriteVersionFiles(const std::string& dir,
                               const ExportOptions& options,
                               const clip::ClipEncoder& encoder,
                               const gallery::GalleryIndex& index,
                               const Gallery& gallery, int64_t dim,
                               gallery::Manifest& m) {
  RETURN_IF_ERROR(StageWeights(options.weights, dir + "/" + m.weights_file));
  auto saved = encoder.tokenizer().SaveOpenAi(dir + "/" + m.tokenizer_file);
  if (absl::IsFailedPrecondition(saved)) {
    m.tokenizer_file = "vocab.json";
    RETURN_IF_ERROR(encoder.tokenizer().SaveHuggingFace(dir + "/vocab.json",
                                                        dir + "/merges.txt"));
  } else {
    RETURN_IF_ERROR(saved);
  }
  RETURN_IF_ERROR(
      index.Save(dir + "/" + m.index_file, dir + "/" + m.images_file));
  const std::vector<float> ordered = InIndexOrder(gallery, index, dim);
  clip::SafetensorsWriter w;
  RETURN_IF_ERROR(
      w.Add("embeddings", clip::DType::kF32, {index.size(), dim},
            absl::string_view(reinterpret_cast<const char*>(ordered.data()),
                              ordered.size() * sizeof(float))));
  if (options.attribute_heads) {
    RETURN_IF_ERROR(
        AddAttributeProbs(dir + "/" + m.weights_file, ordered, dim, w, m));
  }
  w.SetMetadata("rows", "images.txt");
  return w.WriteFile(dir + "/" + m.embeddings_file);
}

}  // namespace

absl::StatusOr<ExportResult> Export(
    const ExportOptions& options,
    const std::function<void(int64_t, int64_t)>& progress) {
  RETURN_IF_ERROR(ValidateOptions(options));
  RETURN_IF_ERROR(gallery::VersionWriter::CheckWritable(options.models_dir));
  ASSIGN_OR_RETURN(std::vector<std::string> paths,
                   clip::ListImages(options.images));
  RETURN_IF_ERROR(CheckUniqueFileNames(paths, options.images));
  ASSIGN_OR_RETURN(const CategoryMap category_of,
                   ReadCategories(options, paths));
  ASSIGN_OR_RETURN(std::unique_ptr<clip::ClipEncoder> encoder,
                   LoadEncoder(options));

  ExportResult result;
  result.encoder_description = encoder->Describe();
  const int64_t dim = encoder->embed_dim();
  ASSIGN_OR_RETURN(
      const Gallery gallery,
      EncodeGallery(options, paths, category_of, *encoder, progress, result));
  if (result.num_images == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("no readable images in ", options.images));
  }
  const auto index_start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<gallery::GalleryIndex> index,
                   BuildIndex(options, gallery, dim));
  result.index_seconds = Since(index_start);
  ASSIGN_OR_RETURN(
      const int64_t recall_n,
      MeasureRecall(options, *encoder, *index, gallery, dim, result));

  ASSIGN_OR_RETURN(std::unique_ptr<gallery::VersionWriter> writer,
                   gallery::VersionWriter::Begin(options.models_dir));
  gallery::Manifest m =
      MakeManifest(options, *encoder, *index, recall_n, result);
  RETURN_IF_ERROR(WriteVersionFiles(writer->staging_dir(), options, *encoder,
                                    *index, gallery, dim, m));
  result.attribute_layout = m.attribute_layout;
  result.rerank_weights = m.rerank_weights;
  ASSIGN_OR_RETURN(result.version, writer->Publish(m));
  result.version_dir = absl::StrCat(options.models_dir, "/", result.version);
  return result;
}

}  // namespace exporter
