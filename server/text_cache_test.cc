#include "server/text_cache.h"

#include "gtest/gtest.h"

namespace server {
namespace {

TEST(TextCacheTest, EvictsLeastRecentlyUsed) {
  TextCache cache(2);
  float a[2] = {1, 2}, b[2] = {3, 4}, c[2] = {5, 6};
  cache.Put(1, "a", a, 2);
  cache.Put(1, "b", b, 2);
  std::vector<float> out;
  ASSERT_TRUE(cache.Get(1, "a", &out));  // a is now the most recent
  cache.Put(1, "c", c, 2);               // evicts b
  EXPECT_FALSE(cache.Get(1, "b", &out));
  ASSERT_TRUE(cache.Get(1, "a", &out));
  EXPECT_EQ(out, std::vector<float>({1, 2}));
  ASSERT_TRUE(cache.Get(1, "c", &out));
  EXPECT_EQ(out, std::vector<float>({5, 6}));
  EXPECT_EQ(cache.size(), 2u);
}

TEST(TextCacheTest, VersionsAreSeparateAndZeroCapacityDisables) {
  TextCache cache(4);
  float a[1] = {1};
  cache.Put(1, "t", a, 1);
  std::vector<float> out;
  EXPECT_FALSE(cache.Get(2, "t", &out));
  cache.Clear();
  EXPECT_FALSE(cache.Get(1, "t", &out));
  TextCache off(0);
  off.Put(1, "t", a, 1);
  EXPECT_FALSE(off.Get(1, "t", &out));
}

}  // namespace
}  // namespace server
