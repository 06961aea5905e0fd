#include "analytics/engine/result_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace cohort::analytics {
namespace {

TEST(ResultCacheTest, AnEntryAnswersOnlyAtItsDataVersion) {
  ResultCache cache(1 << 20);
  EXPECT_EQ(cache.Lookup("q", 1), std::nullopt);
  cache.Insert("q", 1, "answer-1");
  EXPECT_EQ(cache.Lookup("q", 1), "answer-1");
  // New data: the old answer is gone, not served.
  EXPECT_EQ(cache.Lookup("q", 2), std::nullopt);
  EXPECT_EQ(cache.Lookup("q", 1), std::nullopt);
  cache.Insert("q", 2, "answer-2");
  EXPECT_EQ(cache.Lookup("q", 2), "answer-2");
  ResultCacheStats stats = cache.stats();
  EXPECT_EQ(stats.hits, 2);
  EXPECT_EQ(stats.misses, 3);
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.bytes, 1 + 8);
}

TEST(ResultCacheTest, EvictsTheLeastRecentlyUsedWithinTheByteBound) {
  ResultCache cache(30);  // three entries of 10 bytes (1-byte key + 9-byte value)
  cache.Insert("a", 1, "123456789");
  cache.Insert("b", 1, "123456789");
  cache.Insert("c", 1, "123456789");
  ASSERT_TRUE(cache.Lookup("a", 1).has_value());  // a is now the most recent
  cache.Insert("d", 1, "123456789");              // evicts b
  EXPECT_TRUE(cache.Lookup("a", 1).has_value());
  EXPECT_FALSE(cache.Lookup("b", 1).has_value());
  EXPECT_TRUE(cache.Lookup("c", 1).has_value());
  EXPECT_TRUE(cache.Lookup("d", 1).has_value());
  EXPECT_EQ(cache.stats().bytes, 30);
  // Replacing a key does not count it twice; a value larger than the cache is not kept.
  cache.Insert("d", 2, "12345");
  EXPECT_EQ(cache.stats().bytes, 26);
  cache.Insert("huge", 1, std::string(100, 'x'));
  EXPECT_FALSE(cache.Lookup("huge", 1).has_value());
  EXPECT_EQ(cache.stats().entries, 3);
}

TEST(ResultCacheTest, ZeroBytesDisablesIt) {
  ResultCache cache(0);
  cache.Insert("q", 1, "x");
  EXPECT_EQ(cache.Lookup("q", 1), std::nullopt);
}

TEST(ResultCacheTest, ConcurrentUseKeepsTheBound) {
  ResultCache cache(1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = std::to_string((i * 7 + t) % 50);
        if (!cache.Lookup(key, i % 3)) cache.Insert(key, i % 3, std::string(i % 40, 'v'));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ResultCacheStats stats = cache.stats();
  EXPECT_LE(stats.bytes, 1000);
  EXPECT_EQ(stats.hits + stats.misses, 8000);
}

}  // namespace
}  // namespace cohort::analytics
