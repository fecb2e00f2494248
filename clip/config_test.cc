#include "clip/config.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

std::map<std::string, std::vector<int64_t>> ShapesOf(const ClipConfig& c) {
  std::map<std::string, std::vector<int64_t>> s;
  s["visual.conv1.weight"] = {c.vision_width, 3, c.vision_patch_size,
                              c.vision_patch_size};
  s["visual.positional_embedding"] = {c.vision_tokens(), c.vision_width};
  s["visual.proj"] = {c.vision_width, c.embed_dim};
  for (int i = 0; i < c.vision_layers; ++i) {
    s["visual.transformer.resblocks." + std::to_string(i) +
      ".attn.in_proj_weight"] = {3 * c.vision_width, c.vision_width};
  }
  s["positional_embedding"] = {c.context_length, c.transformer_width};
  s["token_embedding.weight"] = {c.vocab_size, c.transformer_width};
  s["ln_final.weight"] = {c.transformer_width};
  s["text_projection"] = {c.transformer_width, c.embed_dim};
  for (int i = 0; i < c.transformer_layers; ++i) {
    s["transformer.resblocks." + std::to_string(i) + ".attn.in_proj_weight"] = {
        3 * c.transformer_width, c.transformer_width};
  }
  return s;
}

TEST(ClipConfigTest, InfersEveryPresetFromShapes) {
  for (const std::string& name : PresetNames()) {
    auto preset = PresetConfig(name);
    ASSERT_OK(preset);
    auto inferred = InferConfig(ShapesOf(*preset), preset->ToMetadata());
    ASSERT_OK(inferred);
    EXPECT_EQ(*inferred, *preset) << name << ": " << inferred->Describe();
  }
}

TEST(ClipConfigTest, HeadsDefaultToWidthOver64) {
  auto b16 = PresetConfig("ViT-B-16");
  ASSERT_OK(b16);
  auto inferred = InferConfig(ShapesOf(*b16), {});
  ASSERT_OK(inferred);
  EXPECT_EQ(inferred->vision_heads, 12);
  EXPECT_EQ(inferred->transformer_heads, 8);
  EXPECT_EQ(inferred->image_resolution, 224);
  EXPECT_EQ(inferred->vision_patch_size, 16);
}

TEST(ClipConfigTest, MissingTensorIsNamed) {
  auto shapes = ShapesOf(*PresetConfig("tiny"));
  shapes.erase("visual.proj");
  EXPECT_THAT(
      InferConfig(shapes, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'visual.proj'")));
}

TEST(ClipConfigTest, ValidateRejectsIndivisibleHeads) {
  ClipConfig c = *PresetConfig("tiny");
  c.transformer_heads = 3;
  EXPECT_THAT(c.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("transformer_heads")));
}

TEST(ClipConfigTest, UnknownPresetListsKnownNames) {
  EXPECT_THAT(PresetConfig("ViT-H-99"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ViT-B-16")));
}

TEST(ClipConfigTest, MetadataRoundTrip) {
  ClipConfig c = *PresetConfig("small");
  auto back = ConfigFromMetadata(c.ToMetadata(), ClipConfig());
  ASSERT_OK(back);
  EXPECT_EQ(*back, c);
  EXPECT_THAT(
      ConfigFromMetadata({{"embed_dim", "x"}}, c),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("embed_dim")));
}

}  // namespace
}  // namespace clip
