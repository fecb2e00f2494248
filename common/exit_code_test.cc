#include "common/exit_code.h"

#include <signal.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, exit_code_test_number, 1, "A flag for the test.");
ABSL_FLAG(std::string, exit_code_test_text, "", "A string flag for the test.");

namespace common {
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
              ::testing::ExitedWithCode(kExitUsage), "no_such_flag_anywhere");
}

TEST(ParseFlagsOrExitDeathTest, MalformedValueExitsWithTwo) {
  Argv args({"prog", "--exit_code_test_number=abc"});
  EXPECT_EXIT(ParseFlagsOrExit(args.argc(), args.argv(), "usage"),
              ::testing::ExitedWithCode(kExitUsage), "abc");
}

TEST(ParseFlagsOrExitDeathTest, HelpExitsWithZero) {
  Argv args({"prog", "--help"});
  EXPECT_EXIT(ParseFlagsOrExit(args.argc(), args.argv(), "usage"),
              ::testing::ExitedWithCode(kExitOk), "");
}

TEST(ParseFlagsOrExitTest, ReturnsPositionalArgumentsAndSetsFlags) {
  Argv args({"prog", "--exit_code_test_number=5", "extra"});
  const std::vector<char*> positional =
      ParseFlagsOrExit(args.argc(), args.argv(), "usage");
  ASSERT_EQ(positional.size(), 2u);
  EXPECT_STREQ(positional[1], "extra");
  EXPECT_EQ(absl::GetFlag(FLAGS_exit_code_test_number), 5);
}

TEST(ParseFlagsOrExitDeathTest, FlagWithoutValueExitsWithTwo) {
  Argv args({"prog", "--exit_code_test_text"});
  EXPECT_EXIT(ParseFlagsOrExit(args.argc(), args.argv(), "usage"),
              ::testing::ExitedWithCode(kExitUsage), "exit_code_test_text");
}

TEST(ExitCodeTest, SignalsMapAsAShellReportsThem) {
  EXPECT_EQ(ExitCodeForSignal(SIGINT), 130);
  EXPECT_EQ(ExitCodeForSignal(SIGTERM), 143);
}

}  // namespace
}  // namespace common
