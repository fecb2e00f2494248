// End-to-end parity of clip_embed's pipeline (tokenizer, preprocessing from
// the JPEGs, model) with OpenAI's reference outputs.
#include "clip/embed_tool.h"

#include <cmath>
#include <filesystem>

#include "clip/safetensors.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(EmbedToolTest, MatchesOpenAiReferenceFromRawInputs) {
  REQUIRE_SHARED_PATH(fixture, "fixtures/clip-parity");
  REQUIRE_SHARED_PATH(vocab, "data/clip/bpe_simple_vocab_16e6.txt.gz");
  // Images in the fixture's row order (images.json).
  const std::string list = ::testing::TempDir() + "/images.txt";
  ASSERT_OK(common::WriteFileAtomically(
      list, fixture + "/images/090004.jpg\n" + fixture +
                "/images/090007.jpg\n" + fixture +
                "/images/0002_c002_00030670_0.jpg\n" + fixture +
                "/images/0014_c012_00040750_0.jpg\n"));
  EmbedToolOptions options;
  options.weights = fixture + "/model.safetensors";
  options.vocab = vocab;
  options.texts = fixture + "/texts.jsonl";
  options.images = list;
  options.output = ::testing::TempDir() + "/embed.safetensors";
  ASSERT_OK(RunEmbedTool(options));

  auto got = SafetensorsFile::Read(options.output);
  auto want = SafetensorsFile::Read(fixture + "/expected.safetensors");
  ASSERT_OK(got);
  ASSERT_OK(want);
  auto tokens = got->GetI64("text_tokens");
  ASSERT_OK(tokens);
  EXPECT_EQ(*tokens, *want->GetI64("text_tokens"));

  auto text = got->GetF32("text_embeds");
  auto want_text = want->GetF32("text_embeds");
  ASSERT_OK(text);
  ASSERT_EQ(text->size(), want_text->size());
  double max_text = 0;
  for (size_t i = 0; i < text->size(); ++i) {
    max_text =
        std::max<double>(max_text, std::abs((*text)[i] - (*want_text)[i]));
  }
  EXPECT_LT(max_text, 1e-4);

  auto input = got->GetF32("image_input");
  auto want_input = want->GetF32("image_input");
  ASSERT_OK(input);
  ASSERT_EQ(input->size(), want_input->size());
  double max_pixel = 0;
  for (size_t i = 0; i < input->size(); ++i) {
    max_pixel =
        std::max<double>(max_pixel, std::abs((*input)[i] - (*want_input)[i]));
  }
  EXPECT_LT(max_pixel, 2 * 0.0155);  // two u8 steps in normalised units

  auto image = got->GetF32("image_embeds");
  auto want_image = want->GetF32("image_embeds");
  ASSERT_OK(image);
  const int64_t dim = 64;
  for (int r = 0; r < 4; ++r) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t j = 0; j < dim; ++j) {
      double a = (*image)[r * dim + j], b = (*want_image)[r * dim + j];
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    EXPECT_GE(dot / std::sqrt(na * nb), 0.9999) << "image " << r;
  }
}

TEST(EmbedToolTest, BadJsonlLineIsNamed) {
  const std::string path = ::testing::TempDir() + "/bad.jsonl";
  ASSERT_OK(common::WriteFileAtomically(path, "\"ok\"\nnot json\n"));
  EXPECT_THAT(ReadTextsFile(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("bad.jsonl:2")));
}

TEST(EmbedToolTest, InvalidUtf8TextIsNamedWithItsLine) {
  const std::string txt = ::testing::TempDir() + "/bad_utf8.txt";
  ASSERT_OK(common::WriteFileAtomically(txt, "fine\nbad \xc3( byte\n"));
  EXPECT_THAT(ReadTextsFile(txt),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("bad_utf8.txt:2"), HasSubstr("UTF-8"))));
  const std::string jsonl = ::testing::TempDir() + "/bad_utf8.jsonl";
  ASSERT_OK(common::WriteFileAtomically(jsonl, "\"fine\"\n\"bad \xff\"\n"));
  EXPECT_THAT(
      ReadTextsFile(jsonl),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("bad_utf8.jsonl:2"), HasSubstr("UTF-8"))));
}

// The texts are read before the model is loaded: a file without a text is
// refused by name, whatever the weights.
TEST(EmbedToolTest, TextsFileWithoutTextsIsInvalidArgument) {
  for (const char* name : {"/empty.txt", "/empty.jsonl"}) {
    const std::string path = ::testing::TempDir() + name;
    ASSERT_OK(common::WriteFileAtomically(path, ""));
    EmbedToolOptions options;
    options.weights = ::testing::TempDir() + "/no_such_model.safetensors";
    options.texts = path;
    options.output = ::testing::TempDir() + "/never.safetensors";
    EXPECT_THAT(RunEmbedTool(options),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(path), HasSubstr("no texts"))));
  }
}

TEST(EmbedToolTest, ListKeepsOrderAndResolvesRelativePaths) {
  const std::string dir = ::testing::TempDir();
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/list.txt", "b.jpg\n/abs/a.jpg\n\n"));
  auto paths = ListImages(dir + "/list.txt");
  ASSERT_OK(paths);
  const std::string base =
      std::filesystem::path(dir + "/list.txt").parent_path().string();
  EXPECT_THAT(*paths, ::testing::ElementsAre(base + "/b.jpg", "/abs/a.jpg"));
}

}  // namespace
}  // namespace clip
