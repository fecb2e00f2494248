#include "common/sha256.h"

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace common {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FileMatchesBytes) {
  std::string data(3 << 20, 'x');
  data[12345] = 'y';
  const std::string path = ::testing::TempDir() + "/sha.bin";
  ASSERT_OK(WriteFileAtomically(path, data));
  auto got = Sha256File(path);
  ASSERT_OK(got);
  EXPECT_EQ(*got, Sha256Hex(data));
  EXPECT_EQ(Sha256File("/no/such/file").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace common
