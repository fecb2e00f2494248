#include "server/model_manager.h"

#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "clip/image_preprocess.h"
#include "clip/safetensors.h"
#include "common/process_memory.h"
#include "common/status_macros.h"
#include "eval/attributes.h"
#include "opencv2/core.hpp"

namespace server {
namespace {

// An attribute file that does not fit the version: FAILED_PRECONDITION like
// the version's other mismatches. Missing and corrupt files keep their
// NOT_FOUND / DATA_LOSS.
absl::Status AsMismatch(const absl::Status& status) {
  if (absl::IsInvalidArgument(status) || absl::IsNotFound(status)) {
    return absl::FailedPreconditionError(status.message());
  }
  return status;
}

// "1.2 GiB"-style, for the log.
std::string HumanBytes(int64_t bytes) {
  const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrCat(bytes, " B")
                : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string DescribeMemory(const ServedModel& model) {
  std::string out =
      absl::StrCat("memory +", HumanBytes(model.memory_bytes), " resident (",
                   HumanBytes(model.memory_anon_bytes), " private, ",
                   HumanBytes(model.memory_file_bytes), " file-backed)");
  if (model.index->mapped_bytes() > 0) {
    absl::StrAppend(&out, ", index lists mapped from ",
                    HumanBytes(model.index->mapped_bytes()), " of file");
  }
  return out;
}

std::string DescribeRerank(const ServedModel& model) {
  if (!model.has_attribute_heads()) return "no attribute heads";
  if (!model.reranks()) {
    return absl::StrCat("attribute heads (routing), no re-ranking (weights ",
                        model.rerank_weights.ToString(), ")");
  }
  return absl::StrCat("attribute heads, re-ranking the top ",
                      model.rerank_candidates, " by ",
                      model.rerank_weights.ToString());
}

// What a warm-up encodes: a caption in the gallery's style.
constexpr char kWarmupText[] = "a white car driving on the road";

absl::Status PolicyError(absl::string_view text, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("--model_versions: \"", absl::CHexEscape(text), "\": ", what,
                   " (expected latest, latest:N with N in [1, ",
                   kMaxLoadedVersions, "], or specific:V,V,... / V,V,...)"));
}

// FAILED_PRECONDITION naming `what` when `values` holds a NaN or infinity.
absl::Status CheckFinite(const std::vector<float>& values,
                         absl::string_view what) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " holds ", values[i], " at ", i,
                       ": the model does not compute finite embeddings"));
    }
  }
  return absl::OkStatus();
}

absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

}  // namespace

VersionPolicy VersionPolicy::Latest(int n) {
  VersionPolicy p;
  p.kind = Kind::kLatest;
  p.latest = n;
  return p;
}

VersionPolicy VersionPolicy::Specific(std::vector<int64_t> versions) {
  std::sort(versions.begin(), versions.end());
  versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
  VersionPolicy p;
  p.kind = Kind::kSpecific;
  p.latest = 0;
  p.versions = std::move(versions);
  return p;
}

bool VersionPolicy::Allows(int64_t version) const {
  return kind == Kind::kLatest ||
         std::binary_search(versions.begin(), versions.end(), version);
}

std::string VersionPolicy::ToString() const {
  if (kind == Kind::kLatest) return absl::StrCat("latest:", latest);
  return absl::StrCat("specific:", absl::StrJoin(versions, ","));
}

absl::StatusOr<VersionPolicy> ParseVersionPolicy(absl::string_view text) {
  const absl::string_view value = absl::StripAsciiWhitespace(text);
  if (value.empty()) return PolicyError(text, "empty");
  absl::string_view rest = value;
  if (absl::ConsumePrefix(&rest, "latest")) {
    if (rest.empty()) return VersionPolicy::Latest(1);
    if (!absl::ConsumePrefix(&rest, ":")) {
      return PolicyError(text, "not a policy");
    }
    int n = 0;
    if (!absl::SimpleAtoi(rest, &n) || n < 1 || n > kMaxLoadedVersions) {
      return PolicyError(
          text, absl::StrCat("latest:N needs N in [1, ", kMaxLoadedVersions,
                             "], not \"", absl::CHexEscape(rest), "\""));
    }
    return VersionPolicy::Latest(n);
  }
  const bool named = absl::ConsumePrefix(&rest, "specific:");
  if (absl::StripAsciiWhitespace(rest).empty()) {
    return PolicyError(text, "no version listed");
  }
  std::vector<int64_t> versions;
  for (absl::string_view item : absl::StrSplit(rest, ',')) {
    item = absl::StripAsciiWhitespace(item);
    int64_t v = 0;
    if (!absl::SimpleAtoi(item, &v) || v < 1) {
      return PolicyError(
          text, item.empty()
                    ? std::string("an empty version in the list")
                    : absl::StrCat("\"", absl::CHexEscape(item), "\" is not ",
                                   named ? "a version" : "a policy or version",
                                   " (versions are integers >= 1)"));
    }
    if (std::find(versions.begin(), versions.end(), v) != versions.end()) {
      return PolicyError(text, absl::StrCat("version ", v, " is listed twice"));
    }
    versions.push_back(v);
  }
  if (versions.size() > static_cast<size_t>(kMaxLoadedVersions)) {
    return PolicyError(
        text, absl::StrCat(versions.size(), " versions listed, at most ",
                           kMaxLoadedVersions));
  }
  return VersionPolicy::Specific(std::move(versions));
}

absl::Status ValidateDefaultVersion(const VersionPolicy& policy,
                                    int64_t default_version) {
  if (default_version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--default_version: ", default_version,
                     " is not >= 0 (0: the newest loaded version)"));
  }
  if (default_version != 0 && !policy.Allows(default_version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--default_version: version ", default_version,
                     " is not one of --model_versions=", policy.ToString()));
  }
  return absl::OkStatus();
}

ModelManager::ModelManager(Options options, LoadCallback on_load)
    : options_(std::move(options)), on_load_(std::move(on_load)) {}

ModelManager::~ModelManager() { Stop(); }

std::shared_ptr<const ServedModel> ModelManager::Current() const {
  common::MutexLock lock(&mu_);
  auto it = loaded_.find(default_version_);
  return it == loaded_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelManager::Get(
    int64_t version) const {
  common::MutexLock lock(&mu_);
  if (loaded_.empty()) {
    return absl::UnavailableError("no model version is loaded yet");
  }
  auto it = loaded_.find(version == 0 ? default_version_ : version);
  if (it == loaded_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "model_version: version ", version,
        " is not loaded (loaded: ", absl::StrJoin(LoadedLocked(), ", "), ")"));
  }
  return it->second;
}

std::vector<int64_t> ModelManager::LoadedLocked() const {
  std::vector<int64_t> out;
  for (const auto& [v, model] : loaded_) out.push_back(v);
  return out;
}

std::vector<int64_t> ModelManager::LoadedVersions() const {
  common::MutexLock lock(&mu_);
  return LoadedLocked();
}

int64_t ModelManager::DefaultVersion() const {
  common::MutexLock lock(&mu_);
  return default_version_;
}

int64_t ModelManager::ChooseDefault() {
  if (loaded_.empty()) return 0;
  const int64_t wanted = options_.default_version;
  const int64_t newest = loaded_.rbegin()->first;
  if (wanted == 0) return newest;
  if (loaded_.count(wanted) != 0) {
    default_missing_logged_ = false;
    return wanted;
  }
  return newest;
}

int ModelManager::failures(int64_t version) const {
  common::MutexLock lock(&mu_);
  auto it = failed_.find(version);
  return it == failed_.end() ? 0 : it->second.attempts;
}

absl::StatusOr<std::shared_ptr<ServedModel>> ModelManager::Load(
    int64_t version) {
  const absl::StatusOr<common::ProcessMemory> before =
      common::ReadProcessMemory();
  gallery::LoadOptions index_options;
  index_options.use_gpu = options_.gpu_index;
  index_options.mmap = options_.mmap_index;
  ASSIGN_OR_RETURN(
      gallery::LoadedVersion loaded,
      gallery::LoadVersion(options_.models_dir, version, index_options));
  auto model = std::make_shared<ServedModel>();
  model->version = version;
  model->model_name = loaded.manifest.model_name;
  model->manifest = loaded.manifest;
  model->index = std::move(loaded.index);
  clip::EncoderOptions eopts;
  eopts.max_batch_size = options_.max_batch_size;
  eopts.device = options_.device;
  eopts.precision = options_.precision;
  // Without image queries the image tower is never read into memory.
  eopts.image_tower = options_.image_tower;
  ASSIGN_OR_RETURN(
      model->encoder,
      clip::ClipEncoder::Load(loaded.dir + "/" + loaded.manifest.weights_file,
                              loaded.dir + "/" + loaded.manifest.tokenizer_file,
                              eopts));
  if (model->encoder->embed_dim() != model->index->dim()) {
    return absl::FailedPreconditionError(absl::StrCat(
        loaded.dir, "/", loaded.manifest.weights_file, " embeds into ",
        model->encoder->embed_dim(), " dimensions but ", loaded.dir, "/",
        loaded.manifest.index_file, " holds ", model->index->dim()));
  }
  model->image_queries = model->encoder->has_image_tower();
  RETURN_IF_ERROR(LoadAttributes(loaded, *model));
  RETURN_IF_ERROR(
      Annotate(WarmUp(*model), absl::StrCat(loaded.dir, ": warm-up: ")));
  const absl::StatusOr<common::ProcessMemory> after =
      common::ReadProcessMemory();
  if (before.ok() && after.ok()) {
    model->memory_anon_bytes =
        std::max<int64_t>(0, after->anon_bytes - before->anon_bytes);
    model->memory_file_bytes =
        std::max<int64_t>(0, after->file_bytes - before->file_bytes);
    model->memory_bytes = model->memory_anon_bytes + model->memory_file_bytes;
  }
  return model;
}

absl::Status ModelManager::WarmUp(ServedModel& model) const {
  const auto start = Clock::now();
  ASSIGN_OR_RETURN(const std::vector<float> text,
                   model.encoder->EncodeTexts({std::string(kWarmupText)}));
  RETURN_IF_ERROR(CheckFinite(text, "the text embedding"));
  if (model.image_queries) {
    // A mid-grey square at the model's resolution: the preprocessing and
    // the image tower, as an image query runs them.
    clip::PreprocessOptions pre;
    pre.resolution = static_cast<int>(model.encoder->config().image_resolution);
    const cv::Mat grey(pre.resolution, pre.resolution, CV_8UC3,
                       cv::Scalar(128, 128, 128));
    std::vector<float> pixels(3 * static_cast<size_t>(pre.resolution) *
                              pre.resolution);
    RETURN_IF_ERROR(clip::PreprocessImage(grey, pre, pixels.data()));
    ASSIGN_OR_RETURN(const std::vector<float> image,
                     model.encoder->EncodeImages(pixels, 1));
    RETURN_IF_ERROR(CheckFinite(image, "the image embedding"));
  }
  if (model.text_head != nullptr) {
    RETURN_IF_ERROR(CheckFinite(model.text_head->Predict(text.data(), 1),
                                "the text attribute probabilities"));
  }
  ASSIGN_OR_RETURN(const std::vector<std::vector<gallery::Hit>> hits,
                   model.index->Search(text.data(), 1, 1));
  if (hits.size() != 1 || hits[0].empty()) {
    return absl::FailedPreconditionError(
        "the index answered a search with no hit");
  }
  if (!std::isfinite(hits[0][0].score)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the index scored the best hit ", hits[0][0].score, ", not finite"));
  }
  model.warmup_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  return absl::OkStatus();
}

absl::Status ModelManager::LoadAttributes(const gallery::LoadedVersion& loaded,
                                          ServedModel& model) const {
  using eval::AttributeLayout;
  const gallery::Manifest& m = loaded.manifest;
  if (m.attribute_layout.empty()) return absl::OkStatus();
  const std::string manifest_path = loaded.dir + "/" + gallery::kManifestFile;
  const std::string expected = eval::AttributeLayoutId();
  if (m.attribute_layout != expected) {
    return absl::FailedPreconditionError(
        absl::StrCat(manifest_path, ": attribute_layout \"", m.attribute_layout,
                     "\", this build reads \"", expected, "\""));
  }
  if (m.embeddings_file.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path,
        ": attribute_layout is set but files.embeddings is empty (the "
        "gallery's ",
        gallery::kAttributeProbsTensor, " are stored there)"));
  }
  // Only the tensors needed are read, not the whole weights and embeddings
  // files: the encoder has read the weights, and the embeddings file holds
  // the gallery's embeddings too (2 GB at 1M images of 512 floats, beside
  // 444 MB of attribute_probs), which the server does not use.
  const std::string weights_path = loaded.dir + "/" + m.weights_file;
  ASSIGN_OR_RETURN(
      const clip::SafetensorsFile weights,
      clip::SafetensorsFile::ReadTensors(
          weights_path, {rerank::HeadWeightName(rerank::Tower::kText),
                         rerank::HeadBiasName(rerank::Tower::kText)}));
  absl::StatusOr<rerank::AttributeHead> head =
      rerank::AttributeHead::Read(weights, rerank::Tower::kText);
  if (!head.ok()) return AsMismatch(head.status());
  if (head->dim() != model.index->dim()) {
    return absl::FailedPreconditionError(
        absl::StrCat(weights_path, ": the text attribute head reads ",
                     head->dim(), "-dimensional embeddings but ", loaded.dir,
                     "/", m.index_file, " holds ", model.index->dim()));
  }

  const std::string probs_path = loaded.dir + "/" + m.embeddings_file;
  ASSIGN_OR_RETURN(const clip::SafetensorsFile probs_file,
                   clip::SafetensorsFile::ReadTensors(
                       probs_path, {gallery::kAttributeProbsTensor}));
  const auto layout = probs_file.metadata().find(rerank::kAttributeLayoutKey);
  if (layout != probs_file.metadata().end() && layout->second != expected) {
    return absl::FailedPreconditionError(absl::StrCat(
        probs_path, ": ", gallery::kAttributeProbsTensor, " of layout \"",
        layout->second, "\", this build reads \"", expected, "\""));
  }
  if (!probs_file.contains(gallery::kAttributeProbsTensor)) {
    return absl::FailedPreconditionError(absl::StrCat(
        probs_path, " has no tensor ", gallery::kAttributeProbsTensor,
        ", which ", manifest_path, " calls for (attribute_layout is set)"));
  }
  ASSIGN_OR_RETURN(const clip::TensorView view,
                   probs_file.Get(gallery::kAttributeProbsTensor));
  const int64_t rows = model.index->size();
  if (view.dtype != clip::DType::kF32 || view.shape.size() != 2 ||
      view.shape[0] != rows || view.shape[1] != AttributeLayout::kSize) {
    return absl::FailedPreconditionError(absl::StrCat(
        probs_path, ": ", gallery::kAttributeProbsTensor, " is ",
        clip::DTypeName(view.dtype), " [", absl::StrJoin(view.shape, ", "),
        "] but ", loaded.dir, "/", m.index_file, " holds ", rows,
        " images: expected F32 [", rows, ", ", AttributeLayout::kSize, "]"));
  }
  absl::StatusOr<std::vector<float>> probs =
      probs_file.GetF32(gallery::kAttributeProbsTensor);
  if (!probs.ok()) return AsMismatch(probs.status());
  for (size_t i = 0; i < probs->size(); ++i) {
    const float p = (*probs)[i];
    if (!(p >= 0 && p <= 1)) {
      return absl::DataLossError(
          absl::StrCat(probs_path, ": ", gallery::kAttributeProbsTensor,
                       " row ", i / AttributeLayout::kSize, " holds ", p,
                       ", not a probability in [0, 1]"));
    }
  }

  rerank::RerankWeights rerank_weights;
  if (options_.rerank_weights.has_value()) {
    rerank_weights = *options_.rerank_weights;
  } else if (!m.rerank_weights.empty()) {
    absl::StatusOr<rerank::RerankWeights> parsed =
        rerank::RerankWeights::Parse(m.rerank_weights);
    if (!parsed.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          manifest_path, ": rerank_weights: ", parsed.status().message()));
    }
    rerank_weights = *parsed;
  }
  int64_t candidates = options_.rerank_candidates;
  if (candidates < 0) {
    if (m.rerank_candidates < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(manifest_path, ": rerank_candidates is ",
                       m.rerank_candidates, ", not >= 0"));
    }
    candidates = m.rerank_candidates;
    if (candidates > kMaxRerankCandidates) {
      LOG(WARNING) << manifest_path << ": rerank_candidates " << candidates
                   << " capped at " << kMaxRerankCandidates;
      candidates = kMaxRerankCandidates;
    }
  }
  model.text_head = std::make_unique<rerank::AttributeHead>(std::move(*head));
  model.attribute_probs = std::move(*probs);
  ASSIGN_OR_RETURN(auto recorded, rerank::GalleryAttributes::FromProbabilities(
                                      model.attribute_probs));
  model.gallery_attributes =
      std::make_unique<rerank::GalleryAttributes>(std::move(recorded));
  model.rerank_weights = rerank_weights;
  model.rerank_candidates =
      rerank_weights.enabled() ? static_cast<int>(candidates) : 0;
  return absl::OkStatus();
}

std::pair<std::chrono::milliseconds, int> ModelManager::RecordFailure(
    int64_t version) {
  common::MutexLock lock(&mu_);
  Failure& f = failed_[version];
  const int attempts = ++f.attempts;
  std::chrono::milliseconds backoff = options_.retry_initial;
  for (int i = 1; i < attempts && backoff < options_.retry_max; ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, options_.retry_max);
  f.retry_at = Clock::now() + backoff;
  return {backoff, attempts};
}

absl::Status ModelManager::LoadAndPublish(int64_t version,
                                          std::set<int64_t>& kept) {
  const VersionPolicy& policy = options_.policy;
  const bool latest = policy.kind == VersionPolicy::Kind::kLatest;
  absl::StatusOr<std::shared_ptr<ServedModel>> loaded = Load(version);
  if (!loaded.ok()) {
    const auto [backoff, attempts] = RecordFailure(version);
    const std::vector<int64_t> serving = LoadedVersions();
    LOG(ERROR) << "model version " << version << " in " << options_.models_dir
               << " not loaded (attempt " << attempts
               << "): " << loaded.status() << "; retrying in "
               << absl::FormatDuration(absl::FromChrono(backoff))
               << (serving.empty()
                       ? std::string("; no version served yet")
                       : absl::StrCat("; still serving version",
                                      serving.size() > 1 ? "s " : " ",
                                      absl::StrJoin(serving, ", ")));
    if (on_load_) on_load_(nullptr, loaded.status());
    return loaded.status();
  }
  kept.insert(version);
  // Publish it, then drop the oldest loaded versions beyond `latest` that
  // the walk has not kept: at least `latest` newer ones are loaded, so none
  // of them can be among the newest `latest` once the walk ends.
  std::vector<std::shared_ptr<const ServedModel>> dropped;
  int64_t default_version;
  {
    common::MutexLock lock(&mu_);
    loaded_[version] = *loaded;
    failed_.erase(version);
    for (auto l = loaded_.begin();
         latest && l != loaded_.end() &&
         loaded_.size() > static_cast<size_t>(policy.latest);) {
      if (kept.count(l->first) != 0) {
        ++l;
        continue;
      }
      dropped.push_back(std::move(l->second));
      l = loaded_.erase(l);
    }
    default_version = default_version_ = ChooseDefault();
  }
  const ServedModel& m = **loaded;
  LOG(INFO) << "serving model version " << m.version << " ("
            << m.manifest.architecture_description << ", " << m.index->size()
            << " images, index " << m.manifest.index_type
            << ", gallery embedded in " << m.manifest.embedding_precision
            << ", " << DescribeRerank(m)
            << "); queries: " << m.encoder->Describe() << "; warmed up in "
            << absl::FormatDuration(absl::Seconds(m.warmup_seconds)) << "; "
            << DescribeMemory(m) << "; default version " << default_version;
  for (const auto& d : dropped) {
    LOG(INFO) << "model version " << d->version << " unloaded (policy "
              << policy.ToString() << " keeps newer versions)"
              << (d.use_count() > 1 ? "; requests holding it finish on it"
                                    : "");
  }
  dropped.clear();  // freed here unless a request still holds it
  if (on_load_) on_load_(&m, absl::OkStatus());
  return absl::OkStatus();
}

absl::Status ModelManager::Poll() {
  common::MutexLock poll_lock(&poll_mu_);
  auto listed = gallery::ListVersions(options_.models_dir);
  if (!listed.ok()) return listed.status();
  const VersionPolicy& policy = options_.policy;
  const bool latest = policy.kind == VersionPolicy::Kind::kLatest;
  // The candidates: the versions on disk and the loaded ones (a loaded
  // version whose directory was removed is still counted, so it serves
  // until the policy moves past it, as a single version always did).
  std::set<int64_t> candidates(listed->begin(), listed->end());
  for (int64_t v : LoadedVersions()) candidates.insert(v);
  const auto now = Clock::now();
  // Whether `version` is to be loaded now: allowed, not loaded, not waiting
  // out a backoff. Loaded versions the policy allows go into `kept`.
  std::set<int64_t> kept;
  auto wants_load = [&](int64_t version) {
    if (!policy.Allows(version)) return false;
    common::MutexLock lock(&mu_);
    if (loaded_.count(version) != 0) {
      kept.insert(version);
      return false;
    }
    auto f = failed_.find(version);
    return f == failed_.end() || now >= f->second.retry_at;
  };
  absl::Status first_error;
  auto load = [&](int64_t version) {
    absl::Status status = LoadAndPublish(version, kept);
    if (first_error.ok()) first_error = status;
  };
  // The default version first when the policy wants it, so that requests
  // naming no version do not meet a stand-in meanwhile.
  const int64_t named_default = options_.default_version;
  if (named_default != 0 && candidates.count(named_default) != 0) {
    const int64_t newer =
        std::distance(candidates.upper_bound(named_default), candidates.end());
    if ((!latest || newer < policy.latest) && wants_load(named_default)) {
      load(named_default);
    }
    kept.clear();  // the walk below counts it again
  }
  // Newest first; kLatest ends once `kept` holds `latest` versions, so a
  // version that fails gives way to the next older one.
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    if (latest && kept.size() >= static_cast<size_t>(policy.latest)) break;
    if (wants_load(*it)) load(*it);
  }
  {
    common::MutexLock lock(&mu_);
    if (named_default != 0 && !loaded_.empty() &&
        loaded_.count(named_default) == 0 && !default_missing_logged_) {
      LOG(WARNING) << "default model version " << named_default
                   << " is not loaded (policy " << policy.ToString()
                   << "; loaded: " << absl::StrJoin(LoadedLocked(), ", ")
                   << "); the newest loaded version, " << default_version_
                   << ", serves requests that name no version until it is";
      default_missing_logged_ = true;
    }
  }
  return first_error;
}

void ModelManager::StartPolling(double interval_s) {
  if (interval_s <= 0 || poller_.joinable()) return;
  poller_ = std::thread([this, interval_s] {
    const absl::Duration interval = absl::Seconds(interval_s);
    while (true) {
      {
        common::MutexLock lock(&stop_mu_);
        stop_mu_.AwaitWithTimeout(absl::Condition(&stop_), interval);
        if (stop_) return;
      }
      (void)Poll();
    }
  });
}

void ModelManager::Stop() {
  {
    common::MutexLock lock(&stop_mu_);
    stop_ = true;
  }
  if (poller_.joinable()) poller_.join();
}

}  // namespace server
