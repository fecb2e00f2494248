#include "exporter/export.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "clip/embed_tool.h"
#include "clip/encoder.h"
#include "clip/safetensors.h"
#include "clip/weights.h"
#include "common/file_util.h"
#include "common/sha256.h"
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
  const bool encode_shard = options.num_shards > 1 && !options.merge_shards;
  if (options.num_shards < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_shards must be >= 0, got ", options.num_shards));
  }
  if (encode_shard) {
    if (options.shard_index < 0 || options.shard_index >= options.num_shards) {
      return absl::InvalidArgumentError(
          absl::StrCat("shard_index must be in [0, ", options.num_shards,
                       "), got ", options.shard_index));
    }
    if (options.shard_dir.empty() || options.weights.empty() ||
        options.images.empty()) {
      return absl::InvalidArgumentError(
          "a sharded encoding needs weights, images and shard_dir");
    }
  } else if (options.merge_shards) {
    if (options.shard_dir.empty() || options.weights.empty() ||
        options.models_dir.empty()) {
      return absl::InvalidArgumentError(
          "merging shards needs weights, shard_dir and models_dir");
    }
  } else if (options.from_version > 0) {
    if (options.models_dir.empty() ||
        (options.images.empty() && options.remove_list.empty())) {
      return absl::InvalidArgumentError(
          "an incremental version needs models_dir, and images to add or a "
          "remove list");
    }
  } else if (options.from_version < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "from_version must be a version (>= 1), got ", options.from_version));
  } else if (options.weights.empty() || options.images.empty() ||
             options.models_dir.empty()) {
    return absl::InvalidArgumentError(
        "weights, images and models_dir are required");
  }
  if ((encode_shard || options.merge_shards) && options.from_version != 0) {
    return absl::InvalidArgumentError(
        "an incremental version (from_version) cannot be sharded: its added "
        "images are encoded by one process");
  }
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError("batch_size must be >= 1");
  }
  if (!(options.min_label_coverage >= 0 && options.min_label_coverage <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_label_coverage must be in [0, 1], got ",
                     options.min_label_coverage));
  }
  if (!(options.retrain_share >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retrain_share must be >= 0, got ", options.retrain_share));
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

// What an incremental version takes from its parent.
struct Parent {
  int64_t version = 0;
  std::string dir;
  gallery::Manifest manifest;
  std::unique_ptr<gallery::GalleryIndex> index;  // on the CPU
  int64_t added = 0;
  int64_t removed = 0;
};

// The index and where its training came from (manifest's index_trained_*).
struct BuiltIndex {
  std::unique_ptr<gallery::GalleryIndex> index;
  bool trained_here = false;
  int64_t trained_version = 0;
  int64_t trained_images = 0;
  int64_t added_since_training = 0;
};

// Builds the index of `gallery`. With a parent whose index type is trained
// and whose training still covers the gallery (the images added since stay
// within retrain_share of those it was trained on), the parent's training
// is reused; otherwise a trained type is trained on this gallery.
absl::StatusOr<BuiltIndex> BuildIndex(const ExportOptions& options,
                                      const Gallery& gallery, int64_t dim,
                                      const Parent* parent) {
  gallery::BuildOptions bopts;
  bopts.factory = options.index_factory;
  bopts.nprobe = options.nprobe;
  bopts.ef_search = options.ef_search;
  bopts.refine_factor = options.refine_factor;
  bopts.max_training_rows = options.max_training_rows;
  bopts.seed = options.seed;
  bopts.use_gpu = options.gpu_index;
  ASSIGN_OR_RETURN(
      const bool needs_training,
      gallery::GalleryIndex::FactoryNeedsTraining(options.index_factory, dim));
  BuiltIndex out;
  if (needs_training && parent != nullptr) {
    const gallery::Manifest& pm = parent->manifest;
    const int64_t trained_on =
        pm.index_trained_images > 0 ? pm.index_trained_images : pm.num_images;
    const int64_t since = pm.added_since_training + parent->added;
    if (static_cast<double>(since) <=
        options.retrain_share * static_cast<double>(trained_on)) {
      bopts.trained = parent->index.get();
      out.trained_version = pm.index_trained_version > 0
                                ? pm.index_trained_version
                                : parent->version;
      out.trained_images = trained_on;
      out.added_since_training = since;
    }
  }
  if (needs_training && bopts.trained == nullptr) {
    out.trained_here = true;
    out.trained_images = static_cast<int64_t>(gallery.names.size());
  }
  ASSIGN_OR_RETURN(out.index, gallery::GalleryIndex::Build(
                                  gallery.embeddings, dim, gallery.names,
                                  gallery.categories, bopts));
  return out;
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
  if (absl::StrContains(options.index_factory, "RFlat") ||
      absl::StrContains(options.index_factory, "Refine")) {
    m.index_params["k_factor_rf"] = absl::StrCat(options.refine_factor);
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
  m.dataset =
      options.images.empty() ? "" : fs::absolute(options.images).string();
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

// The names of a remove list that are in the parent, each once; errors
// name the list's file and line.
absl::StatusOr<std::unordered_set<std::string>> ReadRemoveList(
    const std::string& path, const Parent& parent) {
  std::unordered_set<std::string> in_parent(parent.index->names().begin(),
                                            parent.index->names().end());
  ASSIGN_OR_RETURN(const std::string text, common::ReadFile(path));
  std::unordered_set<std::string> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::string name(line.substr(0, line.find('\t')));
    if (in_parent.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": image '", name,
                       "' is not in version ", parent.version));
    }
    if (!out.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": image '", name, "' is listed twice"));
    }
  }
  return out;
}

// The parent's index read into memory, not mapped: its trained state is
// copied and refilled (BuildOptions::trained).
gallery::LoadOptions ReadIndex() {
  gallery::LoadOptions o;
  o.mmap = false;
  return o;
}

// Loads the parent version (on the CPU) and points the options at what its
// embeddings were made with: its weights and tokenizer, precision, resize
// mode and index. Given weights must be the parent's file.
absl::StatusOr<Parent> LoadParent(ExportOptions& options) {
  Parent parent;
  parent.version = options.from_version;
  ASSIGN_OR_RETURN(gallery::LoadedVersion loaded,
                   gallery::LoadVersion(options.models_dir,
                                        options.from_version, ReadIndex()));
  parent.dir = loaded.dir;
  parent.manifest = std::move(loaded.manifest);
  parent.index = std::move(loaded.index);
  const gallery::Manifest& pm = parent.manifest;
  if (pm.embeddings_file.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", parent.version, " (", parent.dir,
        ") stores no embeddings to reuse; export the gallery from scratch"));
  }
  const std::string parent_weights = parent.dir + "/" + pm.weights_file;
  if (!options.weights.empty()) {
    ASSIGN_OR_RETURN(const std::string sha,
                     common::Sha256File(options.weights));
    if (sha != pm.weights_sha256) {
      return absl::FailedPreconditionError(absl::StrCat(
          options.weights, " is not the weights of version ", parent.version,
          " (sha256 ", sha, ", the version's ", pm.weights_sha256,
          "): its stored embeddings could not be mixed with new ones; "
          "export from scratch with new weights"));
    }
  }
  options.weights = parent_weights;
  options.vocab = parent.dir;
  ASSIGN_OR_RETURN(options.precision,
                   clip::ParsePrecision(pm.embedding_precision));
  ASSIGN_OR_RETURN(options.resize_mode, clip::ParseResizeMode(pm.resize_mode));
  options.index_factory = pm.index_type;
  if (auto it = pm.index_params.find("nprobe"); it != pm.index_params.end()) {
    (void)absl::SimpleAtoi(it->second, &options.nprobe);
  }
  if (auto it = pm.index_params.find("efSearch"); it != pm.index_params.end()) {
    (void)absl::SimpleAtoi(it->second, &options.ef_search);
  }
  if (auto it = pm.index_params.find("k_factor_rf");
      it != pm.index_params.end()) {
    (void)absl::SimpleAtoi(it->second, &options.refine_factor);
  }
  if (options.labels.empty()) {
    options.min_label_coverage = 0;
  }
  return parent;
}

// The parent's images less the removed ones, with their stored embeddings,
// in the parent's row order.
absl::StatusOr<Gallery> KeptImages(
    const Parent& parent, const std::unordered_set<std::string>& removed,
    int64_t dim) {
  const std::string path = parent.dir + "/" + parent.manifest.embeddings_file;
  ASSIGN_OR_RETURN(const clip::SafetensorsFile file,
                   clip::SafetensorsFile::Read(path));
  ASSIGN_OR_RETURN(const std::vector<float> stored, file.GetF32("embeddings"));
  const gallery::GalleryIndex& index = *parent.index;
  if (static_cast<int64_t>(stored.size()) != index.size() * dim) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": embeddings hold ", stored.size(),
                     " floats, expected ", index.size(), " x ", dim));
  }
  Gallery kept;
  for (int64_t r = 0; r < index.size(); ++r) {
    if (removed.count(index.names()[r]) > 0) continue;
    kept.embeddings.insert(kept.embeddings.end(), stored.begin() + r * dim,
                           stored.begin() + (r + 1) * dim);
    kept.names.push_back(index.names()[r]);
    kept.categories.push_back(index.category(r));
  }
  return kept;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) absl::StrAppend(&out, l, "\n");
  return out;
}

// Sharded encoding: encodes shard shard_index of the image list and writes
// its two files into shard_dir.
absl::StatusOr<ExportResult> EncodeShard(
    const ExportOptions& options, const std::vector<std::string>& paths,
    const CategoryMap& category_of, clip::ClipEncoder& encoder,
    const std::function<void(int64_t, int64_t)>& progress) {
  ExportResult result;
  result.encoder_description = encoder.Describe();
  const auto [first, last] =
      ShardRows(static_cast<int64_t>(paths.size()), options.batch_size,
                options.num_shards, options.shard_index);
  const std::vector<std::string> mine(paths.begin() + first,
                                      paths.begin() + last);
  Gallery g;
  if (!mine.empty()) {
    ASSIGN_OR_RETURN(g, EncodeGallery(options, mine, category_of, encoder,
                                      progress, result));
  }
  std::string listing;
  for (size_t i = 0; i < g.names.size(); ++i) {
    absl::StrAppend(&listing, g.names[i], "\t",
                    gallery::CategoryWord(g.categories[i]), "\n");
  }
  std::error_code ec;
  fs::create_directories(options.shard_dir, ec);
  const std::string base = options.shard_dir + "/";
  const std::string names_path =
      base + ShardFileName(options.shard_index, options.num_shards, "txt");
  RETURN_IF_ERROR(common::WriteFileAtomically(names_path, listing));
  const int64_t dim = encoder.embed_dim();
  clip::SafetensorsWriter w;
  RETURN_IF_ERROR(w.Add(
      "embeddings", clip::DType::kF32,
      {static_cast<int64_t>(g.names.size()), dim},
      absl::string_view(reinterpret_cast<const char*>(g.embeddings.data()),
                        g.embeddings.size() * sizeof(float))));
  ASSIGN_OR_RETURN(const std::string weights_sha,
                   common::Sha256File(options.weights));
  w.SetMetadata("list_sha256", common::Sha256Hex(JoinLines(paths)));
  w.SetMetadata("list_size", absl::StrCat(paths.size()));
  w.SetMetadata("first_row", absl::StrCat(first));
  w.SetMetadata("last_row", absl::StrCat(last));
  w.SetMetadata("num_shards", absl::StrCat(options.num_shards));
  w.SetMetadata("shard_index", absl::StrCat(options.shard_index));
  w.SetMetadata("skipped_images", absl::StrCat(result.skipped_images));
  w.SetMetadata("names_sha256", common::Sha256Hex(listing));
  w.SetMetadata("weights_sha256", weights_sha);
  w.SetMetadata("precision", clip::PrecisionName(encoder.precision()));
  w.SetMetadata("resize_mode", clip::ResizeModeName(options.resize_mode));
  w.SetMetadata("images", fs::absolute(options.images).string());
  w.SetMetadata("labels", options.labels);
  result.shard_file = base + ShardFileName(options.shard_index,
                                           options.num_shards, "safetensors");
  RETURN_IF_ERROR(w.WriteFile(result.shard_file));
  return result;
}

// The metadata value `key` of shard file `path`, or DATA_LOSS naming both.
absl::StatusOr<std::string> ShardMeta(const clip::SafetensorsFile& file,
                                      const std::string& path,
                                      const std::string& key) {
  auto it = file.metadata().find(key);
  if (it == file.metadata().end()) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a shard file (no metadata '", key, "')"));
  }
  return it->second;
}

absl::StatusOr<int64_t> ShardMetaInt(const clip::SafetensorsFile& file,
                                     const std::string& path,
                                     const std::string& key) {
  ASSIGN_OR_RETURN(const std::string v, ShardMeta(file, path, key));
  int64_t out = 0;
  if (!absl::SimpleAtoi(v, &out)) {
    return absl::DataLossError(
        absl::StrCat(path, ": metadata '", key, "' is not an integer: ", v));
  }
  return out;
}

// The number of shards of shard_dir, from its file names; all must agree.
absl::StatusOr<int> CountShards(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("shard directory ", dir, ": ", ec.message()));
  }
  int count = 0;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    int index = 0;
    int of = 0;
    char tail = 0;
    if (std::sscanf(name.c_str(), "shard-%5d-of-%5d.safetensor%c", &index, &of,
                    &tail) != 3 ||
        tail != 's' || name.size() != 32) {
      continue;
    }
    if (count != 0 && of != count) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, " holds shards of ", count, " and of ", of,
                       " shards; remove the files of the other run"));
    }
    count = of;
  }
  if (count == 0) {
    return absl::NotFoundError(
        absl::StrCat(dir, " holds no shard-*-of-*.safetensors files to merge"));
  }
  return count;
}

// Merging: the gallery of the shards of shard_dir, in list order, checked
// to be complete and of one list, weights file and preprocessing; points
// `options` at how they were made.
absl::StatusOr<Gallery> ReadShards(ExportOptions& options, int64_t dim,
                                   ExportResult& result) {
  ASSIGN_OR_RETURN(const int count, CountShards(options.shard_dir));
  if (options.num_shards > 1 && options.num_shards != count) {
    return absl::FailedPreconditionError(
        absl::StrCat(options.shard_dir, " holds shards of ", count,
                     " shards, not num_shards ", options.num_shards));
  }
  ASSIGN_OR_RETURN(const std::string weights_sha,
                   common::Sha256File(options.weights));
  Gallery g;
  std::map<std::string, std::string> first_meta;
  int64_t next_row = 0;
  int64_t list_size = 0;
  for (int i = 0; i < count; ++i) {
    const std::string path =
        options.shard_dir + "/" + ShardFileName(i, count, "safetensors");
    if (!fs::exists(path)) {
      return absl::NotFoundError(
          absl::StrCat("shard ", i, " of ", count, " (", path,
                       ") is missing: encode it with shard_index=", i));
    }
    ASSIGN_OR_RETURN(const clip::SafetensorsFile file,
                     clip::SafetensorsFile::Read(path));
    for (const char* key : {"list_sha256", "list_size", "weights_sha256",
                            "precision", "resize_mode", "images", "labels"}) {
      ASSIGN_OR_RETURN(const std::string v, ShardMeta(file, path, key));
      if (i == 0) {
        first_meta[key] = v;
      } else if (v != first_meta[key]) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, ": ", key, " '", v, "' differs from shard 0's '",
            first_meta[key], "': the shards come from different runs"));
      }
    }
    if (first_meta["weights_sha256"] != weights_sha) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": encoded with other weights than ", options.weights,
          " (sha256 ", first_meta["weights_sha256"], ", not ", weights_sha,
          ")"));
    }
    ASSIGN_OR_RETURN(const int64_t first,
                     ShardMetaInt(file, path, "first_row"));
    ASSIGN_OR_RETURN(const int64_t last, ShardMetaInt(file, path, "last_row"));
    ASSIGN_OR_RETURN(const int64_t skipped,
                     ShardMetaInt(file, path, "skipped_images"));
    ASSIGN_OR_RETURN(list_size, ShardMetaInt(file, path, "list_size"));
    if (first != next_row || last < first) {
      return absl::DataLossError(
          absl::StrCat(path, ": holds rows [", first, ", ", last,
                       ") of the list, expected ", "rows from ", next_row));
    }
    next_row = last;
    result.skipped_images += skipped;
    const std::string names_path =
        options.shard_dir + "/" + ShardFileName(i, count, "txt");
    ASSIGN_OR_RETURN(const std::string listing, common::ReadFile(names_path));
    ASSIGN_OR_RETURN(const std::string names_sha,
                     ShardMeta(file, path, "names_sha256"));
    if (common::Sha256Hex(listing) != names_sha) {
      return absl::DataLossError(absl::StrCat(
          names_path, " does not match ", path,
          " (another run's, or changed since); encode shard ", i, " again"));
    }
    ASSIGN_OR_RETURN(const std::vector<float> e, file.GetF32("embeddings"));
    int64_t rows = 0;
    for (absl::string_view line : absl::StrSplit(listing, '\n')) {
      if (line.empty()) continue;
      ++rows;
      std::vector<std::string> fields = absl::StrSplit(line, '\t');
      if (fields.size() != 2) {
        return absl::DataLossError(absl::StrCat(
            names_path, ":", rows, ": expected 'name<TAB>category'"));
      }
      ASSIGN_OR_RETURN(const eval::Category c,
                       gallery::ParseCategoryWord(fields[1]));
      g.names.push_back(std::move(fields[0]));
      g.categories.push_back(c);
    }
    if (rows * dim != static_cast<int64_t>(e.size())) {
      return absl::DataLossError(
          absl::StrCat(path, ": ", e.size(), " floats for the ", rows,
                       " images of ", names_path, " at dimension ", dim));
    }
    g.embeddings.insert(g.embeddings.end(), e.begin(), e.end());
  }
  if (next_row != list_size) {
    return absl::DataLossError(absl::StrCat("the shards of ", options.shard_dir,
                                            " cover rows [0, ", next_row,
                                            ") of a list of ", list_size));
  }
  options.images = first_meta["images"];
  options.labels = first_meta["labels"];
  ASSIGN_OR_RETURN(options.resize_mode,
                   clip::ParseResizeMode(first_meta["resize_mode"]));
  result.merged_shards = count;
  result.num_images = static_cast<int64_t>(g.names.size());
  return g;
}

// Builds the index of `gallery`, measures its recall and publishes the
// version.
absl::Status BuildAndPublish(const ExportOptions& options,
                             clip::ClipEncoder& encoder, const Gallery& gallery,
                             const Parent* parent, ExportResult& result) {
  const int64_t dim = encoder.embed_dim();
  if (gallery.names.empty()) {
    return absl::InvalidArgumentError(
        parent != nullptr
            ? absl::StrCat("version ", parent->version,
                           " less the removed images plus the added ones "
                           "leaves no images")
            : absl::StrCat("no readable images in ", options.images));
  }
  result.num_images = static_cast<int64_t>(gallery.names.size());
  const auto index_start = Clock::now();
  ASSIGN_OR_RETURN(BuiltIndex built, BuildIndex(options, gallery, dim, parent));
  const gallery::GalleryIndex& index = *built.index;
  result.index_seconds = Since(index_start);
  result.index_trained = built.trained_here;
  ASSIGN_OR_RETURN(
      const int64_t recall_n,
      MeasureRecall(options, encoder, index, gallery, dim, result));

  ASSIGN_OR_RETURN(std::unique_ptr<gallery::VersionWriter> writer,
                   gallery::VersionWriter::Begin(options.models_dir));
  gallery::Manifest m = MakeManifest(options, encoder, index, recall_n, result);
  m.index_trained_version = built.trained_version;
  m.index_trained_images = built.trained_images;
  m.added_since_training = built.added_since_training;
  m.encoded_shards = result.merged_shards;
  if (parent != nullptr) {
    const gallery::Manifest& pm = parent->manifest;
    m.parent_version = parent->version;
    m.added_images = parent->added;
    m.removed_images = parent->removed;
    m.added_from =
        options.images.empty() ? "" : fs::absolute(options.images).string();
    m.removed_from = options.remove_list.empty()
                         ? ""
                         : fs::absolute(options.remove_list).string();
    m.dataset = pm.dataset;
    if (options.labels.empty() && !pm.labels_file.empty()) {
      m.labels_file = pm.labels_file;
      m.label_coverage =
          static_cast<double>(m.num_pedestrian_images + m.num_vehicle_images) /
          static_cast<double>(m.num_images);
    }
  }
  RETURN_IF_ERROR(WriteVersionFiles(writer->staging_dir(), options, encoder,
                                    index, gallery, dim, m));
  result.attribute_layout = m.attribute_layout;
  result.rerank_weights = m.rerank_weights;
  ASSIGN_OR_RETURN(result.version, writer->Publish(m));
  result.version_dir = absl::StrCat(options.models_dir, "/", result.version);
  return absl::OkStatus();
}

}  // namespace

std::pair<int64_t, int64_t> ShardRows(int64_t num_images, int batch_size,
                                      int num_shards, int shard_index) {
  const int64_t batches = (num_images + batch_size - 1) / batch_size;
  const int64_t per_shard = (batches + num_shards - 1) / num_shards;
  const int64_t first =
      std::min(num_images, shard_index * per_shard * batch_size);
  const int64_t last =
      std::min(num_images, (shard_index + 1) * per_shard * batch_size);
  return {first, last};
}

std::string ShardFileName(int shard_index, int num_shards,
                          const std::string& extension) {
  return absl::StrFormat("shard-%05d-of-%05d.%s", shard_index, num_shards,
                         extension);
}

absl::StatusOr<ExportResult> Export(
    const ExportOptions& given,
    const std::function<void(int64_t, int64_t)>& progress) {
  RETURN_IF_ERROR(ValidateOptions(given));
  ExportOptions options = given;
  const bool encode_shard = options.num_shards > 1 && !options.merge_shards;
  if (!encode_shard) {
    RETURN_IF_ERROR(gallery::VersionWriter::CheckWritable(options.models_dir));
  }
  std::optional<Parent> parent;
  std::unordered_set<std::string> removed;
  if (options.from_version > 0) {
    ASSIGN_OR_RETURN(parent, LoadParent(options));
    if (!options.remove_list.empty()) {
      ASSIGN_OR_RETURN(removed, ReadRemoveList(options.remove_list, *parent));
    }
  }
  std::vector<std::string> paths;
  CategoryMap category_of;
  if (!options.merge_shards && !options.images.empty()) {
    ASSIGN_OR_RETURN(paths, clip::ListImages(options.images));
    RETURN_IF_ERROR(CheckUniqueFileNames(paths, options.images));
    if (parent.has_value()) {
      for (const std::string& path : paths) {
        const std::string name = fs::path(path).filename().string();
        if (removed.count(name) == 0 &&
            absl::c_linear_search(parent->index->names(), name)) {
          return absl::InvalidArgumentError(
              absl::StrCat(options.images, ": image ", path,
                           " is already in version ", parent->version, " as ",
                           name, "; list it for removal too to replace it"));
        }
      }
    }
    ASSIGN_OR_RETURN(category_of, ReadCategories(options, paths));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<clip::ClipEncoder> encoder,
                   LoadEncoder(options));
  if (encode_shard) {
    return EncodeShard(options, paths, category_of, *encoder, progress);
  }
  ExportResult result;
  result.encoder_description = encoder->Describe();
  const int64_t dim = encoder->embed_dim();
  Gallery gallery;
  if (options.merge_shards) {
    ASSIGN_OR_RETURN(gallery, ReadShards(options, dim, result));
  } else if (parent.has_value()) {
    ASSIGN_OR_RETURN(gallery, KeptImages(*parent, removed, dim));
    parent->removed = static_cast<int64_t>(removed.size());
    if (!paths.empty()) {
      ASSIGN_OR_RETURN(Gallery added,
                       EncodeGallery(options, paths, category_of, *encoder,
                                     progress, result));
      parent->added = static_cast<int64_t>(added.names.size());
      gallery.embeddings.insert(gallery.embeddings.end(),
                                added.embeddings.begin(),
                                added.embeddings.end());
      gallery.names.insert(gallery.names.end(), added.names.begin(),
                           added.names.end());
      gallery.categories.insert(gallery.categories.end(),
                                added.categories.begin(),
                                added.categories.end());
    }
    result.parent_version = parent->version;
    result.added_images = parent->added;
    result.removed_images = parent->removed;
  } else {
    ASSIGN_OR_RETURN(gallery, EncodeGallery(options, paths, category_of,
                                            *encoder, progress, result));
  }
  if (options.index_factory.empty() || options.index_factory == "auto") {
    const gallery::IndexChoice choice = gallery::DefaultIndexChoice(
        static_cast<int64_t>(gallery.names.size()), dim);
    options.index_factory = choice.factory;
    options.nprobe = choice.nprobe;
    options.ef_search = choice.ef_search;
    options.refine_factor = choice.refine_factor;
    result.index_chosen = true;
  }
  result.index_factory = options.index_factory;
  RETURN_IF_ERROR(BuildAndPublish(options, *encoder, gallery,
                                  parent.has_value() ? &*parent : nullptr,
                                  result));
  return result;
}

}  // namespace exporter
