#include "server/model_manager.h"

#include <glog/logging.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace server {

ModelManager::ModelManager(Options options, LoadCallback on_load)
    : options_(std::move(options)), on_load_(std::move(on_load)) {}

ModelManager::~ModelManager() { Stop(); }

std::shared_ptr<const ServedModel> ModelManager::Current() const {
  common::MutexLock lock(&mu_);
  return current_;
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
  // Queries are texts: the image tower is never read into memory.
  eopts.image_tower = false;
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
  return model;
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
              << (*loaded)->manifest.embedding_precision
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
