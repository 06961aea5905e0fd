#include "analytics/store/fingerprint_set.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace cohort::analytics::store {
namespace {

TEST(FingerprintSetTest, NeverMissesWhatWasInsertedThroughGrowth) {
  std::mt19937_64 rng(1);
  FingerprintSet set;
  std::vector<uint64_t> inserted;
  for (int i = 0; i < 200'000; ++i) {
    inserted.push_back(rng());
    set.Insert(inserted.back());
    if (i % 20'000 == 0) {
      for (uint64_t h : inserted) ASSERT_TRUE(set.MayContain(h)) << i;
    }
  }
  for (uint64_t h : inserted) EXPECT_TRUE(set.MayContain(h));
  // Distinct fingerprints: about n^2 / 2^33 ≈ 4.7 pairs of these share one.
  const size_t distinct = set.size();
  EXPECT_LE(distinct, 200'000u);
  EXPECT_GE(distinct, 200'000u - 20);
  EXPECT_LE(set.memory_bytes(), 200'000u * 11);
  set.Insert(inserted[0]);
  EXPECT_EQ(set.size(), distinct);
}

TEST(FingerprintSetTest, FalsePositivesAreAboutSizeOverTwoToThe32) {
  std::mt19937_64 rng(2);
  FingerprintSet set;
  set.Reserve(1'000'000);
  const uint64_t reserved = set.memory_bytes();
  for (int i = 0; i < 1'000'000; ++i) set.Insert(rng());
  EXPECT_EQ(set.memory_bytes(), reserved);  // Reserve made room for them all
  int false_positives = 0;
  for (int i = 0; i < 1'000'000; ++i) false_positives += set.MayContain(rng()) ? 1 : 0;
  // Expected 1e6 * 1e6 / 2^32 ≈ 233.
  EXPECT_LT(false_positives, 400);
}

TEST(FingerprintSetTest, ClearEmptiesAndFreesTheTable) {
  FingerprintSet set;
  EXPECT_FALSE(set.MayContain(42));
  set.Insert(42);
  EXPECT_TRUE(set.MayContain(42));
  set.Clear();
  EXPECT_FALSE(set.MayContain(42));
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ(set.memory_bytes(), 0u);
  set.Insert(0);  // any value, including one whose fingerprint would be 0
  EXPECT_TRUE(set.MayContain(0));
}

}  // namespace
}  // namespace cohort::analytics::store
