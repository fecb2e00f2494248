#include "index/manifest.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/path_util.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace gallery {
namespace {

// A file name of the manifest must name a file inside the version directory;
// `optional` fields may be empty (the file is absent).
absl::Status CheckFileName(const std::string& source, const char* field,
                           const std::string& name, bool optional) {
  if (optional && name.empty()) return absl::OkStatus();
  const absl::Status status = common::CheckRelativeName(name);
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": files.", field, " \"", absl::CHexEscape(name),
      "\" is refused: ", status.message(),
      "; file names are relative to the version directory and stay in it"));
}

// A field that is present but not what the manifest needs; thrown inside
// ManifestFromJson's parsing block next to nlohmann's own type errors.
struct FieldError {
  std::string message;
};

// An integer field must be a JSON integer in the int64_t range: nlohmann's
// get<int64_t>() would truncate a fraction, wrap an unsigned value above
// INT64_MAX, and convert an out-of-range float with undefined behaviour.
int64_t ToInt64(const nlohmann::json& value, const std::string& field) {
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() <=
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(value.get<uint64_t>());
    }
  } else if (value.is_number_integer()) {
    return value.get<int64_t>();
  }
  throw FieldError{absl::StrCat(field, " is ", value.dump(),
                                ", not an integer in the int64 range")};
}

int64_t IntAt(const nlohmann::json& object, const char* key,
              const std::string& field) {
  return ToInt64(object.at(key), field);
}

int64_t IntValue(const nlohmann::json& object, const char* key,
                 const std::string& field, int64_t fallback) {
  const auto it = object.find(key);
  return it == object.end() ? fallback : ToInt64(*it, field);
}

}  // namespace

std::string NowRfc3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                          absl::UTCTimeZone());
}

std::string ManifestToJson(const Manifest& m) {
  nlohmann::ordered_json j;
  j["format"] = m.format;
  j["model_name"] = m.model_name;
  j["architecture"] = m.architecture;
  j["architecture_description"] = m.architecture_description;
  j["embedding_dim"] = m.embedding_dim;
  j["metric"] = m.metric;
  j["index"] = {{"type", m.index_type}, {"params", m.index_params}};
  if (m.recall_at_10 >= 0) {
    j["index"]["recall_at_10"] = m.recall_at_10;
    j["index"]["recall_queries"] = m.recall_queries;
  }
  j["num_images"] = m.num_images;
  j["num_pedestrian_images"] = m.num_pedestrian_images;
  j["num_vehicle_images"] = m.num_vehicle_images;
  if (!m.labels_file.empty()) {
    j["labels"] = {{"file", m.labels_file}, {"coverage", m.label_coverage}};
  }
  j["files"] = {
      {"weights", m.weights_file},       {"weights_sha256", m.weights_sha256},
      {"index", m.index_file},           {"images", m.images_file},
      {"embeddings", m.embeddings_file}, {"tokenizer", m.tokenizer_file}};
  j["preprocess"] = {{"image_resolution", m.image_resolution},
                     {"resize_mode", m.resize_mode},
                     {"embedding_precision", m.embedding_precision}};
  if (!m.attribute_layout.empty()) {
    j["attributes"] = {{"layout", m.attribute_layout},
                       {"rerank_weights", m.rerank_weights},
                       {"rerank_candidates", m.rerank_candidates}};
  }
  j["dataset"] = m.dataset;
  if (m.parent_version > 0) {
    j["lineage"] = {{"parent_version", m.parent_version},
                    {"added_images", m.added_images},
                    {"removed_images", m.removed_images},
                    {"added_from", m.added_from},
                    {"removed_from", m.removed_from}};
  }
  if (m.index_trained_images > 0) {
    j["index"]["training"] = {{"trained_in_version", m.index_trained_version},
                              {"trained_on_images", m.index_trained_images},
                              {"added_since_training", m.added_since_training}};
  }
  if (m.encoded_shards > 1) j["encoded_shards"] = m.encoded_shards;
  j["training_metrics"] = m.training_metrics;
  j["created_at"] = m.created_at;
  return j.dump(2) + "\n";
}

absl::StatusOr<Manifest> ManifestFromJson(const std::string& json,
                                          const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(source, ": not a JSON object"));
  }
  Manifest m;
  try {
    m.format = j.at("format").get<std::string>();
    if (m.format != kManifestFormat) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": format '",
                                                     m.format, "', expected '",
                                                     kManifestFormat, "'"));
    }
    m.model_name = j.value("model_name", "");
    m.architecture =
        j.at("architecture").get<std::map<std::string, std::string>>();
    m.architecture_description = j.value("architecture_description", "");
    m.embedding_dim = IntAt(j, "embedding_dim", "embedding_dim");
    m.metric = j.at("metric").get<std::string>();
    const auto& index = j.at("index");
    m.index_type = index.at("type").get<std::string>();
    m.index_params =
        index.value("params", std::map<std::string, std::string>{});
    m.recall_at_10 = index.value("recall_at_10", -1.0);
    m.recall_queries =
        IntValue(index, "recall_queries", "index.recall_queries", 0);
    m.num_images = IntAt(j, "num_images", "num_images");
    m.num_pedestrian_images =
        IntValue(j, "num_pedestrian_images", "num_pedestrian_images", 0);
    m.num_vehicle_images =
        IntValue(j, "num_vehicle_images", "num_vehicle_images", 0);
    if (j.contains("labels")) {
      const auto& labels = j.at("labels");
      m.labels_file = labels.at("file").get<std::string>();
      m.label_coverage = labels.at("coverage").get<double>();
    }
    const auto& files = j.at("files");
    m.weights_file = files.at("weights").get<std::string>();
    m.weights_sha256 = files.at("weights_sha256").get<std::string>();
    m.index_file = files.at("index").get<std::string>();
    m.images_file = files.at("images").get<std::string>();
    m.embeddings_file = files.value("embeddings", "");
    m.tokenizer_file = files.value("tokenizer", "");
    const auto& pre = j.at("preprocess");
    m.image_resolution =
        IntAt(pre, "image_resolution", "preprocess.image_resolution");
    m.resize_mode = pre.at("resize_mode").get<std::string>();
    m.embedding_precision = pre.value("embedding_precision", "fp32");
    if (j.contains("attributes")) {
      const auto& a = j.at("attributes");
      m.attribute_layout = a.at("layout").get<std::string>();
      m.rerank_weights = a.value("rerank_weights", "");
      m.rerank_candidates =
          IntValue(a, "rerank_candidates", "attributes.rerank_candidates", 0);
    }
    m.dataset = j.value("dataset", "");
    if (j.contains("lineage")) {
      const auto& l = j.at("lineage");
      m.parent_version = IntAt(l, "parent_version", "lineage.parent_version");
      m.added_images = IntValue(l, "added_images", "lineage.added_images", 0);
      m.removed_images =
          IntValue(l, "removed_images", "lineage.removed_images", 0);
      m.added_from = l.value("added_from", "");
      m.removed_from = l.value("removed_from", "");
    }
    if (index.contains("training")) {
      const auto& t = index.at("training");
      m.index_trained_version =
          IntAt(t, "trained_in_version", "index.training.trained_in_version");
      m.index_trained_images =
          IntAt(t, "trained_on_images", "index.training.trained_on_images");
      m.added_since_training = IntValue(
          t, "added_since_training", "index.training.added_since_training", 0);
    }
    m.encoded_shards = IntValue(j, "encoded_shards", "encoded_shards", 0);
    m.training_metrics =
        j.value("training_metrics", std::map<std::string, double>{});
    m.created_at = j.value("created_at", "");
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing or mistyped field: ", e.what()));
  } catch (const FieldError& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.message));
  }
  RETURN_IF_ERROR(CheckFileName(source, "weights", m.weights_file, false));
  RETURN_IF_ERROR(CheckFileName(source, "index", m.index_file, false));
  RETURN_IF_ERROR(CheckFileName(source, "images", m.images_file, false));
  RETURN_IF_ERROR(CheckFileName(source, "embeddings", m.embeddings_file, true));
  RETURN_IF_ERROR(CheckFileName(source, "tokenizer", m.tokenizer_file, true));
  return m;
}

absl::StatusOr<Manifest> ReadManifest(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, common::ReadFile(path));
  return ManifestFromJson(text, path);
}

}  // namespace gallery
