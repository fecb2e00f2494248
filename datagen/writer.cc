// Writing the dataset: rendering the images on worker threads, the label,
// query and manifest files, and installing the finished tree in one rename.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "datagen/datagen.h"

namespace datagen {
namespace {

constexpr const char* kSplitDirs[] = {"train", "val", "test"};

std::string JoinPath(const std::string& a, const std::string& b) {
  return (std::filesystem::path(a) / b).string();
}

absl::Status WriteLabelFile(const std::string& path, const DatasetPlan& plan,
                            const std::vector<PlannedImage>& images) {
  std::string text;
  for (const PlannedImage& image : images) {
    absl::StrAppend(&text, LabelLine(plan, image), "\n");
  }
  return common::WriteFileAtomically(path, text);
}

// What is at output_dir before the dataset is written.
struct OutputDir {
  std::string path;  // without trailing slashes
  bool exists = false;
  bool empty = false;  // an empty directory
};

// FAILED_PRECONDITION when `path` is not a directory, or is a non-empty one
// and `overwrite` is false.
absl::StatusOr<OutputDir> CheckOutputDir(std::string path, bool overwrite) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  OutputDir out;
  out.path = path;
  std::error_code ec;
  const auto out_status = std::filesystem::symlink_status(path, ec);
  out.exists = std::filesystem::exists(out_status);
  if (!out.exists) return out;
  if (!std::filesystem::is_directory(out_status)) {
    return absl::FailedPreconditionError(
        absl::StrCat("output_dir ", path, " exists and is not a directory"));
  }
  out.empty = std::filesystem::is_empty(path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot list ", path, ": ", ec.message()));
  }
  if (!out.empty && !overwrite) {
    return absl::FailedPreconditionError(absl::StrCat(
        "output_dir ", path, " exists and is not empty (use overwrite)"));
  }
  return out;
}

// Renders every image of `plan` into root/<split>/images/ on `threads`
// threads (the calling one included); the first error stops the others.
absl::Status WriteImages(const DatasetPlan& plan, const std::string& root,
                         int threads) {
  for (const char* d : kSplitDirs) {
    RETURN_IF_ERROR(common::MakeDirs(JoinPath(root, JoinPath(d, "images"))));
  }
  struct Job {
    const PlannedImage* image;
    std::string path;
  };
  std::vector<Job> jobs;
  const std::vector<PlannedImage>* splits[] = {&plan.train, &plan.val,
                                               &plan.test};
  for (int s = 0; s < 3; ++s) {
    const std::string dir = JoinPath(root, JoinPath(kSplitDirs[s], "images"));
    for (const PlannedImage& image : *splits[s]) {
      jobs.push_back({&image, JoinPath(dir, image.name)});
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  absl::Status first_error;
  auto worker = [&]() {
    while (!failed.load()) {
      const size_t i = next.fetch_add(1);
      if (i >= jobs.size()) return;
      absl::Status st;
      absl::StatusOr<std::string> bytes =
          RenderPlannedImage(plan, *jobs[i].image);
      if (!bytes.ok()) {
        st = absl::Status(
            bytes.status().code(),
            absl::StrCat(jobs[i].path, ": ", bytes.status().message()));
      } else {
        st = common::WriteFileAtomically(jobs[i].path, *bytes);
      }
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = st;
        failed.store(true);
      }
    }
  };
  const int n_threads = std::max(1, std::min<int>(threads, jobs.size()));
  std::vector<std::thread> workers;
  for (int t = 1; t < n_threads; ++t) workers.emplace_back(worker);
  worker();
  for (std::thread& t : workers) t.join();
  return first_error;
}

// manifest.txt: key=value lines describing the dataset.
std::string ManifestText(const DatasetPlan& plan,
                         const DatagenOptions& options) {
  int num_vehicle_sets = 0;
  for (const AttributeSet& s : plan.pool) {
    num_vehicle_sets += s.kind == SampleKind::kVehicle;
  }
  // "generator" names the generator in every dataset it writes; it is part
  // of the output bytes.
  return absl::StrCat(
      "generator=datagen/datagen\n", "datagen_version=", kDatagenVersion, "\n",
      "seed=", options.seed, "\n", "train_size=", plan.train.size(), "\n",
      "val_size=", plan.val.size(), "\n", "test_size=", plan.test.size(), "\n",
      "num_queries=", plan.queries.size(), "\n",
      "vehicle_fraction=", options.vehicle_fraction, "\n",
      "vehicle_pool_size=", num_vehicle_sets, "\n",
      "pedestrian_pool_size=", plan.pool.size() - num_vehicle_sets, "\n",
      "pedestrian_caption_variants=", options.pedestrian_caption_variants, "\n",
      "jpeg_quality=", options.jpeg_quality, "\n");
}

// The label files, test/test_text.txt and manifest.txt under `root`.
absl::Status WriteTextFiles(const DatasetPlan& plan,
                            const DatagenOptions& options,
                            const std::string& root) {
  RETURN_IF_ERROR(WriteLabelFile(JoinPath(root, "train/train_label.txt"), plan,
                                 plan.train));
  RETURN_IF_ERROR(
      WriteLabelFile(JoinPath(root, "val/val_label.txt"), plan, plan.val));
  RETURN_IF_ERROR(
      WriteLabelFile(JoinPath(root, "test/test_label.txt"), plan, plan.test));
  std::string queries;
  for (const std::string& q : plan.queries) absl::StrAppend(&queries, q, "\n");
  RETURN_IF_ERROR(common::WriteFileAtomically(
      JoinPath(root, "test/test_text.txt"), queries));
  return common::WriteFileAtomically(JoinPath(root, "manifest.txt"),
                                     ManifestText(plan, options));
}

// Installs the finished tree `tmp` as out.path in one rename; an old
// non-empty tree is moved aside first and deleted once the new one is in
// place (and moved back when the rename fails).
absl::Status Install(const std::string& tmp, const OutputDir& out) {
  std::error_code ec;
  std::string old;
  if (out.exists) {
    if (out.empty) {
      std::filesystem::remove(out.path, ec);
      if (ec) {
        return absl::InternalError(
            absl::StrCat("cannot remove empty ", out.path, ": ", ec.message()));
      }
    } else {
      old = common::TempPathFor(out.path) + ".old";
      RETURN_IF_ERROR(common::RenameFile(out.path, old));
    }
  }
  absl::Status st = common::RenameFile(tmp, out.path);
  if (!st.ok()) {
    if (!old.empty()) (void)common::RenameFile(old, out.path);
    return st;
  }
  const std::string parent =
      std::filesystem::path(out.path).parent_path().string();
  RETURN_IF_ERROR(common::SyncDirectory(parent.empty() ? "." : parent));
  if (!old.empty()) {
    std::filesystem::remove_all(old, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("dataset written to ", out.path, " but the old copy ",
                       old, " could not be removed: ", ec.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status GenerateDataset(const DatagenOptions& options) {
  ASSIGN_OR_RETURN(const DatasetPlan plan, PlanDataset(options));
  ASSIGN_OR_RETURN(const OutputDir out,
                   CheckOutputDir(options.output_dir, options.overwrite));
  const std::string tmp = common::TempPathFor(out.path);
  absl::Status st = WriteImages(plan, tmp, options.threads);
  if (st.ok()) st = WriteTextFiles(plan, options, tmp);
  if (st.ok()) st = Install(tmp, out);
  if (!st.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(tmp, ignored);
  }
  return st;
}

}  // namespace datagen
