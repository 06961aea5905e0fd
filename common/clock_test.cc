#include "common/clock.h"

#include <thread>

#include "gtest/gtest.h"

namespace cohort {
namespace {

TEST(SimulatedClockTest, MovesOnlyWhenTold) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.SetTime(absl::FromUnixSeconds(50));  // backwards: ignored
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.SetTime(absl::FromUnixSeconds(200));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(200));
}

TEST(SimulatedClockTest, AwaitReturnsWhenConditionHolds) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool flag = false;
  std::thread setter([&] {
    while (clock.waiters() == 0) std::this_thread::yield();
    absl::MutexLock lock(&mu);
    flag = true;
  });
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(clock.AwaitWithDeadline(mu, absl::Condition(&flag), absl::InfiniteFuture()));
  }
  setter.join();
}

TEST(SimulatedClockTest, AwaitTimesOutOnlyWhenSimulatedTimePasses) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool flag = false;
  const absl::Time deadline = clock.Now() + absl::Hours(1);
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(clock.AwaitWithDeadline(mu, absl::Condition(&flag), deadline));
    returned = true;
  });
  while (clock.waiters() == 0) std::this_thread::yield();
  clock.Advance(absl::Minutes(59));
  absl::SleepFor(
      absl::Milliseconds(20));  // real time passes; simulated time is short of the deadline
  EXPECT_FALSE(returned.load());
  clock.Advance(absl::Minutes(1));
  waiter.join();
  EXPECT_TRUE(returned.load());
}

TEST(SimulatedClockTest, SleepForUsesSimulatedTime) {
  SimulatedClock clock;
  std::thread sleeper([&] { clock.SleepFor(absl::Hours(24)); });
  while (clock.waiters() == 0) std::this_thread::yield();
  clock.Advance(absl::Hours(24));
  sleeper.join();
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(RealClockTest, AwaitWithPastDeadlineReturnsConditionAtOnce) {
  absl::Mutex mu;
  bool flag = false;
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(RealClock::Get().AwaitWithDeadline(mu, absl::Condition(&flag), absl::Now()));
  flag = true;
  EXPECT_TRUE(RealClock::Get().AwaitWithDeadline(mu, absl::Condition(&flag), absl::Now()));
}

}  // namespace
}  // namespace cohort
