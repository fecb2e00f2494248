#include "clip/model.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "clip/safetensors.h"
#include "clip/weights.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kFixture[] = "fixtures/clip-parity/";

torch::Tensor FixtureTensor(const SafetensorsFile& f, const std::string& name) {
  auto view = f.Get(name);
  EXPECT_TRUE(view.ok()) << view.status();
  torch::ScalarType type = view->dtype == DType::kI64   ? torch::kInt64
                           : view->dtype == DType::kI32 ? torch::kInt32
                                                        : torch::kFloat32;
  torch::Tensor t =
      torch::empty(view->shape, torch::TensorOptions().dtype(type));
  std::memcpy(t.data_ptr(), view->data.data(), view->data.size());
  return t;
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(ClipModelTest, ShapesForTinyConfig) {
  auto config = PresetConfig("tiny");
  ASSERT_OK(config);
  ClipModel model(*config);
  model->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor images = torch::randn({3, 3, 32, 32});
  EXPECT_EQ(model->EncodeImage(images).sizes(), torch::IntArrayRef({3, 64}));
  torch::Tensor tokens = torch::zeros({2, 77}, torch::kInt64);
  tokens[0][0] = 49406;
  tokens[0][1] = 320;
  tokens[0][2] = 49407;
  tokens[1][0] = 49406;
  tokens[1][1] = 49407;
  EXPECT_EQ(model->EncodeText(tokens).sizes(), torch::IntArrayRef({2, 64}));
}

TEST(ClipModelTest, AttributeHeadTensorsAreReadPastOtherExtrasAreNamed) {
  auto config = PresetConfig("tiny");
  ASSERT_OK(config);
  ClipModel model(*config);
  const std::string plain = ::testing::TempDir() + "/tiny_plain.safetensors";
  ASSERT_OK(SaveClipModel(model, plain));
  auto file = SafetensorsFile::Read(plain);
  ASSERT_OK(file);
  // The file with one extra tensor `extra`.
  auto with = [&](const std::string& extra) {
    SafetensorsWriter w;
    for (const std::string& name : file->names()) {
      auto v = file->Get(name);
      EXPECT_OK(v);
      EXPECT_OK(w.Add(name, v->dtype, v->shape, v->data));
    }
    for (const auto& [k, v] : file->metadata()) w.SetMetadata(k, v);
    const std::vector<float> bias(111, 0.0f);
    EXPECT_OK(
        w.Add(extra, DType::kF32, {111},
              absl::string_view(reinterpret_cast<const char*>(bias.data()),
                                bias.size() * sizeof(float))));
    const std::string path =
        ::testing::TempDir() + "/tiny_" + extra + ".safetensors";
    EXPECT_OK(w.WriteFile(path));
    return path;
  };
  EXPECT_OK(LoadClipModel(with("attribute_head.text.bias")));
  EXPECT_OK(LoadClipModel(with("attribute_head.image.bias"),
                          ModelLoadOptions{/*vision=*/false}));
  EXPECT_THAT(LoadClipModel(with("extra_head.bias")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'extra_head.bias'")));
}

TEST(ClipModelTest, EotPositionIsFirstLargestId) {
  torch::Tensor t = torch::tensor(
      {{49406, 3306, 49407, 1002, 49407, 0}, {49406, 49407, 0, 0, 0, 0}},
      torch::kInt64);
  torch::Tensor eot = EotPositions(t);
  EXPECT_EQ(eot[0].item<int64_t>(), 2);
  EXPECT_EQ(eot[1].item<int64_t>(), 1);
}

TEST(ClipModelTest, TrimmedTextEncodingEqualsFullLength) {
  auto config = PresetConfig("tiny");
  ASSERT_OK(config);
  torch::manual_seed(3);
  ClipModel model(*config);
  model->eval();
  torch::NoGradGuard no_grad;
  // One short row and one long row in the same batch, then each alone.
  torch::Tensor tokens = torch::zeros({2, 77}, torch::kInt64);
  tokens[0][0] = 49406;
  tokens[0][1] = 589;
  tokens[0][2] = 49407;
  for (int i = 0; i < 40; ++i) tokens[1][i] = 49406 * (i == 0) + (i > 0) * 320;
  tokens[1][40] = 49407;
  torch::Tensor both = model->EncodeText(tokens);
  torch::Tensor first = model->EncodeText(tokens.narrow(0, 0, 1));
  EXPECT_LT(MaxAbsDiff(both.narrow(0, 0, 1), first), 1e-5);
}

class ClipParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = common_testing::SharedPath(kFixture);
    if (dir_.empty()) {
      GTEST_SKIP() << "shared data missing: ../shared/" << kFixture;
    }
    auto expected = SafetensorsFile::Read(dir_ + "/expected.safetensors");
    ASSERT_OK(expected);
    expected_ = std::make_unique<SafetensorsFile>(std::move(*expected));
  }
  std::string dir_;
  std::unique_ptr<SafetensorsFile> expected_;
};

void ExpectParity(ClipModel& model, const SafetensorsFile& expected) {
  torch::NoGradGuard no_grad;
  torch::Tensor tokens = FixtureTensor(expected, "text_tokens");
  torch::Tensor text = model->EncodeText(tokens);
  torch::Tensor want_text = FixtureTensor(expected, "text_embeds");
  EXPECT_LT(MaxAbsDiff(text, want_text), 2e-5);
  torch::Tensor images = FixtureTensor(expected, "image_input");
  torch::Tensor image = model->EncodeImage(images);
  EXPECT_LT(MaxAbsDiff(image, FixtureTensor(expected, "image_embeds")), 2e-5);
  torch::Tensor logits = model->LogitsPerImage(image, text.narrow(0, 0, 8));
  EXPECT_LT(
      MaxAbsDiff(logits, FixtureTensor(expected, "logits_per_image_first8")),
      1e-4);
  // Normalised embeddings (what the index stores) agree tightly too.
  torch::Tensor n = text / text.norm(2, -1, true);
  torch::Tensor wn = want_text / want_text.norm(2, -1, true);
  EXPECT_LT(MaxAbsDiff(n, wn), 1e-5);
}

// Every tensor of `a` is in `b`, bit-identical, and nothing else is.
void ExpectSameTensors(const std::string& path_a, const std::string& path_b) {
  auto a = ReadCheckpoint(path_a);
  auto b = ReadCheckpoint(path_b);
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  for (const auto& [name, t] : a->tensors) {
    ASSERT_TRUE(b->tensors.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, b->tensors.at(name))) << name;
  }
}

TEST_F(ClipParityTest, SafetensorsMatchesOpenAiReference) {
  auto model = LoadClipModel(dir_ + "/model.safetensors");
  ASSERT_OK(model);
  EXPECT_EQ((*model)->config().transformer_heads, 2);
  EXPECT_EQ((*model)->config().vision_heads, 2);
  EXPECT_EQ((*model)->config().image_resolution, 32);
  ExpectParity(*model, *expected_);
}

TEST_F(ClipParityTest, TorchScriptGivesTheSameModel) {
  ExpectSameTensors(dir_ + "/model.safetensors", dir_ + "/model.pt");
  // Heads come from the config.json beside the archive.
  auto model = LoadClipModel(dir_ + "/model.pt");
  ASSERT_OK(model);
  ExpectParity(*model, *expected_);
}

TEST_F(ClipParityTest, HuggingFaceLayoutGivesTheSameModel) {
  ExpectSameTensors(dir_ + "/model.safetensors",
                    dir_ + "/hf/model.safetensors");
  auto model = LoadClipModel(dir_ + "/hf/model.safetensors");
  ASSERT_OK(model);
  ExpectParity(*model, *expected_);
}

TEST_F(ClipParityTest, SaveThenLoadIsBitIdentical) {
  auto model = LoadClipModel(dir_ + "/model.safetensors");
  ASSERT_OK(model);
  const std::string out = ::testing::TempDir() + "/roundtrip.safetensors";
  ASSERT_OK(SaveClipModel(*model, out, {{"note", "round trip"}}));
  auto back = LoadClipModel(out);
  ASSERT_OK(back);
  EXPECT_EQ((*back)->config(), (*model)->config());
  auto pa = (*model)->named_parameters();
  auto pb = (*back)->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) {
    EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  }
}

// Writes a copy of the fixture with one tensor changed by `edit`.
std::string WriteEdited(
    const std::string& src, const std::string& out,
    const std::function<void(SafetensorsWriter&, const TensorView&)>& edit,
    const std::string& target) {
  auto f = SafetensorsFile::Read(src);
  EXPECT_TRUE(f.ok());
  SafetensorsWriter w;
  for (const auto& [k, v] : f->metadata()) w.SetMetadata(k, v);
  for (const std::string& name : f->names()) {
    auto v = f->Get(name);
    if (name == target) {
      edit(w, *v);
    } else {
      EXPECT_TRUE(w.Add(name, v->dtype, v->shape, v->data).ok());
    }
  }
  EXPECT_TRUE(w.WriteFile(out).ok());
  return out;
}

TEST_F(ClipParityTest, MissingTensorIsNamed) {
  std::string path = WriteEdited(
      dir_ + "/model.safetensors",
      ::testing::TempDir() + "/missing.safetensors",
      [](SafetensorsWriter&, const TensorView&) {}, "ln_final.bias");
  EXPECT_THAT(LoadClipModel(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("'ln_final.bias'"),
                                        HasSubstr("missing.safetensors"))));
}

TEST_F(ClipParityTest, WrongShapeIsNamedWithBothShapes) {
  std::string path = WriteEdited(
      dir_ + "/model.safetensors", ::testing::TempDir() + "/shape.safetensors",
      [](SafetensorsWriter& w, const TensorView& v) {
        std::vector<int64_t> shape = {v.shape[0] / 2, v.shape[1] * 2};
        ASSERT_OK(w.Add(v.name, v.dtype, shape, v.data));
      },
      "transformer.resblocks.1.mlp.c_fc.weight");
  EXPECT_THAT(
      LoadClipModel(path),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(
                   HasSubstr("'transformer.resblocks.1.mlp.c_fc.weight'"),
                   HasSubstr("[128,128]"), HasSubstr("[256,64]"))));
}

TEST_F(ClipParityTest, TruncatedAndCorruptFilesAreDataLoss) {
  auto bytes = common::ReadFile(dir_ + "/model.safetensors");
  ASSERT_OK(bytes);
  const std::string truncated = ::testing::TempDir() + "/truncated.safetensors";
  ASSERT_OK(common::WriteFileAtomically(truncated,
                                        bytes->substr(0, bytes->size() / 2)));
  EXPECT_THAT(LoadClipModel(truncated),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("truncated.safetensors"),
                                        HasSubstr("truncated"))));
  std::string corrupt = *bytes;
  corrupt[10] = '#';
  const std::string corrupt_path =
      ::testing::TempDir() + "/corrupt.safetensors";
  ASSERT_OK(common::WriteFileAtomically(corrupt_path, corrupt));
  EXPECT_THAT(
      LoadClipModel(corrupt_path),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt.safetensors")));
  auto pt = common::ReadFile(dir_ + "/model.pt");
  ASSERT_OK(pt);
  const std::string bad_pt = ::testing::TempDir() + "/bad.pt";
  ASSERT_OK(common::WriteFileAtomically(bad_pt, pt->substr(0, pt->size() / 3)));
  EXPECT_THAT(LoadClipModel(bad_pt),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bad.pt")));
}

}  // namespace
}  // namespace clip
