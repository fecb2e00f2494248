// Builds small, complete model versions for end-to-end tests: a tiny CLIP
// with seeded random weights, a BPE vocabulary trained on the given texts,
// and an index whose image i is embedded as the text tower's embedding of
// texts[i]. Searching texts[i] therefore ranks "img<i>.jpg" first, which
// checks tokenizer, encoder, index and server together.
#ifndef TESTS_TEST_MODEL_H_
#define TESTS_TEST_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clip/config.h"
#include "eval/labels.h"

namespace tests {

// Attribute heads (rerank/attribute_head.h) as a trained model carries
// them: both towers' heads in model.safetensors (metadata attribute_layout),
// the gallery's probabilities as attribute_probs in embeddings.safetensors
// (index row order, beside the embeddings), and the manifest's attributes
// block.
struct TestAttributes {
  // One row of eval::AttributeLayout::kSize probabilities per gallery text,
  // in texts order. Empty: the version has no attribute heads. A number of
  // rows other than the number of texts is written as given, unordered (for
  // versions that must be refused).
  std::vector<float> image_probs;
  // The text head's bias (kSize; empty: zeros) and weight: row `row` is
  // `scale` times the embedding of `text`, so a query close to `text` raises
  // that logit; the other rows are zero. The image head is all zeros.
  struct Row {
    int row = 0;
    std::string text;
    float scale = 1;
  };
  std::vector<float> text_bias;
  std::vector<Row> text_rows;
  // The manifest's attribute_layout and the weights' metadata (head_layout,
  // when set, for the latter); empty: eval::AttributeLayoutId().
  std::string layout;
  std::string head_layout;
  std::string rerank_weights;
  int64_t rerank_candidates = 0;
};

struct TestVersionOptions {
  std::vector<std::string> texts;  // one gallery image per text
  std::vector<eval::Category>
      categories;  // empty: alternate vehicle/pedestrian
  uint64_t seed = 1;
  std::string index_factory = "Flat";
  TestAttributes attributes;
};

// A version of SampleCaptions(num_images) with weights seeded by `seed`.
TestVersionOptions SampleVersion(int num_images, uint64_t seed = 1);

// Publishes a new version under `models_dir`; returns its number.
absl::StatusOr<int64_t> PublishTestVersion(const std::string& models_dir,
                                           const TestVersionOptions& options);

// Writes a tiny CLIP with weights seeded by `seed` and a BPE vocabulary of
// `num_merges` merges trained on `texts` as dir/model.safetensors and
// dir/bpe_vocab.txt.gz (`dir` must exist); returns the model's config.
absl::StatusOr<clip::ClipConfig> WriteTestModel(
    const std::string& dir, const std::vector<std::string>& texts,
    int num_merges, uint64_t seed);

// Captions in the competition's style, for galleries and queries.
std::vector<std::string> SampleCaptions(int n);

// Image name of row i: "img<i>.jpg".
std::string ImageName(int i);

}  // namespace tests

#endif  // TESTS_TEST_MODEL_H_
