#include "operator/work_queue.h"

#include <atomic>
#include <functional>
#include <future>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "gtest/gtest.h"

namespace cohort::op {
namespace {

using absl::Milliseconds;
using absl::Seconds;

// Waits in real time (polling) for `cond`, giving up after a generous deadline so that a broken
// queue fails the test instead of hanging it.
bool WaitUntil(const std::function<bool()>& cond) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(Milliseconds(1));
  }
  return true;
}

// Get() for single-threaded tests: a key that is not ready fails the test instead of blocking it.
std::optional<std::string> GetReady(WorkQueue& q) {
  if (q.Len() == 0) return std::nullopt;
  return q.Get();
}

// An exponential limiter alone, so delays are exact and the token bucket does not interfere.
RateLimiterPtr Exponential() {
  return std::make_unique<ItemExponentialFailureRateLimiter>(Milliseconds(5), Seconds(1000));
}

class FakeQueueMetrics : public WorkQueueMetrics {
 public:
  struct State {
    absl::Mutex mu;
    int64_t depth = 0;
    int adds = 0;
    int retries = 0;
    std::vector<absl::Duration> queue_durations;
    std::vector<absl::Duration> work_durations;
    double unfinished = -1;
    double longest = -1;
  };
  explicit FakeQueueMetrics(State& state) : s_(state) {}
  void SetDepth(int64_t depth) override {
    absl::MutexLock l(&s_.mu);
    s_.depth = depth;
  }
  void IncAdds() override {
    absl::MutexLock l(&s_.mu);
    ++s_.adds;
  }
  void ObserveQueueDuration(absl::Duration d) override {
    absl::MutexLock l(&s_.mu);
    s_.queue_durations.push_back(d);
  }
  void ObserveWorkDuration(absl::Duration d) override {
    absl::MutexLock l(&s_.mu);
    s_.work_durations.push_back(d);
  }
  void SetUnfinishedWorkSeconds(double s) override {
    absl::MutexLock l(&s_.mu);
    s_.unfinished = s;
  }
  void SetLongestRunningProcessorSeconds(double s) override {
    absl::MutexLock l(&s_.mu);
    s_.longest = s;
  }
  void IncRetries() override {
    absl::MutexLock l(&s_.mu);
    ++s_.retries;
  }

 private:
  State& s_;
};

TEST(WorkQueueTest, FifoAndDedupWhileQueued) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.Add("a");
  q.Add("b");
  q.Add("a");
  q.Add("c");
  q.Add("b");
  EXPECT_EQ(q.Len(), 3);
  EXPECT_EQ(GetReady(q), "a");
  EXPECT_EQ(GetReady(q), "b");
  EXPECT_EQ(GetReady(q), "c");
  EXPECT_EQ(q.Len(), 0);
}

TEST(WorkQueueTest, AddDuringProcessingGivesExactlyOneMorePass) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.Add("a");
  ASSERT_EQ(GetReady(q), "a");
  q.Add("a");
  q.Add("a");
  q.Add("a");
  // Not handed out while it is being processed.
  EXPECT_EQ(q.Len(), 0);
  q.Done("a");
  EXPECT_EQ(q.Len(), 1);
  ASSERT_EQ(GetReady(q), "a");
  EXPECT_EQ(q.Len(), 0);
  q.Done("a");
  EXPECT_EQ(q.Len(), 0);
}

TEST(WorkQueueTest, KeyBeingProcessedIsNotHandedToAnotherGetter) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.Add("a");
  ASSERT_EQ(GetReady(q), "a");
  q.Add("a");
  q.Add("b");
  // The second getter gets "b", not the dirty "a".
  EXPECT_EQ(GetReady(q), "b");
  q.Done("b");
  EXPECT_EQ(q.Len(), 0);
  q.Done("a");
  EXPECT_EQ(GetReady(q), "a");
}

// Many workers, a few hot keys, producers re-adding all the time: no key is ever processed twice
// at once, and the last version of every key is seen by a pass that started after it was written.
TEST(WorkQueueTest, StressNeverTwoWorkersOnOneKey) {
  SimulatedClock clock;
  WorkQueue q(clock);
  constexpr int kKeys = 5;
  constexpr int kWorkers = 8;
  constexpr int kProducers = 3;
  constexpr int kAddsPerProducer = 2000;

  std::vector<std::atomic<int>> in_flight(kKeys);
  std::vector<std::atomic<int>> written(kKeys);  // Versions, bumped before each Add.
  std::vector<std::atomic<int>> seen(kKeys);     // Version read at the start of the last pass.
  std::atomic<int> violations{0};
  std::atomic<int> passes{0};

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (std::optional<std::string> key = q.Get()) {
        const int k = std::stoi(*key);
        if (in_flight[k].fetch_add(1) != 0) ++violations;
        seen[k] = written[k].load();
        std::this_thread::yield();
        in_flight[k].fetch_sub(1);
        ++passes;
        q.Done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kAddsPerProducer; ++i) {
        const int k = (i + p) % kKeys;
        written[k].fetch_add(1);
        q.Add(std::to_string(k));
      }
    });
  }
  for (std::thread& t : producers) t.join();
  EXPECT_TRUE(WaitUntil([&] {
    for (int k = 0; k < kKeys; ++k) {
      if (seen[k].load() != written[k].load()) return false;
    }
    return true;
  }));
  q.ShutDown();
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(passes.load(), 0);
}

TEST(WorkQueueTest, AddAfterIsReadyOnlyOnceTheClockGetsThere) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.AddAfter("a", Seconds(10));
  EXPECT_EQ(q.Len(), 0);
  clock.Advance(Milliseconds(9999));
  EXPECT_EQ(q.Len(), 0);
  clock.Advance(Milliseconds(1));
  EXPECT_EQ(q.Len(), 1);
  EXPECT_EQ(GetReady(q), "a");
}

TEST(WorkQueueTest, BlockedGetWakesWhenTheDelayedKeyIsDue) {
  SimulatedClock clock;
  WorkQueue q(clock);
  std::atomic<bool> returned{false};
  auto got = std::async(std::launch::async, [&] {
    std::optional<std::string> key = q.Get();
    returned = true;
    return key;
  });
  // If the getter never wakes, a failed assertion below must not leave it blocking forever.
  absl::Cleanup unblock = [&q] { q.ShutDown(); };
  ASSERT_TRUE(WaitUntil([&] { return clock.waiters() == 1; }));
  // Added while the getter is parked with no deadline: it must pick up the new due time.
  q.AddAfter("a", Seconds(5));
  clock.Advance(Milliseconds(4999));
  EXPECT_FALSE(returned.load());
  clock.Advance(Milliseconds(1));
  ASSERT_EQ(got.wait_until(std::chrono::system_clock::now() + std::chrono::seconds(30)),
            std::future_status::ready);
  EXPECT_EQ(got.get(), "a");
}

TEST(WorkQueueTest, EarlierAddAfterWins) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.AddAfter("a", Seconds(10));
  q.AddAfter("a", Seconds(1));
  q.AddAfter("a", Seconds(5));  // Later than the pending 1 s: ignored.
  clock.Advance(Seconds(1));
  EXPECT_EQ(q.Len(), 1);
  ASSERT_EQ(GetReady(q), "a");
  q.Done("a");
  // Nothing else was left waiting for "a".
  clock.Advance(Seconds(20));
  EXPECT_EQ(q.Len(), 0);
}

TEST(WorkQueueTest, DelayedKeysComeOutInDueOrder) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.AddAfter("late", Seconds(3));
  q.AddAfter("early", Seconds(1));
  q.AddAfter("middle", Seconds(2));
  q.AddAfter("middle2", Seconds(2));
  q.AddAfter("now", absl::ZeroDuration());
  EXPECT_EQ(q.Len(), 1);
  clock.Advance(Seconds(3));
  EXPECT_EQ(GetReady(q), "now");
  EXPECT_EQ(GetReady(q), "early");
  EXPECT_EQ(GetReady(q), "middle");
  EXPECT_EQ(GetReady(q), "middle2");
  EXPECT_EQ(GetReady(q), "late");
}

TEST(WorkQueueTest, AddRateLimitedDelaysGrowAndForgetResets) {
  SimulatedClock clock;
  WorkQueue q(clock, Exponential());
  for (absl::Duration delay : {Milliseconds(5), Milliseconds(10), Milliseconds(20)}) {
    q.AddRateLimited("a");
    clock.Advance(delay - absl::Nanoseconds(1));
    EXPECT_EQ(q.Len(), 0) << delay;
    clock.Advance(absl::Nanoseconds(1));
    EXPECT_EQ(q.Len(), 1) << delay;
    ASSERT_EQ(GetReady(q), "a");
    q.Done("a");
  }
  EXPECT_EQ(q.NumRequeues("a"), 3);
  q.Forget("a");
  EXPECT_EQ(q.NumRequeues("a"), 0);
  q.AddRateLimited("a");
  clock.Advance(Milliseconds(5));
  EXPECT_EQ(q.Len(), 1);
}

TEST(WorkQueueTest, ShutDownWakesEveryGetter) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.AddAfter("later", Seconds(100));
  constexpr int kGetters = 4;
  std::vector<std::future<std::optional<std::string>>> getters;
  for (int i = 0; i < kGetters; ++i) {
    getters.push_back(std::async(std::launch::async, [&] { return q.Get(); }));
  }
  ASSERT_TRUE(WaitUntil([&] { return clock.waiters() == kGetters; }));
  q.ShutDown();
  for (auto& getter : getters) {
    ASSERT_EQ(getter.wait_until(std::chrono::system_clock::now() + std::chrono::seconds(30)),
              std::future_status::ready);
    EXPECT_EQ(getter.get(), std::nullopt);
  }
  EXPECT_TRUE(q.ShuttingDown());
}

TEST(WorkQueueTest, AfterShutDownNothingIsAddedOrHandedOut) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.Add("queued");
  q.ShutDown();
  q.Add("a");
  q.AddAfter("b", Seconds(1));
  q.AddRateLimited("c");
  clock.Advance(Seconds(10));
  EXPECT_EQ(q.Get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForInFlightKeys) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.Add("a");
  q.Add("b");
  ASSERT_EQ(GetReady(q), "a");
  std::atomic<bool> drained_returned{false};
  auto drained = std::async(std::launch::async, [&] {
    const bool all_done = q.ShutDownWithDrain();
    drained_returned = true;
    return all_done;
  });
  ASSERT_TRUE(WaitUntil([&] { return q.ShuttingDown(); }));
  // Shut down: "b" is not handed out, but "a" is still being processed.
  EXPECT_EQ(q.Get(), std::nullopt);
  EXPECT_FALSE(drained_returned.load());
  q.Done("a");
  ASSERT_EQ(drained.wait_until(std::chrono::system_clock::now() + std::chrono::seconds(30)),
            std::future_status::ready);
  EXPECT_TRUE(drained.get());
}

TEST(WorkQueueTest, ShutDownWithDrainGivesUpAtTheDeadline) {
  SimulatedClock clock;
  WorkQueue q(clock);
  q.Add("a");
  ASSERT_EQ(GetReady(q), "a");
  auto drained = std::async(std::launch::async,
                            [&] { return q.ShutDownWithDrain(clock.Now() + Seconds(30)); });
  ASSERT_TRUE(WaitUntil([&] { return clock.waiters() == 1; }));
  clock.Advance(Seconds(30));
  ASSERT_EQ(drained.wait_until(std::chrono::system_clock::now() + std::chrono::seconds(30)),
            std::future_status::ready);
  EXPECT_FALSE(drained.get());
  q.Done("a");  // Still allowed.
}

TEST(WorkQueueTest, ReportsMetrics) {
  SimulatedClock clock;
  FakeQueueMetrics::State m;
  WorkQueue q(clock, Exponential(), std::make_unique<FakeQueueMetrics>(m));
  q.Add("a");
  q.Add("a");
  q.Add("b");
  {
    absl::MutexLock l(&m.mu);
    EXPECT_EQ(m.adds, 2);
    EXPECT_EQ(m.depth, 2);
  }
  clock.Advance(Seconds(2));
  ASSERT_EQ(GetReady(q), "a");
  clock.Advance(Seconds(1));
  ASSERT_EQ(GetReady(q), "b");
  clock.Advance(Seconds(3));
  q.UpdateUnfinishedWorkMetrics();
  {
    absl::MutexLock l(&m.mu);
    EXPECT_EQ(m.depth, 0);
    EXPECT_EQ(m.queue_durations, (std::vector<absl::Duration>{Seconds(2), Seconds(3)}));
    EXPECT_DOUBLE_EQ(m.unfinished, 4 + 3);
    EXPECT_DOUBLE_EQ(m.longest, 4);
  }
  q.Add("a");  // Parked behind its processing: counts in the depth.
  q.Done("a");
  q.Done("b");
  q.AddRateLimited("c");
  q.UpdateUnfinishedWorkMetrics();
  absl::MutexLock l(&m.mu);
  EXPECT_EQ(m.adds, 3);
  EXPECT_EQ(m.depth, 1);
  EXPECT_EQ(m.work_durations, (std::vector<absl::Duration>{Seconds(4), Seconds(3)}));
  EXPECT_EQ(m.retries, 1);
  EXPECT_DOUBLE_EQ(m.unfinished, 0);
  EXPECT_DOUBLE_EQ(m.longest, 0);
}

}  // namespace
}  // namespace cohort::op
