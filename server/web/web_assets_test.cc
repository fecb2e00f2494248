#include "server/web/web_assets.h"

#include <cstdlib>
#include <string>

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

std::string SourceFile(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" +
         (workspace ? workspace : "") + "/server/web/" + name;
}

TEST(WebAssetsTest, RootIsIndexHtmlByteForByte) {
  const server::web::WebAsset* root = server::web::FindWebAsset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->path, "/static/index.html");
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  absl::StatusOr<std::string> file = common::ReadFile(SourceFile("index.html"));
  ASSERT_OK(file);
  EXPECT_EQ(std::string(root->body), *file);
  EXPECT_THAT(std::string(root->body), HasSubstr("<html"));
  EXPECT_EQ(server::web::FindWebAsset("/static/index.html"), root);
}

TEST(WebAssetsTest, UnknownPathsAreNotServed) {
  EXPECT_EQ(server::web::FindWebAsset(""), nullptr);
  EXPECT_EQ(server::web::FindWebAsset("/index.html"), nullptr);
  EXPECT_EQ(server::web::FindWebAsset("/static/"), nullptr);
  EXPECT_EQ(server::web::FindWebAsset("/static/../BUILD"), nullptr);
  EXPECT_EQ(server::web::FindWebAsset("/static/embed_assets.py"), nullptr);
}

}  // namespace
