#include "clip/fast_model.h"

#include <torch/torch.h>

#include <cstring>

#include "clip/encoder.h"
#include "clip/safetensors.h"
#include "clip/weights.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kFixture[] = "fixtures/clip-parity";
constexpr char kVocab[] = "data/clip/bpe_simple_vocab_16e6.txt.gz";

torch::Tensor FixtureTensor(const SafetensorsFile& f, const std::string& name) {
  auto view = f.Get(name);
  EXPECT_TRUE(view.ok()) << view.status();
  torch::Tensor t =
      torch::empty(view->shape, view->dtype == DType::kI64 ? torch::kInt64
                                                           : torch::kFloat32);
  std::memcpy(t.data_ptr(), view->data.data(), view->data.size());
  return t;
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Smallest cosine between matching rows of a and b.
double MinCosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::cosine_similarity(a, b, 1).min().item<double>();
}

absl::StatusOr<std::unique_ptr<FastClipModel>> Pack(ClipModel& model,
                                                    Precision p) {
  FastClipModel::Options o;
  o.precision = p;
  return FastClipModel::Create(*model, o);
}

#define PACK_OR_SKIP(var, model, precision)                         \
  auto var##_or = Pack(model, precision);                           \
  if (absl::IsUnimplemented(var##_or.status())) {                   \
    GTEST_SKIP() << "no oneDNN kernel here: " << var##_or.status(); \
  }                                                                 \
  ASSERT_OK(var##_or);                                              \
  std::unique_ptr<FastClipModel> var = std::move(*var##_or)

class FastModelParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = common_testing::SharedPath(kFixture);
    vocab_ = common_testing::SharedPath(kVocab);
    if (dir_.empty() || vocab_.empty()) {
      GTEST_SKIP() << "shared data missing: ../shared/" << kFixture
                   << " and ../shared/" << kVocab;
    }
    auto expected = SafetensorsFile::Read(dir_ + "/expected.safetensors");
    ASSERT_OK(expected);
    tokens_ = FixtureTensor(*expected, "text_tokens");
    images_ = FixtureTensor(*expected, "image_input");
    want_text_ = FixtureTensor(*expected, "text_embeds");
    want_image_ = FixtureTensor(*expected, "image_embeds");
    auto model = LoadClipModel(dir_ + "/model.safetensors");
    ASSERT_OK(model);
    model_ = *model;
  }
  std::string dir_, vocab_;
  torch::Tensor tokens_, images_, want_text_, want_image_;
  ClipModel model_{nullptr};
};

TEST_F(FastModelParityTest, Fp32MatchesOpenAiReference) {
  PACK_OR_SKIP(fast, model_, Precision::kFp32);
  c10::InferenceMode guard;
  EXPECT_LT(MaxAbsDiff(fast->EncodeText(tokens_), want_text_), 2e-5);
  EXPECT_LT(MaxAbsDiff(fast->EncodeImage(images_), want_image_), 2e-5);
}

TEST_F(FastModelParityTest, Bf16KeepsEveryEmbeddingsDirection) {
  PACK_OR_SKIP(fast, model_, Precision::kBf16);
  c10::InferenceMode guard;
  EXPECT_GE(MinCosine(fast->EncodeText(tokens_), want_text_), 0.999);
  EXPECT_GE(MinCosine(fast->EncodeImage(images_), want_image_), 0.999);
}

// The server's path: ClipEncoder groups rows by length into chunks and
// computes each only up to its longest row. It must agree with the reference
// and with one unbucketed pass over all rows.
TEST_F(FastModelParityTest,
       LengthBucketedEncoderMatchesReferenceAndUnbucketedPass) {
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    EncoderOptions o;
    o.precision = p;
    o.max_batch_size = 16;
    auto encoder = ClipEncoder::Load(dir_ + "/model.safetensors", vocab_, o);
    ASSERT_OK(encoder);
    const int64_t n = tokens_.size(0);
    std::vector<int64_t> ids(tokens_.data_ptr<int64_t>(),
                             tokens_.data_ptr<int64_t>() + tokens_.numel());
    auto bucketed = (*encoder)->EncodeTokens(ids, n);
    ASSERT_OK(bucketed);
    torch::Tensor got = torch::from_blob(bucketed->data(), {n, 64}).clone();
    torch::Tensor want = want_text_ / want_text_.norm(2, -1, true);
    PACK_OR_SKIP(fast, model_, p);
    c10::InferenceMode guard;
    torch::Tensor whole = fast->EncodeText(tokens_);
    whole = whole / whole.norm(2, -1, true);
    if (p == Precision::kFp32) {
      EXPECT_LT(MaxAbsDiff(got, want), 1e-5);
      EXPECT_LT(MaxAbsDiff(got, whole), 1e-5);
    } else {
      EXPECT_GE(MinCosine(got, want), 0.999);
      // Same bf16 roundings of the same rows: only summation order differs.
      EXPECT_GE(MinCosine(got, whole), 0.9999);
    }
  }
}

TEST_F(FastModelParityTest, TextOnlyEncoderHasNoImageTower) {
  EncoderOptions o;
  o.image_tower = false;
  auto text_only = ClipEncoder::Load(dir_ + "/model.safetensors", vocab_, o);
  ASSERT_OK(text_only);
  auto full = ClipEncoder::Load(dir_ + "/model.safetensors", vocab_);
  ASSERT_OK(full);
  const std::vector<std::string> texts = {"This is a white Audi.", "行人"};
  auto a = (*text_only)->EncodeTexts(texts);
  auto b = (*full)->EncodeTexts(texts);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(*a, *b);
  EXPECT_THAT((*text_only)->Describe(), HasSubstr("text tower"));
  std::vector<float> pixels(3 * 32 * 32, 0.f);
  EXPECT_THAT((*text_only)->EncodeImages(pixels, 1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("image tower")));
}

// Full-size ViT-B/16 with OpenAI's random initialisation: the widths, head
// counts and sequence lengths the product runs.
TEST(FastModelViTB16Test, Bf16AndFp32AgreeWithTheLibTorchModules) {
  auto config = PresetConfig("ViT-B-16");
  ASSERT_OK(config);
  torch::manual_seed(7);
  ClipModel model(*config);
  model->eval();
  PACK_OR_SKIP(fp32, model, Precision::kFp32);
  PACK_OR_SKIP(bf16, model, Precision::kBf16);
  c10::InferenceMode guard;
  // Rows of 5, 33, 60 and 77 positions, ids spread over the vocabulary.
  torch::Tensor tokens = torch::zeros({4, 77}, torch::kInt64);
  const int64_t lengths[] = {5, 33, 60, 77};
  torch::Tensor ids = torch::randint(1, 49406, {4, 77}, torch::kInt64);
  for (int64_t r = 0; r < 4; ++r) {
    tokens[r].narrow(0, 0, lengths[r]).copy_(ids[r].narrow(0, 0, lengths[r]));
    tokens[r][0] = 49406;
    tokens[r][lengths[r] - 1] = 49407;
  }
  torch::Tensor images = torch::randn({2, 3, 224, 224});
  torch::Tensor ref_text = model->EncodeText(tokens);
  torch::Tensor ref_image = model->EncodeImage(images);
  const double text_scale = ref_text.abs().max().item<double>();
  const double image_scale = ref_image.abs().max().item<double>();
  EXPECT_LT(MaxAbsDiff(fp32->EncodeText(tokens), ref_text), 1e-4 * text_scale);
  EXPECT_LT(MaxAbsDiff(fp32->EncodeImage(images), ref_image),
            1e-4 * image_scale);
  EXPECT_GE(MinCosine(bf16->EncodeText(tokens), ref_text), 0.999);
  EXPECT_GE(MinCosine(bf16->EncodeImage(images), ref_image), 0.999);
  // Each row alone gives the same result as in the batch (no leakage
  // through padding or the mask).
  for (int64_t r = 0; r < 4; ++r) {
    EXPECT_LT(MaxAbsDiff(fp32->EncodeText(tokens.narrow(0, r, 1)),
                         ref_text.narrow(0, r, 1)),
              1e-4 * text_scale);
  }
  EXPECT_GT(bf16->packed_bytes(), 0);
  EXPECT_LT(bf16->packed_bytes(), fp32->packed_bytes() * 0.55);
}

TEST(FastModelTest, RejectsWhatItCannotRun) {
  auto config = PresetConfig("tiny");
  ASSERT_OK(config);
  ClipModel model(*config);
  FastClipModel::Options o;
  o.precision = Precision::kFp16;
  EXPECT_THAT(FastClipModel::Create(*model, o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fp16")));
  ClipModel text_only(*config, /*with_vision=*/false);
  o.precision = Precision::kFp32;
  EXPECT_THAT(
      FastClipModel::Create(*text_only, o).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image tower")));
  o.vision = false;
  auto fast = FastClipModel::Create(*text_only, o);
  ASSERT_OK(fast);
  c10::InferenceMode guard;
  EXPECT_THROW((*fast)->EncodeImage(torch::zeros({1, 3, 32, 32})), c10::Error);
}

}  // namespace
}  // namespace clip
