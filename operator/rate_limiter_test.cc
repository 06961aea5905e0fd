#include "operator/rate_limiter.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace cohort::op {
namespace {

using absl::Milliseconds;
using absl::Seconds;

// Delays from the token bucket are rounded up to whole nanoseconds of a floating-point count.
void ExpectAbout(absl::Duration actual, absl::Duration expected) {
  EXPECT_GE(actual, expected - absl::Nanoseconds(2)) << actual << " vs " << expected;
  EXPECT_LE(actual, expected + absl::Nanoseconds(2)) << actual << " vs " << expected;
}

TEST(ItemExponentialFailureRateLimiterTest, DoublesPerFailureUpToTheCap) {
  ItemExponentialFailureRateLimiter limiter(Milliseconds(5), Seconds(1000));
  absl::Duration expected = Milliseconds(5);
  for (int i = 0; i < 18; ++i) {
    EXPECT_EQ(limiter.When("a"), expected) << "failure " << i;
    expected *= 2;
  }
  // 5 ms * 2^18 = 1310.72 s, over the cap.
  EXPECT_EQ(limiter.When("a"), Seconds(1000));
  EXPECT_EQ(limiter.NumRequeues("a"), 19);
}

TEST(ItemExponentialFailureRateLimiterTest, NeverOverflows) {
  ItemExponentialFailureRateLimiter limiter(Seconds(1), absl::Hours(24 * 365 * 100));
  for (int i = 0; i < 200; ++i) {
    const absl::Duration d = limiter.When("a");
    EXPECT_GT(d, absl::ZeroDuration());
    EXPECT_LE(d, absl::Hours(24 * 365 * 100));
  }
  EXPECT_EQ(limiter.When("a"), absl::Hours(24 * 365 * 100));
}

TEST(ItemExponentialFailureRateLimiterTest, ItemsAreIndependentAndForgetResets) {
  ItemExponentialFailureRateLimiter limiter(Milliseconds(5), Seconds(1000));
  EXPECT_EQ(limiter.When("a"), Milliseconds(5));
  EXPECT_EQ(limiter.When("a"), Milliseconds(10));
  EXPECT_EQ(limiter.When("b"), Milliseconds(5));
  EXPECT_EQ(limiter.NumRequeues("a"), 2);
  EXPECT_EQ(limiter.NumRequeues("b"), 1);
  EXPECT_EQ(limiter.NumRequeues("never"), 0);

  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), Milliseconds(5));
  EXPECT_EQ(limiter.When("b"), Milliseconds(10));
}

TEST(TokenBucketTest, BurstThenPaced) {
  SimulatedClock clock;
  TokenBucket bucket(10, 3, clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration()) << i;
  // Each further reservation waits one more token interval (100 ms at 10 qps).
  ExpectAbout(bucket.Reserve(), Milliseconds(100));
  ExpectAbout(bucket.Reserve(), Milliseconds(200));
  ExpectAbout(bucket.Reserve(), Milliseconds(300));

  // After the reserved tokens have been paid back and one more interval, one token is free.
  clock.Advance(Milliseconds(400));
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  ExpectAbout(bucket.Reserve(), Milliseconds(100));
}

TEST(TokenBucketTest, RefillsUpToBurstOnly) {
  SimulatedClock clock;
  TokenBucket bucket(10, 2, clock);
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  ExpectAbout(bucket.Reserve(), Milliseconds(100));
}

TEST(TokenBucketTest, TryAcceptNeverReserves) {
  SimulatedClock clock;
  TokenBucket bucket(2, 1, clock);
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_FALSE(bucket.TryAccept());
  clock.Advance(Milliseconds(499));
  EXPECT_FALSE(bucket.TryAccept());
  clock.Advance(Milliseconds(1));
  EXPECT_TRUE(bucket.TryAccept());
  // The refused attempts took nothing: the next token is due one interval later, not more.
  clock.Advance(Milliseconds(500));
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
}

TEST(TokenBucketTest, WaitBlocksOnTheClock) {
  SimulatedClock clock;
  TokenBucket bucket(10, 1, clock);
  bucket.Wait();  // The burst token: returns at once.
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    bucket.Wait();
    done = true;
  });
  const absl::Time real_deadline = absl::Now() + absl::Seconds(30);
  while (clock.waiters() < 1 && absl::Now() < real_deadline) absl::SleepFor(Milliseconds(1));
  ASSERT_EQ(clock.waiters(), 1);
  clock.Advance(Milliseconds(99));
  EXPECT_FALSE(done.load());
  clock.Advance(Milliseconds(1));
  waiter.join();
  EXPECT_TRUE(done.load());
}

TEST(TokenBucketTest, WaitWithDeadlineGivesUpWithoutTakingAToken) {
  SimulatedClock clock;
  TokenBucket bucket(10, 1, clock);
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_EQ(bucket.WaitWithDeadline(clock.Now() + Milliseconds(50)).code(),
            absl::StatusCode::kDeadlineExceeded);
  clock.Advance(Milliseconds(100));
  // Nothing was reserved by the refused wait, so a token is there now.
  EXPECT_TRUE(bucket.WaitWithDeadline(clock.Now()).ok());
}

TEST(TokenBucketRateLimiterTest, SharedAcrossItemsAndNotForgotten) {
  SimulatedClock clock;
  TokenBucketRateLimiter limiter(10, 2, clock);
  EXPECT_EQ(limiter.When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter.When("b"), absl::ZeroDuration());
  limiter.Forget("a");
  ExpectAbout(limiter.When("c"), Milliseconds(100));
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
}

TEST(MaxOfRateLimiterTest, TakesTheLongestAndForwardsEverything) {
  SimulatedClock clock;
  std::vector<RateLimiterPtr> limiters;
  limiters.push_back(
      std::make_unique<ItemExponentialFailureRateLimiter>(Milliseconds(1), Seconds(1)));
  limiters.push_back(std::make_unique<TokenBucketRateLimiter>(10, 2, clock));
  MaxOfRateLimiter limiter(std::move(limiters));

  EXPECT_EQ(limiter.When("a"), Milliseconds(1));      // Exponential 1 ms, bucket 0.
  EXPECT_EQ(limiter.When("a"), Milliseconds(2));      // Exponential 2 ms, bucket 0.
  ExpectAbout(limiter.When("a"), Milliseconds(100));  // Exponential 4 ms, bucket 100 ms.
  EXPECT_EQ(limiter.NumRequeues("a"), 3);
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
}

TEST(DefaultControllerRateLimiterTest, ExponentialUntilTheBucketRunsDry) {
  SimulatedClock clock;
  RateLimiterPtr limiter = DefaultControllerRateLimiter(clock);
  EXPECT_EQ(limiter->When("a"), Milliseconds(5));
  EXPECT_EQ(limiter->When("a"), Milliseconds(10));
  EXPECT_EQ(limiter->When("a"), Milliseconds(20));
  // 100 distinct items use up the burst (3 tokens are gone already)...
  for (int i = 0; i < 97; ++i)
    EXPECT_EQ(limiter->When("item" + std::to_string(i)), Milliseconds(5));
  // ...then even a first failure waits for the bucket.
  ExpectAbout(limiter->When("fresh"), Milliseconds(100));
  for (int i = 0; i < 15; ++i) limiter->When("a");
  EXPECT_EQ(limiter->When("a"), Seconds(1000));
}

}  // namespace
}  // namespace cohort::op
