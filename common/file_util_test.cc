#include "common/file_util.h"

#include <cerrno>
#include <filesystem>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

TEST(FileUtilTest, AtomicWriteReplacesAndLeavesNoTemporaries) {
  const std::string dir = ::testing::TempDir() + "/file_util_atomic";
  std::filesystem::remove_all(dir);
  ASSERT_OK(MakeDirs(dir));
  const std::string path = dir + "/out.txt";
  ASSERT_OK(WriteFileAtomically(path, "first"));
  ASSERT_OK(WriteFileAtomically(path, std::string("sec\0ond", 7)));
  auto got = ReadFile(path);
  ASSERT_OK(got);
  EXPECT_EQ(*got, std::string("sec\0ond", 7));
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(FileUtilTest, ReadMissingFileIsNotFoundNamingThePath) {
  EXPECT_THAT(ReadFile("/nonexistent/dir/file.bin"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/nonexistent/dir/file.bin")));
}

TEST(FileUtilTest, WriteIntoMissingDirectoryFails) {
  EXPECT_THAT(WriteFileAtomically("/nonexistent/dir/file.bin", "x"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent")));
}

TEST(FileUtilTest, FullDiskAndQuotaAreResourceExhausted) {
  EXPECT_THAT(ErrnoToStatus(ENOSPC, "cannot write x"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("cannot write x: ")));
  EXPECT_THAT(ErrnoToStatus(EDQUOT, "cannot write x"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("x")));
  EXPECT_THAT(ErrnoToStatus(EIO, "cannot write x"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("x")));
}

TEST(FileUtilTest, TempPathsAreDistinctAndBesideTarget) {
  std::string a = TempPathFor("/x/y.bin"), b = TempPathFor("/x/y.bin");
  EXPECT_NE(a, b);
  EXPECT_THAT(a, ::testing::StartsWith("/x/y.bin.tmp."));
}

}  // namespace
}  // namespace common
