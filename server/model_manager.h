// Serves the newest complete model version of a directory and swaps in newer
// ones as they appear.
//
// A version (index/model_version.h) is loaded, verified, and its text
// encoder checked against the index (embedding size) before it becomes
// current; the swap is one pointer exchange, so requests holding the old
// version finish on it and the next ones see the new one. A version that
// fails to load is logged and remembered (not retried) and the current one
// keeps serving.
//
// Thread safety: Current() may be called from any thread; Poll() from one
// thread at a time (the reload thread).
#ifndef SERVER_MODEL_MANAGER_H_
#define SERVER_MODEL_MANAGER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "clip/encoder.h"
#include "index/model_version.h"

namespace server {

// Everything one answer depends on. Immutable once built.
struct ServedModel {
  int64_t version = 0;
  std::string model_name;
  gallery::Manifest manifest;
  std::unique_ptr<clip::ClipEncoder> encoder;
  std::unique_ptr<gallery::GalleryIndex> index;
};

class ModelManager {
 public:
  struct Options {
    std::string models_dir;
    std::string device = "cpu";
    // Query encoding precision; the gallery's (manifest) may differ.
    clip::Precision precision = clip::Precision::kFp32;
    int max_batch_size = 64;
    bool gpu_index = false;
  };
  // Called after each successful swap (new version) and each failed load.
  using LoadCallback =
      std::function<void(const ServedModel* loaded, const absl::Status& error)>;

  ModelManager(Options options, LoadCallback on_load);
  ~ModelManager();

  // The version being served; null until one is loaded.
  std::shared_ptr<const ServedModel> Current() const;

  // Loads the newest version if it is newer than the current one and has not
  // failed before. Returns the load error, OK when nothing changed or the
  // swap succeeded.
  absl::Status Poll();

  // Polls every `interval_s` seconds on a background thread until Stop().
  void StartPolling(double interval_s);
  void Stop();

 private:
  absl::StatusOr<std::shared_ptr<ServedModel>> Load(int64_t version);

  Options options_;
  LoadCallback on_load_;
  mutable std::mutex mu_;
  std::shared_ptr<const ServedModel> current_;
  std::set<int64_t> failed_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stop_ = false;
  std::thread poller_;
};

}  // namespace server

#endif  // SERVER_MODEL_MANAGER_H_
