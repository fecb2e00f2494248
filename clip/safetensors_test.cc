#include "clip/safetensors.h"

#include <cstring>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

TEST(SafetensorsTest, WriteThenReadIsBitIdentical) {
  SafetensorsWriter w;
  std::vector<float> a = {1.5f, -2.25f, 3.0f, 1e-30f, -0.0f, 7.0f};
  std::vector<int64_t> b = {1, -2, 1LL << 40};
  ASSERT_OK(w.Add("a.weight", DType::kF32, {2, 3}, Bytes(a)));
  ASSERT_OK(w.Add("b", DType::kI64, {3},
                  std::string(reinterpret_cast<const char*>(b.data()), 24)));
  ASSERT_OK(w.Add("scalar", DType::kF32, {}, Bytes({2.6097953f})));
  w.SetMetadata("format", "pt");
  const std::string path = ::testing::TempDir() + "/rt.safetensors";
  ASSERT_OK(w.WriteFile(path));

  auto f = SafetensorsFile::Read(path);
  ASSERT_OK(f);
  EXPECT_THAT(f->names(), ElementsAre("a.weight", "b", "scalar"));
  EXPECT_EQ(f->metadata().at("format"), "pt");
  auto view = f->Get("a.weight");
  ASSERT_OK(view);
  EXPECT_THAT(view->shape, ElementsAre(2, 3));
  EXPECT_EQ(view->data, Bytes(a));
  auto got_b = f->GetI64("b");
  ASSERT_OK(got_b);
  EXPECT_EQ(*got_b, b);
  auto s = f->Get("scalar");
  ASSERT_OK(s);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->numel(), 1);
}

TEST(SafetensorsTest, HeaderIsPaddedToEightBytes) {
  SafetensorsWriter w;
  ASSERT_OK(w.Add("x", DType::kU8, {3}, "abc"));
  std::string s = w.Serialize();
  uint64_t n;
  std::memcpy(&n, s.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(s.size(), 8 + n + 3);
}

TEST(SafetensorsTest, RejectsSizeMismatchOnAdd) {
  SafetensorsWriter w;
  EXPECT_THAT(w.Add("x", DType::kF32, {2, 2}, std::string(12, '\0')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'x'")));
  ASSERT_OK(w.Add("y", DType::kU8, {1}, "a"));
  EXPECT_THAT(w.Add("y", DType::kU8, {1}, "a"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST(SafetensorsTest, TruncatedFileIsDataLossNamingTensorAndFile) {
  SafetensorsWriter w;
  ASSERT_OK(w.Add("first", DType::kF32, {4}, Bytes({1, 2, 3, 4})));
  ASSERT_OK(w.Add("second", DType::kF32, {4}, Bytes({5, 6, 7, 8})));
  std::string s = w.Serialize();
  s.resize(s.size() - 3);
  EXPECT_THAT(SafetensorsFile::Parse(s, "model.safetensors"),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("model.safetensors"),
                                        HasSubstr("'second'"),
                                        HasSubstr("truncated"))));
  EXPECT_THAT(SafetensorsFile::Parse(s.substr(0, 5), "m"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("8-byte")));
}

TEST(SafetensorsTest, CorruptHeaderIsDataLoss) {
  std::string s(8, '\0');
  s[0] = 4;
  s += "{bad";
  EXPECT_THAT(SafetensorsFile::Parse(s, "m.st"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("JSON")));
  std::string huge(16, '\0');
  huge[6] = 1;  // header length far past the end
  EXPECT_THAT(
      SafetensorsFile::Parse(huge, "m.st"),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("header length")));
  std::string wrong_dtype =
      R"({"t":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}})";
  std::string f(8, '\0');
  f[0] = static_cast<char>(wrong_dtype.size());
  f += wrong_dtype + "abcd";
  EXPECT_THAT(SafetensorsFile::Parse(f, "m.st"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("F99")));
}

TEST(SafetensorsTest, MissingTensorAndWrongDtypeAreNamed) {
  SafetensorsWriter w;
  ASSERT_OK(w.Add("x", DType::kF32, {1}, Bytes({1})));
  auto f = SafetensorsFile::Parse(w.Serialize(), "w.safetensors");
  ASSERT_OK(f);
  EXPECT_THAT(f->Get("y"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("'y' not found in w.safetensors")));
  EXPECT_THAT(f->GetI64("x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("F32")));
}

TEST(SafetensorsTest, ReadTensorsReadsOnlyTheNamedTensors) {
  SafetensorsWriter w;
  std::vector<float> big(4096);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i);
  ASSERT_OK(w.Add("embeddings", DType::kF32, {1024, 4}, Bytes(big)));
  ASSERT_OK(
      w.Add("probs", DType::kF32, {3, 2}, Bytes({0, .5f, 1, .25f, 0, 1})));
  std::vector<int64_t> ids = {7, -9};
  ASSERT_OK(w.Add("ids", DType::kI64, {2},
                  std::string(reinterpret_cast<const char*>(ids.data()), 16)));
  w.SetMetadata("attribute_layout", "v1");
  const std::string path = ::testing::TempDir() + "/partial.safetensors";
  ASSERT_OK(w.WriteFile(path));

  auto f =
      SafetensorsFile::ReadTensors(path, {"probs", "absent", "ids", "probs"});
  ASSERT_OK(f);
  EXPECT_EQ(f->source(), path);
  EXPECT_THAT(f->names(), ElementsAre("ids", "probs"));
  EXPECT_EQ(f->metadata().at("attribute_layout"), "v1");
  EXPECT_FALSE(f->contains("embeddings"));
  EXPECT_THAT(f->Get("embeddings"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("'embeddings' not found in " + path)));
  auto probs = f->GetF32("probs");
  ASSERT_OK(probs);
  EXPECT_THAT(*probs, ElementsAre(0, .5f, 1, .25f, 0, 1));
  auto view = f->Get("probs");
  ASSERT_OK(view);
  EXPECT_THAT(view->shape, ElementsAre(3, 2));
  auto got_ids = f->GetI64("ids");
  ASSERT_OK(got_ids);
  EXPECT_EQ(*got_ids, ids);
  // The same bytes as a whole read.
  auto whole = SafetensorsFile::Read(path);
  ASSERT_OK(whole);
  EXPECT_EQ(whole->Get("probs")->data, view->data);

  auto none = SafetensorsFile::ReadTensors(path, {});
  ASSERT_OK(none);
  EXPECT_TRUE(none->names().empty());
  EXPECT_EQ(none->metadata().at("attribute_layout"), "v1");
}

TEST(SafetensorsTest, ReadTensorsOfACutShortFileIsDataLossNamingTheFile) {
  SafetensorsWriter w;
  ASSERT_OK(w.Add("first", DType::kF32, {4}, Bytes({1, 2, 3, 4})));
  ASSERT_OK(w.Add("second", DType::kF32, {4}, Bytes({5, 6, 7, 8})));
  const std::string dir = ::testing::TempDir();
  std::string s = w.Serialize();
  s.resize(s.size() - 3);
  ASSERT_OK(common::WriteFileAtomically(dir + "/cut.safetensors", s));
  // The header is checked whole, so even a request for the intact tensor
  // reports the one past the end.
  EXPECT_THAT(SafetensorsFile::ReadTensors(dir + "/cut.safetensors", {"first"}),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr(dir + "/cut.safetensors"),
                                        HasSubstr("'second'"),
                                        HasSubstr("truncated"))));
  // A tensor whose range lies beyond the data section.
  const std::string header =
      R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  std::string out_of_range(8, '\0');
  out_of_range[0] = static_cast<char>(header.size());
  out_of_range += header + std::string(8, 'x');
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/range.safetensors", out_of_range));
  EXPECT_THAT(
      SafetensorsFile::ReadTensors(dir + "/range.safetensors", {"t"}),
      StatusIs(absl::StatusCode::kDataLoss,
               ::testing::AllOf(HasSubstr(dir + "/range.safetensors"),
                                HasSubstr("'t'"), HasSubstr("data ends"))));
  ASSERT_OK(common::WriteFileAtomically(dir + "/short.safetensors", "abc"));
  EXPECT_THAT(SafetensorsFile::ReadTensors(dir + "/short.safetensors", {"t"}),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("short.safetensors"),
                                        HasSubstr("8-byte"))));
  std::string huge(16, '\0');
  huge[6] = 1;  // header length far past the end
  ASSERT_OK(common::WriteFileAtomically(dir + "/huge.safetensors", huge));
  EXPECT_THAT(SafetensorsFile::ReadTensors(dir + "/huge.safetensors", {"t"}),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("huge.safetensors"),
                                        HasSubstr("header length"))));
  EXPECT_THAT(SafetensorsFile::ReadTensors(dir + "/none.safetensors", {"t"}),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(dir + "/none.safetensors")));
}

TEST(SafetensorsTest, ReadsTheParityFixture) {
  REQUIRE_SHARED_PATH(path, "fixtures/clip-parity/expected.safetensors");
  auto f = SafetensorsFile::Read(path);
  ASSERT_OK(f);
  auto tokens = f->Get("text_tokens");
  ASSERT_OK(tokens);
  EXPECT_EQ(tokens->dtype, DType::kI64);
  EXPECT_THAT(tokens->shape, ElementsAre(322, 77));
  auto t = f->GetI64("text_tokens");
  ASSERT_OK(t);
  // Row 2 is "This is a white Audi." (fixture README).
  EXPECT_THAT(
      std::vector<int64_t>(t->begin() + 77 * 2, t->begin() + 77 * 2 + 8),
      ElementsAre(49406, 589, 533, 320, 1579, 10277, 269, 49407));
  EXPECT_EQ(f->metadata().count("openai_clip_commit"), 1u);
}

}  // namespace
}  // namespace clip
