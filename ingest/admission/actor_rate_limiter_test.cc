// ActorRateLimiter: token buckets per device and per user, all-or-nothing per request, bounded
// memory, on a simulated clock.
#include "ingest/admission/actor_rate_limiter.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<ActorRateLimiter> NewLimiter(ActorRateLimiterOptions options, Clock& clock) {
  absl::StatusOr<std::unique_ptr<ActorRateLimiter>> limiter =
      ActorRateLimiter::Create(options, clock);
  EXPECT_TRUE(limiter.ok()) << limiter.status();
  return limiter.ok() ? *std::move(limiter) : nullptr;
}

ActorDemand Device(std::string_view id, int64_t events, std::string_view project = "web") {
  return {ActorKind::kDevice, project, id, events};
}
ActorDemand User(std::string_view id, int64_t events, std::string_view project = "web") {
  return {ActorKind::kUser, project, id, events};
}

TEST(ActorRateLimiterTest, RejectsBadOptions) {
  SimulatedClock clock;
  EXPECT_FALSE(ActorRateLimiter::Create({.events_per_second = 0}, clock).ok());
  EXPECT_FALSE(ActorRateLimiter::Create({.events_per_second = -1}, clock).ok());
  EXPECT_FALSE(
      ActorRateLimiter::Create({.events_per_second = 1, .window = absl::ZeroDuration()}, clock)
          .ok());
  EXPECT_FALSE(ActorRateLimiter::Create({.events_per_second = 1, .shards = 0}, clock).ok());
  EXPECT_FALSE(
      ActorRateLimiter::Create({.events_per_second = 1, .max_actors = 2, .shards = 4}, clock).ok());
}

TEST(ActorRateLimiterTest, AWindowsWorthAtOnceThenTheRate) {
  SimulatedClock clock;
  auto limiter = NewLimiter({.events_per_second = 30, .window = absl::Seconds(30)}, clock);
  ASSERT_NE(limiter, nullptr);
  EXPECT_THAT(limiter->Admit({Device("d1", 900)}), IsEmpty()) << "a full bucket holds 30 s";
  std::vector<ThrottledActor> refused = limiter->Admit({Device("d1", 1)});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].kind, ActorKind::kDevice);
  EXPECT_EQ(refused[0].id, "d1");
  EXPECT_EQ(refused[0].events_per_second, 31) << "(900 used + 1) / 30 s, rounded up";

  clock.Advance(absl::Seconds(1));  // 30 tokens back
  EXPECT_THAT(limiter->Admit({Device("d1", 30)}), IsEmpty());
  EXPECT_EQ(limiter->Admit({Device("d1", 1)}).size(), 1u);
  clock.Advance(absl::Milliseconds(100));  // 3 tokens
  EXPECT_THAT(limiter->Admit({Device("d1", 3)}), IsEmpty());
  EXPECT_EQ(limiter->stats().throttled_requests, 2u);
  EXPECT_EQ(limiter->stats().admitted_requests, 3u);
}

TEST(ActorRateLimiterTest, ARefusedRequestTakesNoTokensFromAnyActor) {
  SimulatedClock clock;
  auto limiter = NewLimiter({.events_per_second = 1, .window = absl::Seconds(10)}, clock);
  ASSERT_NE(limiter, nullptr);
  ASSERT_THAT(limiter->Admit({User("u1", 8)}), IsEmpty());
  // d1 has room for 10, u1 for 2: the request is refused for u1 and d1 keeps its 10.
  std::vector<ThrottledActor> refused = limiter->Admit({Device("d1", 5), User("u1", 5)});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0], (ThrottledActor{ActorKind::kUser, "u1", 2}));  // (8 + 5) / 10 s
  EXPECT_THAT(limiter->Admit({Device("d1", 10)}), IsEmpty()) << "d1 was not charged";
  EXPECT_THAT(limiter->Admit({User("u1", 2)}), IsEmpty()) << "u1 was not charged either";
}

TEST(ActorRateLimiterTest, DemandsOfOneActorAddUpAndKindsAndProjectsAreSeparate) {
  SimulatedClock clock;
  auto limiter = NewLimiter({.events_per_second = 1, .window = absl::Seconds(5)}, clock);
  ASSERT_NE(limiter, nullptr);
  // The same id as a device, as a user and in another project: three buckets of 5.
  EXPECT_THAT(limiter->Admit({Device("x", 5), User("x", 5), Device("x", 5, "other")}), IsEmpty());
  std::vector<ThrottledActor> refused = limiter->Admit({Device("y", 3), Device("y", 3)});
  EXPECT_THAT(refused, ElementsAre(ThrottledActor{ActorKind::kDevice, "y", 2}))
      << "3 + 3 events of one device exceed its 5, reported once";
  EXPECT_EQ(limiter->stats().actors, 3u) << "the refused request made no bucket";
}

TEST(ActorRateLimiterTest, MoreThanAFullBucketIsNeverAdmitted) {
  SimulatedClock clock;
  auto limiter = NewLimiter({.events_per_second = 2, .window = absl::Seconds(1)}, clock);
  ASSERT_NE(limiter, nullptr);
  EXPECT_EQ(limiter->Admit({Device("d", 3)}).size(), 1u);
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(limiter->Admit({Device("d", 3)}).size(), 1u);
  EXPECT_THAT(limiter->Admit({Device("d", 2)}), IsEmpty());
}

TEST(ActorRateLimiterTest, UsersMayHaveTheirOwnRate) {
  SimulatedClock clock;
  auto limiter = NewLimiter(
      {.events_per_second = 2, .user_events_per_second = 5, .window = absl::Seconds(1)}, clock);
  ASSERT_NE(limiter, nullptr);
  EXPECT_THAT(limiter->Admit({Device("d", 2), User("u", 5)}), IsEmpty());
  EXPECT_THAT(limiter->Admit({Device("d", 1), User("u", 1)}),
              ElementsAre(ThrottledActor{ActorKind::kDevice, "d", 3},
                          ThrottledActor{ActorKind::kUser, "u", 6}));
  clock.Advance(absl::Milliseconds(200));  // 0.4 device tokens, 1 user token
  EXPECT_THAT(limiter->Admit({User("u", 1)}), IsEmpty());
  EXPECT_EQ(limiter->Admit({Device("d", 1)}).size(), 1u);
  EXPECT_FALSE(ActorRateLimiter::Create({.user_events_per_second = 0}, clock).ok());
}

TEST(ActorRateLimiterTest, ZeroAndNegativeDemandsAreIgnored) {
  SimulatedClock clock;
  auto limiter = NewLimiter({.events_per_second = 1, .window = absl::Seconds(1)}, clock);
  ASSERT_NE(limiter, nullptr);
  EXPECT_THAT(limiter->Admit({Device("d", 0), Device("e", -5)}), IsEmpty());
  EXPECT_EQ(limiter->stats().actors, 0u);
}

TEST(ActorRateLimiterTest, MemoryIsBoundedIdleBucketsGoFirst) {
  SimulatedClock clock;
  auto limiter = NewLimiter(
      {.events_per_second = 1, .window = absl::Seconds(10), .max_actors = 8, .shards = 1}, clock);
  ASSERT_NE(limiter, nullptr);
  for (int i = 0; i < 8; ++i) {
    ASSERT_THAT(limiter->Admit({Device(absl::StrCat("d", i), 10)}), IsEmpty());
  }
  EXPECT_EQ(limiter->stats().actors, 8u);
  // Everyone is active (empty buckets): a ninth actor evicts the least recently used, d0.
  ASSERT_THAT(limiter->Admit({Device("new", 1)}), IsEmpty());
  EXPECT_EQ(limiter->stats().actors, 8u);
  EXPECT_EQ(limiter->stats().evicted_active, 1u);
  EXPECT_THAT(limiter->Admit({Device("d0", 10)}), IsEmpty()) << "d0 was forgotten: a fresh bucket";
  EXPECT_EQ(limiter->Admit({Device("d2", 1)}).size(), 1u) << "d2 is still remembered and empty";

  // After 10 s every bucket has refilled: new actors displace idle ones, not active ones.
  clock.Advance(absl::Seconds(10));
  const uint64_t active_before = limiter->stats().evicted_active;
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(limiter->Admit({Device(absl::StrCat("later", i), 1)}), IsEmpty());
  }
  EXPECT_LE(limiter->stats().actors, 8u);
  EXPECT_GT(limiter->stats().evicted_idle, 0u);
  EXPECT_GE(limiter->stats().evicted_active, active_before);
}

TEST(ActorRateLimiterTest, ConcurrentRequestsNeverAdmitMoreThanTheBucketHolds) {
  SimulatedClock clock;
  auto limiter = NewLimiter({.events_per_second = 10, .window = absl::Seconds(100)}, clock);
  ASSERT_NE(limiter, nullptr);
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        // Every request charges the shared device and a per-thread user.
        const std::string user = absl::StrCat("u", t);
        if (limiter->Admit({Device("shared", 1), User(user, 1)}).empty()) admitted.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 1000) << "exactly the shared device's 1,000 tokens";
  EXPECT_EQ(limiter->stats().admitted_requests + limiter->stats().throttled_requests, 4000u);
}

}  // namespace
}  // namespace cohort::ingest
