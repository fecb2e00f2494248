// Image-text pairs of a competition-format split, indexed for training and
// validation. No LibTorch.
//
// A label file (image$attribute$text per line) gives many-to-many pairs:
// images, texts and attributes are each stored once and pairs refer to them
// by index. Two pairs are positives of each other when their attributes are
// equal (the competition's ground truth).
#ifndef TRAINER_DATASET_H_
#define TRAINER_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/labels.h"

namespace trainer {

struct Pair {
  int32_t image = 0;      // index into images()
  int32_t text = 0;       // index into texts()
  int32_t attribute = 0;  // index into attributes()
};

class PairDataset {
 public:
  // Reads `labels_path` (errors name file and line); image i lives at
  // `images_dir`/images()[i]. Does not open the images.
  static absl::StatusOr<PairDataset> Load(const std::string& labels_path,
                                          const std::string& images_dir);
  // From records already read (tests, generated data).
  static PairDataset FromRecords(const std::vector<eval::LabelRecord>& records,
                                 const std::string& images_dir);

  const std::vector<Pair>& pairs() const { return pairs_; }
  const std::vector<std::string>& images() const { return images_; }
  const std::vector<std::string>& texts() const { return texts_; }
  const std::vector<std::string>& attributes() const { return attributes_; }
  // Category of each attribute.
  const std::vector<eval::Category>& attribute_categories() const {
    return attribute_categories_;
  }
  // Attribute of each image (the first pair's, for an image listed with
  // several attributes).
  const std::vector<int32_t>& image_attribute() const {
    return image_attribute_;
  }
  // Attributes of each text (a generic text can fit several attributes).
  const std::vector<std::vector<int32_t>>& text_attributes() const {
    return text_attributes_;
  }
  const std::string& images_dir() const { return images_dir_; }
  std::string ImagePath(int32_t image) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::string images_dir_;
  std::vector<Pair> pairs_;
  std::vector<std::string> images_, texts_, attributes_;
  std::vector<eval::Category> attribute_categories_;
  std::vector<int32_t> image_attribute_;
  std::vector<std::vector<int32_t>> text_attributes_;
};

}  // namespace trainer

#endif  // TRAINER_DATASET_H_
