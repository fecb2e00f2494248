#include "client/cli_util.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, cli_util_test_number, 1, "A flag for the test.");

namespace client {
namespace {

// argv for ParseFlagsOrExit; the strings must outlive the call.
class Argv {
 public:
  explicit Argv(std::vector<std::string> args) : args_(std::move(args)) {
    for (std::string& arg : args_) pointers_.push_back(arg.data());
    pointers_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(args_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> pointers_;
};

TEST(ParseFlagsOrExitDeathTest, UnknownFlagExitsWithTwo) {
  Argv args({"prog", "--no_such_flag_anywhere=1"});
  EXPECT_EXIT(ParseFlagsOrExit(args.argc(), args.argv(), "usage"),
              ::testing::ExitedWithCode(kExitBadFlags), "no_such_flag_anywhere");
}

TEST(ParseFlagsOrExitDeathTest, MalformedValueExitsWithTwo) {
  Argv args({"prog", "--cli_util_test_number=abc"});
  EXPECT_EXIT(ParseFlagsOrExit(args.argc(), args.argv(), "usage"),
              ::testing::ExitedWithCode(kExitBadFlags), "abc");
}

TEST(ParseFlagsOrExitDeathTest, HelpExitsWithZero) {
  Argv args({"prog", "--help"});
  EXPECT_EXIT(ParseFlagsOrExit(args.argc(), args.argv(), "usage"),
              ::testing::ExitedWithCode(kExitOk), "");
}

TEST(ParseFlagsOrExitTest, ReturnsPositionalArgumentsAndSetsFlags) {
  Argv args({"prog", "--cli_util_test_number=5", "extra"});
  const std::vector<char*> positional =
      ParseFlagsOrExit(args.argc(), args.argv(), "usage");
  ASSERT_EQ(positional.size(), 2u);
  EXPECT_STREQ(positional[1], "extra");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_util_test_number), 5);
}

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
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
  EXPECT_EQ(EscapeForTerminal("\x9b" "2J"), "\\x9b2J");
  EXPECT_EQ(EscapeForTerminal("\xe8\xa1"), "\\xe8\\xa1");
  EXPECT_EQ(EscapeForTerminal("\xc0\xaf"), "\\xc0\\xaf");  // overlong '/'
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(EscapeForTerminal("\xf0\x9f\x9a\x97"), "\xf0\x9f\x9a\x97");
}

}  // namespace
}  // namespace client
