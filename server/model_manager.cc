#include "server/model_manager.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "clip/safetensors.h"
#include "common/status_macros.h"
#include "eval/attributes.h"

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

}  // namespace

ModelManager::ModelManager(Options options, LoadCallback on_load)
    : options_(std::move(options)), on_load_(std::move(on_load)) {}

ModelManager::~ModelManager() { Stop(); }

std::shared_ptr<const ServedModel> ModelManager::Current() const {
  common::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelManager::Get(
    int64_t version) const {
  std::shared_ptr<const ServedModel> current = Current();
  if (current == nullptr) {
    return absl::UnavailableError("no model version is loaded yet");
  }
  if (version == 0 || version == current->version) return current;
  return absl::NotFoundError(
      absl::StrCat("model_version: version ", version,
                   " is not loaded (loaded: ", current->version, ")"));
}

std::vector<int64_t> ModelManager::LoadedVersions() const {
  std::shared_ptr<const ServedModel> current = Current();
  if (current == nullptr) return {};
  return {current->version};
}

int64_t ModelManager::DefaultVersion() const {
  std::shared_ptr<const ServedModel> current = Current();
  return current == nullptr ? 0 : current->version;
}

int ModelManager::failures(int64_t version) const {
  common::MutexLock lock(&mu_);
  auto it = failed_.find(version);
  return it == failed_.end() ? 0 : it->second.attempts;
}

absl::StatusOr<std::shared_ptr<ServedModel>> ModelManager::Load(
    int64_t version) {
  ASSIGN_OR_RETURN(
      gallery::LoadedVersion loaded,
      gallery::LoadVersion(options_.models_dir, version, options_.gpu_index));
  auto model = std::make_shared<ServedModel>();
  model->version = version;
  model->model_name = loaded.manifest.model_name;
  model->manifest = loaded.manifest;
  model->index = std::move(loaded.index);
  clip::EncoderOptions eopts;
  eopts.max_batch_size = options_.max_batch_size;
  eopts.device = options_.device;
  eopts.precision = options_.precision;
  eopts.image_tower = true;
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
  RETURN_IF_ERROR(LoadAttributes(loaded, *model));
  return model;
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
  const std::string weights_path = loaded.dir + "/" + m.weights_file;
  ASSIGN_OR_RETURN(const clip::SafetensorsFile weights,
                   clip::SafetensorsFile::Read(weights_path));
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
                   clip::SafetensorsFile::Read(probs_path));
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

absl::Status ModelManager::Poll() {
  common::MutexLock poll_lock(&poll_mu_);
  auto versions = gallery::ListVersions(options_.models_dir);
  if (!versions.ok()) return versions.status();
  std::shared_ptr<const ServedModel> current = Current();
  const int64_t current_version = current ? current->version : 0;
  const auto now = Clock::now();
  // Newest first; skip versions waiting out a retry backoff. A version that
  // fails gives way to the next older one in the same poll, so a corrupt
  // newest version never leaves a good older one unserved.
  absl::Status first_error;
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
    const int64_t version = *it;
    if (version <= current_version) break;
    {
      common::MutexLock lock(&mu_);
      auto f = failed_.find(version);
      if (f != failed_.end() && now < f->second.retry_at) continue;
    }
    auto loaded = Load(version);
    if (!loaded.ok()) {
      std::chrono::milliseconds backoff;
      int attempts;
      {
        common::MutexLock lock(&mu_);
        Failure& f = failed_[version];
        attempts = ++f.attempts;
        backoff = options_.retry_initial;
        for (int i = 1; i < attempts && backoff < options_.retry_max; ++i) {
          backoff *= 2;
        }
        backoff = std::min(backoff, options_.retry_max);
        f.retry_at = Clock::now() + backoff;
      }
      LOG(ERROR) << "model version " << version << " in " << options_.models_dir
                 << " not loaded (attempt " << attempts
                 << "): " << loaded.status() << "; retrying in "
                 << absl::FormatDuration(absl::FromChrono(backoff))
                 << (current ? absl::StrCat("; still serving version ",
                                            current_version)
                             : std::string("; no version served yet"));
      if (on_load_) on_load_(nullptr, loaded.status());
      if (first_error.ok()) first_error = loaded.status();
      continue;
    }
    {
      common::MutexLock lock(&mu_);
      current_ = *loaded;
      failed_.erase(version);
    }
    LOG(INFO) << "serving model version " << (*loaded)->version << " ("
              << (*loaded)->manifest.architecture_description << ", "
              << (*loaded)->index->size() << " images, index "
              << (*loaded)->manifest.index_type << ", gallery embedded in "
              << (*loaded)->manifest.embedding_precision << ", "
              << DescribeRerank(**loaded)
              << "); queries: " << (*loaded)->encoder->Describe();
    if (on_load_) on_load_(loaded->get(), absl::OkStatus());
    break;
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
