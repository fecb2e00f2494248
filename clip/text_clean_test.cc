#include "clip/text_clean.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clip {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Pieces(const std::string& cleaned) {
  std::vector<std::string> out;
  for (absl::string_view piece : PreTokenize(cleaned)) {
    out.emplace_back(piece.data(), piece.size());
  }
  return out;
}

// Rows of the clip-parity fixture README that ftfy changes.
TEST(CleanTextTest, FixtureEdgeCases) {
  EXPECT_EQ(CleanText("caf\u00c3\u00a9 mojibake"), "caf\u00e9 mojibake");  // 12
  EXPECT_EQ(CleanText("\u201cCurly quotes\u201d and \u2018single\u2019 quotes"),
            "\"curly quotes\" and 'single' quotes");           // 13
  EXPECT_EQ(CleanText("\ufb01ne ligature"), "fine ligature");  // 14
  EXPECT_EQ(CleanText("cafe\u0301 combining accent"),
            "caf\u00e9 combining accent");  // 15
  EXPECT_EQ(CleanText("double &amp;amp; escaped &lt;b&gt; tags"),
            "double & escaped <b> tags");  // 16
  EXPECT_EQ(CleanText("non\u00a0breaking\u00a0space"),
            "non breaking space");  // 20
  EXPECT_EQ(CleanText("Mixed   whitespace\tand\nnewlines"),
            "mixed whitespace and newlines");  // 9
  EXPECT_EQ(CleanText("A female pedestrian ... &amp; more"),
            "a female pedestrian ... & more");  // 3
  EXPECT_EQ(CleanText("\u00dcn\u00efc\u00f6d\u00e9 caf\u00e9 na\u00efve"),
            "\u00fcn\u00efc\u00f6d\u00e9 caf\u00e9 na\u00efve");  // 5
  EXPECT_EQ(CleanText(""), "");
  EXPECT_EQ(CleanText("   "), "");
}

TEST(FixTextTest, RepairsMojibake) {
  EXPECT_EQ(FixText("caf\u00c3\u00a9"), "caf\u00e9");
  // Twice encoded: UTF-8 -> Windows-1252 -> UTF-8 -> Windows-1252.
  EXPECT_EQ(FixText("caf\u00c3\u0192\u00c2\u00a9"), "caf\u00e9");
  // Windows-1252 spelling of U+2714.
  EXPECT_EQ(FixText("\u00e2\u0153\u201d No problems"), "\u2714 No problems");
  // Latin-1 spelling with C1 controls, plus entities.
  EXPECT_EQ(FixText("&macr;\\_(\u00e3\u0083\u0084)_/&macr;"),
            "\u00af\\_(\u30c4)_/\u00af");
  // Mojibake embedded in text that has other scripts too.
  EXPECT_EQ(FixText("\u884c\u4eba caf\u00c3\u00a9"), "\u884c\u4eba caf\u00e9");
  // A curly apostrophe spelled in Windows-1252, then uncurled.
  EXPECT_EQ(FixText("it\u00e2\u20ac\u2122s"), "it's");
}

TEST(FixTextTest, LeavesGoodTextAlone) {
  for (const char* text :
       {"\u00dcn\u00efc\u00f6d\u00e9 caf\u00e9 na\u00efve",
        "not such a fan of Charlotte Bront\u00eb\u2026\"", "Stra\u00dfe\u00bb",
        "10\u20ac and 5\u00a3", "\u884c\u4eba", "emoji \U0001F697 test",
        "\u041f\u0440\u0438\u0432\u0435\u0442", "\u00bfQu\u00e9?",
        "plain ASCII, 1.5 < 2 & so on"}) {
    EXPECT_EQ(FixText(text), text) << text;
  }
}

TEST(FixTextTest, SmallFixers) {
  EXPECT_EQ(FixText("\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33"
                    "\uff25\uff33"),
            "LOUD NOISES");
  EXPECT_EQ(FixText("\uff35\uff80\uff70\uff9d"), "U\u30bf\u30fc\u30f3");
  EXPECT_EQ(FixText("\ufb02u\ufb03e\ufb06 \u0133"), "fluffiest ij");
  EXPECT_EQ(FixText("it\u0092s"), "it's");  // C1 control as Windows-1252
  EXPECT_EQ(FixText("\x1b[36;44mblue\x1b[0m"), "blue");
  EXPECT_EQ(FixText(std::string("a\0b\x07"
                                "c\ufeff"
                                "d\x7f",
                                10)),
            "abcd");
  EXPECT_EQ(FixText("a\r\nb\rc\u2028d"), "a\nb\nc\nd");
  EXPECT_EQ(FixText("tab\tand\x0c"
                    "form feed"),
            "tab\tand\x0c"
            "form feed");
  EXPECT_EQ(FixText("\u02bcquoted\u201b \u201e\u201f"), "'quoted' \"\"");
}

TEST(FixTextTest, HtmlEntitiesOnlyWithoutAngleBrackets) {
  // ftfy repeats until nothing changes, so every level is decoded.
  EXPECT_EQ(FixText("&amp;amp;amp;"), "&");
  EXPECT_EQ(FixText("P&EACUTE;REZ &NTILDE; BUNDESSTRA&SZLIG;E"),
            "P\u00c9REZ \u00d1 BUNDESSTRASSE");
  EXPECT_EQ(FixText("it&#x2019;s &#8220;x&#8221;"), "it's \"x\"");
  // Not decoded by ftfy: no semicolon, unknown name, partial numeric match.
  EXPECT_EQ(FixText("&amp &bogus; &#12a;"), "&amp &bogus; &#12a;");
  // A '<' turns entity decoding off for its line and every later line.
  EXPECT_EQ(FixText("<b>&amp;</b>"), "<b>&amp;</b>");
  EXPECT_EQ(FixText("&amp;\n<i>\n&amp;"), "&\n<i>\n&amp;");
  // html.unescape (run twice by CleanText) still decodes them.
  EXPECT_EQ(CleanText("<b>&amp;amp;</b>"), "<b>&</b>");
}

TEST(HtmlUnescapeTest, MatchesPythonHtmlUnescape) {
  EXPECT_EQ(HtmlUnescape("&lt;b&gt; &amp;amp; &quot;q&quot; &apos;"),
            "<b> &amp; \"q\" '");
  EXPECT_EQ(HtmlUnescape("&#65;&#x42;&#X43;&#68&#x45 &#x; &#;"),
            "ABCDE &#x; &#;");
  EXPECT_EQ(HtmlUnescape("&#0;|&#13;|&#x80;|&#x81;|&#xD800;|&#x110000;|"
                         "&#99999999999999999999;"),
            "\ufffd|\r|\u20ac|\u0081|\ufffd|\ufffd|\ufffd");
  // Dropped: controls and non-characters.
  EXPECT_EQ(HtmlUnescape("a&#1;b&#xFFFE;c&#x1FFFF;d&#xfdd0;e"), "abcde");
  // Legacy names decode without ';', also as a prefix of a longer name.
  EXPECT_EQ(HtmlUnescape("&amp &ampx &notit; &copy2024 &AMP; &Amp;"),
            "& &x \u00acit; \u00a92024 & &Amp;");
  EXPECT_EQ(HtmlUnescape("&eacute;&Eacute;&nbsp;&hellip;&euro;"),
            "\u00e9\u00c9\u00a0\u2026\u20ac");
  EXPECT_EQ(HtmlUnescape("no entities & here; &&"), "no entities & here; &&");
}

TEST(CollapseWhitespaceTest, UnicodeWhitespace) {
  EXPECT_EQ(CollapseWhitespace(" \t a\u00a0\u2003b\u3000\n c \u2029"), "a b c");
  // Zero-width space and BOM are not whitespace.
  EXPECT_EQ(CollapseWhitespace("a\u200bb\ufeffc"), "a\u200bb\ufeffc");
  EXPECT_EQ(CollapseWhitespace(" \u0085\u1680 "), "");
}

TEST(ToLowerUnicodeTest, MatchesPythonLower) {
  EXPECT_EQ(ToLowerUnicode("UPPER lower MiXeD 123"), "upper lower mixed 123");
  EXPECT_EQ(ToLowerUnicode("\u00dcN\u00cfC\u00d6D\u00c9"),
            "\u00fcn\u00efc\u00f6d\u00e9");
  // Final sigma, and the dotted capital I, which becomes i + U+0307.
  EXPECT_EQ(ToLowerUnicode("\u039f\u0394\u039f\u03a3 \u03a3"),
            "\u03bf\u03b4\u03bf\u03c2 \u03c3");
  EXPECT_EQ(ToLowerUnicode("\u0130"), "i\u0307");
  EXPECT_EQ(ToLowerUnicode("\u041f\u0420\u0418"), "\u043f\u0440\u0438");
}

TEST(Utf8Test, InvalidInputBecomesReplacementCharacters) {
  EXPECT_EQ(DecodeUtf8("a\xff"
                       "b"),
            U"a\ufffd"
            "b");
  // A truncated three-byte sequence is one maximal subpart.
  EXPECT_EQ(DecodeUtf8("\xe2\x82"
                       "A"),
            U"\ufffd"
            "A");
  // Surrogates and overlong forms are invalid byte by byte.
  EXPECT_EQ(DecodeUtf8("\xed\xa0\x80"), U"\ufffd\ufffd\ufffd");
  EXPECT_EQ(DecodeUtf8("\xc0\xaf"), U"\ufffd\ufffd");
  EXPECT_EQ(EncodeUtf8(DecodeUtf8("\U0001F697 \u00e9")), "\U0001F697 \u00e9");
  EXPECT_EQ(CleanText("caf\xe9"), "caf\ufffd");
}

TEST(PreTokenizeTest, FollowsClipRegex) {
  EXPECT_THAT(Pieces("it's the driver's car"),
              ElementsAre("it", "'s", "the", "driver", "'s", "car"));
  EXPECT_THAT(Pieces("don't you're we've i'm they'll he'd"),
              ElementsAre("don", "'t", "you", "'re", "we", "'ve", "i", "'m",
                          "they", "'ll", "he", "'d"));
  EXPECT_THAT(Pieces("\"curly quotes\" and 'single' quotes"),
              ElementsAre("\"", "curly", "quotes", "\"", "and", "'s", "ingle",
                          "'", "quotes"));
  // Punctuation runs are greedy: the quote does not start a contraction.
  EXPECT_THAT(Pieces("''s a...b"), ElementsAre("''", "s", "a", "...", "b"));
  EXPECT_THAT(Pieces("upper 123 4.5"),
              ElementsAre("upper", "1", "2", "3", "4", ".", "5"));
}

TEST(PreTokenizeTest, SpecialTokensAndScripts) {
  EXPECT_THAT(
      Pieces("hello <|endoftext|> world<|startoftext|>"),
      ElementsAre("hello", "<|endoftext|>", "world", "<|startoftext|>"));
  // Inside a punctuation run the special token is not recognised.
  EXPECT_THAT(Pieces("x!<|endoftext|>"),
              ElementsAre("x", "!<|", "endoftext", "|>"));
  EXPECT_THAT(Pieces("\u884c\u4eba \u00fcn\u00efc\u00f6d\u00e9"),
              ElementsAre("\u884c\u4eba", "\u00fcn\u00efc\u00f6d\u00e9"));
  EXPECT_THAT(Pieces("emoji \U0001F697! test"),
              ElementsAre("emoji", "\U0001F697!", "test"));
  // Case-insensitive matching: long s folds to s.
  EXPECT_THAT(Pieces("x'\u017f"), ElementsAre("x", "'\u017f"));
  // Arabic-Indic digits are numbers, one piece each; superscript two is No.
  EXPECT_THAT(Pieces("\u0661\u0662x\u00b2"),
              ElementsAre("\u0661", "\u0662", "x", "\u00b2"));
  EXPECT_THAT(Pieces(""), IsEmpty());
  EXPECT_THAT(Pieces(" \u00a0 "), IsEmpty());
}

}  // namespace
}  // namespace clip
