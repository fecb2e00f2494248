#include "clip/tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clip/safetensors.h"
#include "clip/text_clean.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "common/test_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace clip {
namespace {

using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kBpePath[] = "data/clip/bpe_simple_vocab_16e6.txt.gz";
constexpr char kTextsPath[] = "fixtures/clip-parity/texts.jsonl";
constexpr char kExpectedPath[] = "fixtures/clip-parity/expected.safetensors";

std::string TempFile(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/tokenizer_test_", name);
}

// Writes `contents` gzip-compressed.
void WriteGzip(const std::string& path, const std::string& contents) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(
      gzwrite(file, contents.data(), static_cast<unsigned>(contents.size())),
      static_cast<int>(contents.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

void WriteText(const std::string& path, const std::string& contents) {
  ASSERT_OK(common::WriteFileAtomically(path, contents));
}

std::vector<std::string> ReadTexts(const std::string& path) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    texts.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return texts;
}

// Each piece of the cleaned text followed by a space: what OpenAI's decode
// gives back for encode(text).
std::string ExpectedDecode(const std::string& text) {
  std::string cleaned = CleanText(text);
  std::string out;
  for (absl::string_view piece : PreTokenize(cleaned)) {
    absl::StrAppend(&out, piece, " ");
  }
  return out;
}

std::string WithoutSpaces(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

class OpenAiVocabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_SHARED_PATH(bpe, kBpePath);
    REQUIRE_SHARED_PATH(texts, kTextsPath);
    REQUIRE_SHARED_PATH(expected_path, kExpectedPath);
    bpe_path_ = bpe;
    texts_ = ReadTexts(texts);
    ASSERT_EQ(texts_.size(), 322u);
    auto tokenizer = BpeTokenizer::LoadOpenAi(bpe);
    ASSERT_OK(tokenizer);
    tokenizer_ = std::move(tokenizer).value();
    auto expected = SafetensorsFile::Read(expected_path);
    ASSERT_OK(expected);
    auto tokens = expected->GetI64("text_tokens");
    ASSERT_OK(tokens);
    expected_ = *tokens;
    ASSERT_EQ(expected_.size(), 322u * 77u);
    auto eot_index = expected->GetI64("text_eot_index");
    ASSERT_OK(eot_index);
    eot_index_ = *eot_index;
  }

  std::vector<int64_t> ExpectedRow(size_t i) const {
    return std::vector<int64_t>(expected_.begin() + i * 77,
                                expected_.begin() + (i + 1) * 77);
  }

  std::string bpe_path_;
  std::unique_ptr<BpeTokenizer> tokenizer_;
  std::vector<std::string> texts_;
  std::vector<int64_t> expected_;
  std::vector<int64_t> eot_index_;
};

TEST_F(OpenAiVocabTest, VocabularyLayout) {
  EXPECT_EQ(tokenizer_->vocab_size(), 49408);
  EXPECT_EQ(tokenizer_->num_merges(), kOpenAiNumMerges);
  EXPECT_EQ(tokenizer_->sot_id(), 49406);
  EXPECT_EQ(tokenizer_->eot_id(), 49407);
  EXPECT_EQ(tokenizer_->token(0), "!");
  EXPECT_EQ(tokenizer_->token(320), "a</w>");
  EXPECT_EQ(tokenizer_->token(49407), "<|endoftext|>");
  EXPECT_EQ(tokenizer_->token(49408), "");
  EXPECT_EQ(tokenizer_->token_id("a</w>"), 320);
  // Bytes outside printable Latin-1 map to U+0100 onwards: space is U+0120.
  EXPECT_EQ(tokenizer_->token(188 + 32), "\u0120");
  EXPECT_EQ(tokenizer_->token_id("nope"), -1);
  EXPECT_EQ(tokenizer_->merges().front(),
            std::make_pair(std::string("i"), std::string("n")));
}

TEST_F(OpenAiVocabTest, MatchesReferenceForAllFixtureTexts) {
  for (size_t i = 0; i < texts_.size(); ++i) {
    std::vector<int64_t> row = tokenizer_->Tokenize(texts_[i]);
    ASSERT_EQ(row, ExpectedRow(i)) << "row " << i << ": " << texts_[i];
    const int64_t argmax =
        std::max_element(row.begin(), row.end()) - row.begin();
    EXPECT_EQ(argmax, eot_index_[i]) << "row " << i;
  }
}

TEST_F(OpenAiVocabTest, BatchMatchesReference) {
  std::vector<int64_t> batch = tokenizer_->TokenizeBatch(texts_);
  EXPECT_EQ(batch, expected_);
  EXPECT_TRUE(tokenizer_->TokenizeBatch(texts_, 0).empty());
}

TEST_F(OpenAiVocabTest, EncodeDecodeAndTruncation) {
  EXPECT_THAT(tokenizer_->Encode("This is a white Audi."),
              ElementsAre(589, 533, 320, 1579, 10277, 269));
  EXPECT_THAT(tokenizer_->Encode("hello <|endoftext|> world"),
              ElementsAre(3306, 49407, 1002));
  EXPECT_TRUE(tokenizer_->Encode(" \t ").empty());
  auto decoded =
      tokenizer_->Decode(tokenizer_->Encode("This is a WHITE Audi."));
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, "this is a white audi . ");
  // Int64 rows decode too; SOT/EOT decode to their literal text.
  std::vector<int64_t> row = tokenizer_->Tokenize("\u884c\u4eba", 9);
  EXPECT_THAT(row, ElementsAre(49406, 164, 94, 234, 21078, 374, 49407, 0, 0));
  auto with_specials =
      tokenizer_->Decode(absl::MakeConstSpan(row).subspan(0, 7));
  ASSERT_OK(with_specials);
  EXPECT_EQ(*with_specials, "<|startoftext|>\u884c\u4eba <|endoftext|>");
  // Truncation keeps the last position as EOT; tiny contexts still end in
  // EOT.
  EXPECT_THAT(tokenizer_->Tokenize("a a a a", 4),
              ElementsAre(49406, 320, 320, 49407));
  EXPECT_THAT(tokenizer_->Tokenize("a a", 4),
              ElementsAre(49406, 320, 320, 49407));
  EXPECT_THAT(tokenizer_->Tokenize("a", 4), ElementsAre(49406, 320, 49407, 0));
  EXPECT_THAT(tokenizer_->Tokenize("a a", 1), ElementsAre(49407));
  EXPECT_TRUE(tokenizer_->Tokenize("a", 0).empty());
}

TEST_F(OpenAiVocabTest, DecodeReplacesInvalidUtf8AndRejectsUnknownIds) {
  // The first of the two byte tokens of U+884C alone is invalid UTF-8.
  auto partial = tokenizer_->Decode(std::vector<int32_t>{164});
  ASSERT_OK(partial);
  EXPECT_EQ(*partial, "\ufffd");
  EXPECT_THAT(tokenizer_->Decode(std::vector<int32_t>{320, 49408}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("49408")));
  EXPECT_THAT(tokenizer_->Decode(std::vector<int64_t>{-1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-1")));
}

TEST_F(OpenAiVocabTest, HuggingFaceFilesRoundTrip) {
  const std::string vocab = TempFile("hf_vocab.json");
  const std::string merges = TempFile("hf_merges.txt");
  ASSERT_OK(tokenizer_->SaveHuggingFace(vocab, merges));
  auto hf = BpeTokenizer::LoadHuggingFace(vocab, merges);
  ASSERT_OK(hf);
  EXPECT_EQ((*hf)->vocab_size(), 49408);
  EXPECT_EQ((*hf)->sot_id(), 49406);
  EXPECT_EQ((*hf)->eot_id(), 49407);
  EXPECT_EQ((*hf)->TokenizeBatch(texts_), expected_);

  // The files look like Hugging Face's CLIP files.
  auto merges_text = common::ReadFile(merges);
  ASSERT_OK(merges_text);
  EXPECT_EQ(merges_text->substr(0, 18), "#version: 0.2\ni n\n");
  auto vocab_text = common::ReadFile(vocab);
  ASSERT_OK(vocab_text);
  nlohmann::json json = nlohmann::json::parse(*vocab_text);
  EXPECT_EQ(json.size(), 49408u);
  EXPECT_EQ(json["a</w>"], 320);
  EXPECT_EQ(json["<|startoftext|>"], 49406);

  // Saved again in the OpenAI format, it loads back to the same tokenizer.
  const std::string gz = TempFile("from_hf.txt.gz");
  ASSERT_OK((*hf)->SaveOpenAi(gz));
  auto openai = BpeTokenizer::LoadOpenAi(gz);
  ASSERT_OK(openai);
  EXPECT_EQ((*openai)->merges(), tokenizer_->merges());
  EXPECT_EQ((*openai)->TokenizeBatch(texts_), expected_);
}

TEST_F(OpenAiVocabTest, HuggingFaceVocabWithOtherIds) {
  // Swap the ids of "a</w>" and "b</w>": encoding follows vocab.json, and the
  // layout can no longer be written in the OpenAI format.
  const std::string vocab = TempFile("swapped_vocab.json");
  const std::string merges = TempFile("swapped_merges.txt");
  ASSERT_OK(tokenizer_->SaveHuggingFace(vocab, merges));
  auto text = common::ReadFile(vocab);
  ASSERT_OK(text);
  nlohmann::json json = nlohmann::json::parse(*text);
  const int a = json["a</w>"], b = json["b</w>"];
  json["a</w>"] = b;
  json["b</w>"] = a;
  WriteText(vocab, json.dump());
  auto hf = BpeTokenizer::LoadHuggingFace(vocab, merges);
  ASSERT_OK(hf);
  EXPECT_THAT((*hf)->Encode("a b"), ElementsAre(b, a));
  EXPECT_THAT((*hf)->SaveOpenAi(TempFile("swapped.txt.gz")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("OpenAI layout")));
}

TEST_F(OpenAiVocabTest, SmallCacheAndThreadsGiveTheSameTokens) {
  BpeTokenizerOptions options;
  options.cache_capacity = 3;
  auto small = BpeTokenizer::LoadOpenAi(bpe_path_, options);
  ASSERT_OK(small);
  options.cache_capacity = 0;
  auto uncached = BpeTokenizer::LoadOpenAi(bpe_path_, options);
  ASSERT_OK(uncached);
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_EQ((*small)->TokenizeBatch(texts_), expected_);
    EXPECT_EQ((*uncached)->TokenizeBatch(texts_), expected_);
  }
  std::vector<std::vector<int64_t>> results(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      const BpeTokenizer& shared = t % 2 == 0 ? **small : *tokenizer_;
      for (int pass = 0; pass < 3; ++pass) {
        results[t] = shared.TokenizeBatch(texts_);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, expected_);
}

// A small caption corpus for training.
const std::vector<std::string>& Corpus() {
  static const auto* corpus = new std::vector<std::string>{
      "This is a white Audi.",
      "This is a black BMW sedan.",
      "This is a red Toyota SUV.",
      "This is a white Volkswagen hatchback.",
      "A female pedestrian with long hair, wearing a short sleeve shirt.",
      "A male pedestrian in a long coat, carrying a backpack.",
      "A pedestrian in a white shirt and black trousers is walking.",
      "The pedestrian's bag is red; she's holding it in front.",
      "A grey Honda CR-V, 2018 model, parked near the crossing.",
      "Caf\u00e9 on the corner: na\u00efve \u201cquotes\u201d & \u884c\u4eba "
      "\U0001F697 emoji.",
      "Two   spaces\tand\nnewlines, \u041f\u0440\u0438\u0432\u0435\u0442 "
      "\u043c\u0438\u0440!",
  };
  return *corpus;
}

TEST(BpeTrainTest, TrainSaveLoadRoundTripIsLossless) {
  BpeTrainOptions train;
  train.vocab_size = 640;
  auto trained = BpeTokenizer::Train(Corpus(), train);
  ASSERT_OK(trained);
  const BpeTokenizer& tokenizer = **trained;
  EXPECT_GT(tokenizer.num_merges(), 20);
  EXPECT_LE(tokenizer.vocab_size(), 640);
  EXPECT_EQ(tokenizer.vocab_size(), 512 + tokenizer.num_merges() + 2);
  EXPECT_EQ(tokenizer.sot_id(), tokenizer.vocab_size() - 2);
  EXPECT_EQ(tokenizer.eot_id(), tokenizer.vocab_size() - 1);

  // Training is deterministic.
  auto again = BpeTokenizer::Train(Corpus(), train);
  ASSERT_OK(again);
  EXPECT_EQ((*again)->merges(), tokenizer.merges());

  const std::string gz = TempFile("trained.txt.gz");
  const std::string vocab = TempFile("trained_vocab.json");
  const std::string merges = TempFile("trained_merges.txt");
  ASSERT_OK(tokenizer.SaveOpenAi(gz));
  ASSERT_OK(tokenizer.SaveHuggingFace(vocab, merges));
  auto from_openai = BpeTokenizer::LoadOpenAi(gz);
  ASSERT_OK(from_openai);
  auto from_hf = BpeTokenizer::LoadHuggingFace(vocab, merges);
  ASSERT_OK(from_hf);
  EXPECT_EQ((*from_openai)->merges(), tokenizer.merges());
  EXPECT_EQ((*from_hf)->vocab_size(), tokenizer.vocab_size());

  std::vector<std::string> texts = Corpus();
  texts.push_back("An unseen sentence: zebra crossing, qu\u00e9 pasa?");
  for (const std::string& text : texts) {
    std::vector<int32_t> ids = tokenizer.Encode(text);
    // Merges learned on the corpus make its text shorter than its bytes.
    EXPECT_LT(ids.size(), WithoutSpaces(CleanText(text)).size()) << text;
    for (const BpeTokenizer* loaded : {from_openai->get(), from_hf->get()}) {
      EXPECT_EQ(loaded->Encode(text), ids) << text;
      EXPECT_EQ(loaded->Tokenize(text), tokenizer.Tokenize(text)) << text;
    }
    auto decoded = tokenizer.Decode(ids);
    ASSERT_OK(decoded);
    EXPECT_EQ(*decoded, ExpectedDecode(text)) << text;
    EXPECT_EQ(WithoutSpaces(*decoded), WithoutSpaces(CleanText(text))) << text;
  }
  // Special tokens keep their meaning in a trained vocabulary.
  EXPECT_THAT(tokenizer.Tokenize("<|endoftext|>", 4),
              ElementsAre(tokenizer.sot_id(), tokenizer.eot_id(),
                          tokenizer.eot_id(), 0));
}

TEST(BpeTrainTest, MostFrequentPairFirstAndTiesByBytes) {
  BpeTrainOptions train;
  train.num_merges = 1;
  train.min_pair_count = 1;
  // (c, d</w>) occurs twice, (a, b</w>) once.
  auto frequent = BpeTokenizer::Train({"ab cd cd"}, train);
  ASSERT_OK(frequent);
  EXPECT_THAT(
      (*frequent)->merges(),
      ElementsAre(std::make_pair(std::string("c"), std::string("d</w>"))));
  // A tie goes to the smaller pair, whatever the corpus order.
  auto tie = BpeTokenizer::Train({"cd ab"}, train);
  ASSERT_OK(tie);
  EXPECT_THAT((*tie)->merges(), ElementsAre(std::make_pair(
                                    std::string("a"), std::string("b</w>"))));
  // Merges build on each other, and training stops when no pair occurs at
  // least min_pair_count times.
  train.num_merges = 100;
  train.min_pair_count = 2;
  auto stops = BpeTokenizer::Train({"abc abc xy"}, train);
  ASSERT_OK(stops);
  EXPECT_EQ((*stops)->num_merges(), 2);
  EXPECT_THAT((*stops)->Encode("abc"),
              ElementsAre((*stops)->token_id("abc</w>")));
  EXPECT_EQ((*stops)->token_id("abc</w>"), 513);
}

TEST(BpeTrainTest, RejectsBadOptions) {
  BpeTrainOptions neither;
  EXPECT_THAT(
      BpeTokenizer::Train(Corpus(), neither),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exactly one")));
  BpeTrainOptions both;
  both.num_merges = 5;
  both.vocab_size = 600;
  EXPECT_THAT(BpeTokenizer::Train(Corpus(), both),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one")));
  BpeTrainOptions tiny;
  tiny.vocab_size = 514;
  EXPECT_THAT(BpeTokenizer::Train(Corpus(), tiny),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("vocab_size 514")));
  BpeTrainOptions count;
  count.num_merges = 5;
  count.min_pair_count = 0;
  EXPECT_THAT(BpeTokenizer::Train(Corpus(), count),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("min_pair_count")));
}

TEST(BpeTokenizerTest, FromMergesUsesOpenAiLayout) {
  auto tokenizer = BpeTokenizer::FromMerges({{"a", "b</w>"}, {"c", "ab</w>"}});
  ASSERT_OK(tokenizer);
  EXPECT_EQ((*tokenizer)->vocab_size(), 516);
  EXPECT_EQ((*tokenizer)->token(512), "ab</w>");
  EXPECT_EQ((*tokenizer)->token(513), "cab</w>");
  EXPECT_THAT((*tokenizer)->Encode("cab ab b"), ElementsAre(513, 512, 321));
  EXPECT_THAT(BpeTokenizer::FromMerges({{"a", "zz"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"zz\" is not in the vocabulary")));
}

TEST(BpeTokenizerErrorsTest, OpenAiFileErrors) {
  EXPECT_THAT(
      BpeTokenizer::LoadOpenAi(TempFile("missing.txt.gz")),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.txt.gz")));

  const std::string plain = TempFile("plain.txt.gz");
  WriteText(plain, "#version: 0.2\ni n\n");
  EXPECT_THAT(BpeTokenizer::LoadOpenAi(plain),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("plain.txt.gz: not a gzip file")));

  const std::string good = TempFile("good.txt.gz");
  WriteGzip(good, "#version: 0.2\ni n\nt h\n");
  auto loaded = BpeTokenizer::LoadOpenAi(good);
  ASSERT_OK(loaded);
  EXPECT_EQ((*loaded)->num_merges(), 2);
  auto bytes = common::ReadFile(good);
  ASSERT_OK(bytes);

  const std::string truncated = TempFile("truncated.txt.gz");
  WriteText(truncated, bytes->substr(0, bytes->size() - 12));
  EXPECT_THAT(BpeTokenizer::LoadOpenAi(truncated),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("truncated.txt.gz: truncated")));

  const std::string corrupt = TempFile("corrupt.txt.gz");
  std::string damaged = *bytes;
  for (size_t i = 10; i < damaged.size() - 8; ++i) damaged[i] ^= 0x5A;
  WriteText(corrupt, damaged);
  EXPECT_THAT(
      BpeTokenizer::LoadOpenAi(corrupt),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt.txt.gz")));

  const std::string trailing = TempFile("trailing.txt.gz");
  WriteText(trailing, *bytes + "garbage");
  EXPECT_THAT(BpeTokenizer::LoadOpenAi(trailing),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("unexpected data after")));

  const std::string malformed = TempFile("malformed.txt.gz");
  WriteGzip(malformed, "#version: 0.2\ni n\nt h e\n");
  EXPECT_THAT(BpeTokenizer::LoadOpenAi(malformed),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("malformed.txt.gz:3: expected a merge")));

  const std::string blank = TempFile("blank.txt.gz");
  WriteGzip(blank, "#version: 0.2\ni n\n\nt h\n");
  EXPECT_THAT(BpeTokenizer::LoadOpenAi(blank),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("blank.txt.gz:3:")));

  const std::string unknown = TempFile("unknown.txt.gz");
  WriteGzip(unknown, "#version: 0.2\ni n\nxyz q\n");
  EXPECT_THAT(BpeTokenizer::LoadOpenAi(unknown),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown.txt.gz:3: merge symbol \"xyz\"")));

  const std::string not_utf8 = TempFile("not_utf8.txt.gz");
  WriteGzip(not_utf8, "#version: 0.2\ni n\nt \xff\n");
  EXPECT_THAT(BpeTokenizer::LoadOpenAi(not_utf8),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("not_utf8.txt.gz:3: not valid UTF-8")));

  // max_merges stops reading before a bad line.
  BpeTokenizerOptions options;
  options.max_merges = 1;
  auto limited = BpeTokenizer::LoadOpenAi(malformed, options);
  ASSERT_OK(limited);
  EXPECT_EQ((*limited)->num_merges(), 1);
  EXPECT_EQ((*limited)->vocab_size(), 515);
}

TEST(BpeTokenizerErrorsTest, HuggingFaceFileErrors) {
  auto base = BpeTokenizer::FromMerges({{"i", "n"}});
  ASSERT_OK(base);
  const std::string vocab = TempFile("err_vocab.json");
  const std::string merges = TempFile("err_merges.txt");
  ASSERT_OK((*base)->SaveHuggingFace(vocab, merges));
  ASSERT_OK(BpeTokenizer::LoadHuggingFace(vocab, merges));
  auto vocab_text = common::ReadFile(vocab);
  ASSERT_OK(vocab_text);
  const nlohmann::json good = nlohmann::json::parse(*vocab_text);

  EXPECT_THAT(BpeTokenizer::LoadHuggingFace(TempFile("none.json"), merges),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("none.json")));
  EXPECT_THAT(BpeTokenizer::LoadHuggingFace(vocab, TempFile("none.txt")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("none.txt")));

  const std::string bad = TempFile("bad_vocab.json");
  auto expect_invalid = [&](const std::string& contents,
                            const std::string& message) {
    WriteText(bad, contents);
    EXPECT_THAT(BpeTokenizer::LoadHuggingFace(bad, merges),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr("bad_vocab.json"),
                                          HasSubstr(message))))
        << message;
  };
  expect_invalid("{\"a\": 1,", "not valid JSON");
  expect_invalid("[1, 2]", "expected a JSON object");
  nlohmann::json edited = good;
  edited["a"] = "one";
  expect_invalid(edited.dump(), "\"a\" has id \"one\"");
  edited = good;
  edited["a"] = -3;
  expect_invalid(edited.dump(), "\"a\" has id -3");
  edited = good;
  edited["a"] = 1.5;
  expect_invalid(edited.dump(), "\"a\" has id 1.5");
  edited = good;
  edited["zzz"] = 7;
  expect_invalid(edited.dump(), "id 7 is used by both");
  edited = good;
  edited.erase("<|endoftext|>");
  expect_invalid(edited.dump(), "lacks the special token <|endoftext|>");
  edited = good;
  edited.erase("a</w>");
  expect_invalid(edited.dump(), "lacks the byte token \"a</w>\"");
  edited = good;
  edited["\u4e00"] = 600;
  expect_invalid(edited.dump(), "outside the byte-level alphabet");

  const std::string bad_merges = TempFile("bad_merges.txt");
  WriteText(bad_merges, "#version: 0.2\ni n\nonly_one_symbol\n");
  EXPECT_THAT(BpeTokenizer::LoadHuggingFace(vocab, bad_merges),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad_merges.txt:3: expected a merge")));
  // A merge whose result is not in vocab.json.
  WriteText(bad_merges, "#version: 0.2\ni n\nt h\n");
  EXPECT_THAT(BpeTokenizer::LoadHuggingFace(vocab, bad_merges),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad_merges.txt:3: merge result \"th\"")));
  // Without the "#version" line the first line is a merge.
  WriteText(bad_merges, "i n\n");
  auto no_header = BpeTokenizer::LoadHuggingFace(vocab, bad_merges);
  ASSERT_OK(no_header);
  EXPECT_EQ((*no_header)->num_merges(), 1);
}

}  // namespace
}  // namespace clip
