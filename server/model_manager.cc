#include "server/model_manager.h"

#include <glog/logging.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace server {

ModelManager::ModelManager(Options options, LoadCallback on_load)
    : options_(std::move(options)), on_load_(std::move(on_load)) {}

ModelManager::~ModelManager() { Stop(); }

std::shared_ptr<const ServedModel> ModelManager::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<ServedModel>> ModelManager::Load(int64_t version) {
  ASSIGN_OR_RETURN(gallery::LoadedVersion loaded,
                   gallery::LoadVersion(options_.models_dir, version,
                                        options_.gpu_index));
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
  ASSIGN_OR_RETURN(model->encoder,
                   clip::ClipEncoder::Load(
                       loaded.dir + "/" + loaded.manifest.weights_file,
                       loaded.dir + "/" + loaded.manifest.tokenizer_file, eopts));
  if (model->encoder->embed_dim() != model->index->dim()) {
    return absl::FailedPreconditionError(absl::StrCat(
        loaded.dir, "/", loaded.manifest.weights_file, " embeds into ",
        model->encoder->embed_dim(), " dimensions but ", loaded.dir, "/",
        loaded.manifest.index_file, " holds ", model->index->dim()));
  }
  return model;
}

absl::Status ModelManager::Poll() {
  auto versions = gallery::ListVersions(options_.models_dir);
  if (!versions.ok()) return versions.status();
  std::shared_ptr<const ServedModel> current = Current();
  const int64_t current_version = current ? current->version : 0;
  // Newest first; skip versions that failed before.
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
    if (*it <= current_version) return absl::OkStatus();
    if (failed_.count(*it)) continue;
    auto loaded = Load(*it);
    if (!loaded.ok()) {
      failed_.insert(*it);
      LOG(ERROR) << "model version " << *it << " in " << options_.models_dir
                 << " not loaded: " << loaded.status()
                 << (current ? absl::StrCat("; still serving version ", current_version)
                             : std::string("; no version served yet"));
      if (on_load_) on_load_(nullptr, loaded.status());
      return loaded.status();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = *loaded;
    }
    LOG(INFO) << "serving model version " << (*loaded)->version << " ("
              << (*loaded)->manifest.architecture_description << ", "
              << (*loaded)->index->size() << " images, index "
              << (*loaded)->manifest.index_type << ", gallery embedded in "
              << (*loaded)->manifest.embedding_precision << "); queries: "
              << (*loaded)->encoder->Describe();
    if (on_load_) on_load_(loaded->get(), absl::OkStatus());
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

void ModelManager::StartPolling(double interval_s) {
  if (interval_s <= 0 || poller_.joinable()) return;
  poller_ = std::thread([this, interval_s] {
    std::unique_lock<std::mutex> lock(poll_mu_);
    while (!stop_) {
      poll_cv_.wait_for(lock, std::chrono::duration<double>(interval_s),
                        [&] { return stop_; });
      if (stop_) break;
      lock.unlock();
      (void)Poll();
      lock.lock();
    }
  });
}

void ModelManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stop_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

}  // namespace server
