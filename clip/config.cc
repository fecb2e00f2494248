#include "clip/config.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace clip {
namespace {

struct Field {
  const char* name;
  int64_t ClipConfig::*member;
};

constexpr Field kFields[] = {
    {"embed_dim", &ClipConfig::embed_dim},
    {"image_resolution", &ClipConfig::image_resolution},
    {"vision_layers", &ClipConfig::vision_layers},
    {"vision_width", &ClipConfig::vision_width},
    {"vision_patch_size", &ClipConfig::vision_patch_size},
    {"vision_heads", &ClipConfig::vision_heads},
    {"context_length", &ClipConfig::context_length},
    {"vocab_size", &ClipConfig::vocab_size},
    {"transformer_width", &ClipConfig::transformer_width},
    {"transformer_heads", &ClipConfig::transformer_heads},
    {"transformer_layers", &ClipConfig::transformer_layers},
};

ClipConfig Make(int64_t embed, int64_t res, int64_t vlayers, int64_t vwidth,
                int64_t patch, int64_t twidth, int64_t tlayers) {
  ClipConfig c;
  c.embed_dim = embed;
  c.image_resolution = res;
  c.vision_layers = vlayers;
  c.vision_width = vwidth;
  c.vision_patch_size = patch;
  c.vision_heads = vwidth / 64;
  c.transformer_width = twidth;
  c.transformer_heads = twidth / 64;
  c.transformer_layers = tlayers;
  return c;
}

struct Preset {
  const char* name;
  ClipConfig config;
};

std::vector<Preset> Presets() {
  std::vector<Preset> p = {
      {"ViT-B-32", Make(512, 224, 12, 768, 32, 512, 12)},
      {"ViT-B-16", Make(512, 224, 12, 768, 16, 512, 12)},
      {"ViT-L-14", Make(768, 224, 24, 1024, 14, 768, 12)},
      {"ViT-L-14-336", Make(768, 336, 24, 1024, 14, 768, 12)},
  };
  ClipConfig tiny = Make(64, 32, 2, 128, 8, 64, 2);
  tiny.vision_heads = 2;
  tiny.transformer_heads = 2;
  p.push_back({"tiny", tiny});
  ClipConfig small = Make(128, 64, 4, 192, 8, 128, 4);
  small.vision_heads = 3;
  small.transformer_heads = 2;
  p.push_back({"small", small});
  // The CPU demo: 48 px images, narrow towers; trains from scratch in minutes.
  ClipConfig demo = Make(128, 48, 4, 128, 8, 128, 3);
  demo.vision_heads = 2;
  demo.transformer_heads = 2;
  p.push_back({"demo", demo});
  return p;
}

absl::StatusOr<std::vector<int64_t>> ShapeOf(
    const std::map<std::string, std::vector<int64_t>>& shapes,
    const std::string& name, size_t rank) {
  auto it = shapes.find(name);
  if (it == shapes.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot infer the CLIP architecture: tensor '", name, "' is missing"));
  }
  if (it->second.size() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", name, "' has rank ", it->second.size(), ", expected ", rank,
        " (shape [", absl::StrJoin(it->second, ","), "])"));
  }
  return it->second;
}

int64_t CountLayers(const std::map<std::string, std::vector<int64_t>>& shapes,
                    const std::string& prefix) {
  int64_t n = 0;
  while (shapes.count(absl::StrCat(prefix, n, ".attn.in_proj_weight"))) ++n;
  return n;
}

}  // namespace

absl::Status ClipConfig::Validate() const {
  for (const Field& f : kFields) {
    if (this->*f.member <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CLIP config: ", f.name, " must be positive, got ", this->*f.member));
    }
  }
  if (vision_width % vision_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("CLIP config: vision_width ", vision_width,
                     " is not divisible by vision_heads ", vision_heads));
  }
  if (transformer_width % transformer_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CLIP config: transformer_width ", transformer_width,
        " is not divisible by transformer_heads ", transformer_heads));
  }
  if (image_resolution % vision_patch_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CLIP config: image_resolution ", image_resolution,
        " is not a multiple of vision_patch_size ", vision_patch_size));
  }
  return absl::OkStatus();
}

std::string ClipConfig::Describe() const {
  return absl::StrCat("vit:w", vision_width, "/l", vision_layers, "/h",
                      vision_heads, "/p", vision_patch_size, "/r",
                      image_resolution, ";text:w", transformer_width, "/l",
                      transformer_layers, "/h", transformer_heads, "/ctx",
                      context_length, "/v", vocab_size, ";embed", embed_dim);
}

std::map<std::string, std::string> ClipConfig::ToMetadata() const {
  std::map<std::string, std::string> m;
  for (const Field& f : kFields) m[f.name] = absl::StrCat(this->*f.member);
  return m;
}

bool ClipConfig::operator==(const ClipConfig& o) const {
  for (const Field& f : kFields) {
    if (this->*f.member != o.*f.member) return false;
  }
  return true;
}

absl::StatusOr<ClipConfig> PresetConfig(absl::string_view name) {
  for (const Preset& p : Presets()) {
    if (name == p.name) return p.config;
  }
  return absl::NotFoundError(
      absl::StrCat("unknown CLIP preset '", name,
                   "'; known: ", absl::StrJoin(PresetNames(), ", ")));
}

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const Preset& p : Presets()) names.push_back(p.name);
  return names;
}

absl::StatusOr<ClipConfig> ConfigFromMetadata(
    const std::map<std::string, std::string>& metadata,
    const ClipConfig& base) {
  ClipConfig c = base;
  for (const Field& f : kFields) {
    auto it = metadata.find(f.name);
    if (it == metadata.end()) continue;
    int64_t v;
    if (!absl::SimpleAtoi(it->second, &v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata '", f.name, "' is not an integer: '", it->second, "'"));
    }
    c.*f.member = v;
  }
  return c;
}

absl::StatusOr<ClipConfig> InferConfig(
    const std::map<std::string, std::vector<int64_t>>& shapes,
    const std::map<std::string, std::string>& metadata) {
  ClipConfig c;
  auto conv = ShapeOf(shapes, "visual.conv1.weight", 4);
  if (!conv.ok()) return conv.status();
  c.vision_width = (*conv)[0];
  c.vision_patch_size = (*conv)[3];
  auto vpos = ShapeOf(shapes, "visual.positional_embedding", 2);
  if (!vpos.ok()) return vpos.status();
  int64_t grid = static_cast<int64_t>(std::lround(std::sqrt((*vpos)[0] - 1)));
  if (grid * grid + 1 != (*vpos)[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor 'visual.positional_embedding' has ", (*vpos)[0],
                     " rows, not a square grid plus the class token"));
  }
  c.image_resolution = grid * c.vision_patch_size;
  c.vision_layers = CountLayers(shapes, "visual.transformer.resblocks.");
  auto proj = ShapeOf(shapes, "visual.proj", 2);
  if (!proj.ok()) return proj.status();
  c.embed_dim = (*proj)[1];
  auto pos = ShapeOf(shapes, "positional_embedding", 2);
  if (!pos.ok()) return pos.status();
  c.context_length = (*pos)[0];
  auto tok = ShapeOf(shapes, "token_embedding.weight", 2);
  if (!tok.ok()) return tok.status();
  c.vocab_size = (*tok)[0];
  auto lnf = ShapeOf(shapes, "ln_final.weight", 1);
  if (!lnf.ok()) return lnf.status();
  c.transformer_width = (*lnf)[0];
  c.transformer_layers = CountLayers(shapes, "transformer.resblocks.");
  auto tproj = ShapeOf(shapes, "text_projection", 2);
  if (!tproj.ok()) return tproj.status();
  if ((*tproj)[1] != c.embed_dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor 'text_projection' projects to ", (*tproj)[1],
                     " but 'visual.proj' to ", c.embed_dim));
  }
  c.vision_heads = c.vision_width / 64 > 0 ? c.vision_width / 64 : 1;
  c.transformer_heads =
      c.transformer_width / 64 > 0 ? c.transformer_width / 64 : 1;
  ClipConfig heads_only;
  std::map<std::string, std::string> head_meta;
  for (const char* key : {"vision_heads", "transformer_heads"}) {
    auto it = metadata.find(key);
    if (it != metadata.end()) head_meta[key] = it->second;
  }
  auto with_heads = ConfigFromMetadata(head_meta, c);
  if (!with_heads.ok()) return with_heads.status();
  c = *with_heads;
  if (c.vision_layers == 0 || c.transformer_layers == 0) {
    return absl::InvalidArgumentError(
        "cannot infer the CLIP architecture: no transformer blocks found "
        "('visual.transformer.resblocks.0.*' / 'transformer.resblocks.0.*')");
  }
  if (absl::Status s = c.Validate(); !s.ok()) return s;
  return c;
}

}  // namespace clip
