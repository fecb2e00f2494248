#include "client/cli_util.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace client {
namespace {

TEST(EscapeForTerminalTest, EscapesControlBytesAndKeepsPrintableText) {
  EXPECT_EQ(EscapeForTerminal("000123.jpg"), "000123.jpg");
  EXPECT_EQ(EscapeForTerminal("a b-c_d.png"), "a b-c_d.png");
  // A terminal escape sequence (clear screen, set title) and newlines.
  EXPECT_EQ(EscapeForTerminal("x\x1b[2J\x1b]0;owned\x07y.jpg"),
            "x\\x1b[2J\\x1b]0;owned\\x07y.jpg");
  EXPECT_EQ(EscapeForTerminal("a\nb\r\tc\x7f"), "a\\x0ab\\x0d\\x09c\\x7f");
  EXPECT_EQ(EscapeForTerminal(std::string("a\0b", 3)), "a\\x00b");
  // The backslash is escaped so that the output is unambiguous.
  EXPECT_EQ(EscapeForTerminal("a\\x1b"), "a\\x5cx1b");
  // Valid UTF-8 stays; C1 controls (U+009B is CSI) and invalid bytes do not.
  EXPECT_EQ(EscapeForTerminal("\xe8\xa1\x8c\xe4\xba\xba \xc3\xa9"),
            "\xe8\xa1\x8c\xe4\xba\xba \xc3\xa9");
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b"
                              "2J"),
            "\\xc2\\x9b2J");
  EXPECT_EQ(EscapeForTerminal("\x9b"
                              "2J"),
            "\\x9b2J");
  EXPECT_EQ(EscapeForTerminal("\xe8\xa1"), "\\xe8\\xa1");
  EXPECT_EQ(EscapeForTerminal("\xc0\xaf"), "\\xc0\\xaf");  // overlong '/'
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(EscapeForTerminal("\xf0\x9f\x9a\x97"), "\xf0\x9f\x9a\x97");
}

}  // namespace
}  // namespace client
