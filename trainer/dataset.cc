#include "trainer/dataset.h"

#include <algorithm>
#include <unordered_map>

#include "common/status_macros.h"

namespace trainer {
namespace {

int32_t Intern(const std::string& key, std::vector<std::string>& values,
               std::unordered_map<std::string, int32_t>& index) {
  auto [it, inserted] = index.emplace(key, static_cast<int32_t>(values.size()));
  if (inserted) values.push_back(key);
  return it->second;
}

}  // namespace

absl::StatusOr<PairDataset> PairDataset::Load(const std::string& labels_path,
                                              const std::string& images_dir) {
  ASSIGN_OR_RETURN(std::vector<eval::LabelRecord> records,
                   eval::ReadLabelFile(labels_path));
  if (records.empty()) {
    return absl::InvalidArgumentError(labels_path + " holds no pairs");
  }
  PairDataset ds = FromRecords(records, images_dir);
  ds.source_ = labels_path;
  return ds;
}

PairDataset PairDataset::FromRecords(
    const std::vector<eval::LabelRecord>& records,
    const std::string& images_dir) {
  PairDataset ds;
  ds.images_dir_ = images_dir;
  std::unordered_map<std::string, int32_t> image_index, text_index, attr_index;
  for (const eval::LabelRecord& r : records) {
    Pair p;
    p.image = Intern(r.image, ds.images_, image_index);
    p.text = Intern(r.text, ds.texts_, text_index);
    const size_t attrs_before = ds.attributes_.size();
    p.attribute = Intern(r.attribute, ds.attributes_, attr_index);
    if (ds.attributes_.size() > attrs_before) {
      ds.attribute_categories_.push_back(r.category);
    }
    if (static_cast<size_t>(p.image) == ds.image_attribute_.size()) {
      ds.image_attribute_.push_back(p.attribute);
    }
    if (static_cast<size_t>(p.text) == ds.text_attributes_.size()) {
      ds.text_attributes_.emplace_back();
    }
    auto& ta = ds.text_attributes_[p.text];
    if (std::find(ta.begin(), ta.end(), p.attribute) == ta.end()) {
      ta.push_back(p.attribute);
    }
    ds.pairs_.push_back(p);
  }
  return ds;
}

std::string PairDataset::ImagePath(int32_t image) const {
  return images_dir_.empty() ? images_[image]
                             : images_dir_ + "/" + images_[image];
}

}  // namespace trainer
