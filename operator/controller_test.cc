#include "operator/controller.h"

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace cohort::op {
namespace {

using absl::Milliseconds;
using absl::Seconds;
using Result = ControllerMetrics::Result;

// Waits in real time (polling) for `cond`, giving up after a generous deadline so that a broken
// controller fails the test instead of hanging it.
bool WaitUntil(const std::function<bool()>& cond) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(Milliseconds(1));
  }
  return true;
}

struct MetricsState {
  absl::Mutex mu;
  std::map<Result, int> totals;
  int errors = 0;
  int panics = 0;
  int active = 0;
  int max_active = 0;
  int max_concurrent = 0;
  int reconcile_times = 0;

  int Total(Result r) {
    absl::MutexLock l(&mu);
    return totals[r];
  }
};

class FakeControllerMetrics : public ControllerMetrics {
 public:
  explicit FakeControllerMetrics(MetricsState& s) : s_(s) {}
  void IncReconcileTotal(Result result) override {
    absl::MutexLock l(&s_.mu);
    ++s_.totals[result];
  }
  void IncReconcileErrors() override {
    absl::MutexLock l(&s_.mu);
    ++s_.errors;
  }
  void ObserveReconcileTime(absl::Duration) override {
    absl::MutexLock l(&s_.mu);
    ++s_.reconcile_times;
  }
  void IncReconcilePanics() override {
    absl::MutexLock l(&s_.mu);
    ++s_.panics;
  }
  void AddActiveWorkers(int delta) override {
    absl::MutexLock l(&s_.mu);
    s_.active += delta;
    s_.max_active = std::max(s_.max_active, s_.active);
  }
  void SetMaxConcurrentReconciles(int workers) override {
    absl::MutexLock l(&s_.mu);
    s_.max_concurrent = workers;
  }

 private:
  MetricsState& s_;
};

// A controller whose reconcile answers from a script of results, one per call.
class ScriptedController {
 public:
  using Step = std::function<ReconcileResult()>;

  ScriptedController(SimulatedClock& clock, std::vector<Step> script)
      : script_(std::move(script)),
        controller_(
            "scripted", [this](const std::string& key) { return Reconcile(key); }, clock,
            Controller::Options{
                .rate_limiter = std::make_unique<ItemExponentialFailureRateLimiter>(Milliseconds(5),
                                                                                    Seconds(1000)),
                .controller_metrics = std::make_unique<FakeControllerMetrics>(metrics)}) {}

  int calls() { return calls_.load(); }
  Controller& controller() { return controller_; }
  MetricsState metrics;

 private:
  ReconcileResult Reconcile(const std::string& key) {
    EXPECT_EQ(key, "ns/a");
    const int call = calls_.load();
    // Only the last step repeats; counting after the step keeps calls() == steps finished.
    const Step& step = script_[std::min<size_t>(call, script_.size() - 1)];
    struct Count {
      std::atomic<int>& calls;
      ~Count() { ++calls; }
    } count{calls_};
    return step();
  }

  std::vector<ScriptedController::Step> script_;
  std::atomic<int> calls_{0};
  Controller controller_;
};

TEST(ReconcileResultTest, Factories) {
  EXPECT_EQ(ReconcileResult::Done().kind(), ReconcileResult::Kind::kDone);
  EXPECT_EQ(ReconcileResult::Requeue().kind(), ReconcileResult::Kind::kRequeue);
  const ReconcileResult after = ReconcileResult::RequeueAfter(Seconds(3));
  EXPECT_EQ(after.kind(), ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(after.requeue_after(), Seconds(3));
  EXPECT_EQ(ReconcileResult::RequeueAfter(absl::ZeroDuration()).kind(),
            ReconcileResult::Kind::kRequeue);
  const ReconcileResult error = ReconcileResult::Error(absl::UnavailableError("down"));
  EXPECT_EQ(error.kind(), ReconcileResult::Kind::kError);
  EXPECT_EQ(error.status(), absl::UnavailableError("down"));
  EXPECT_EQ(ReconcileResult::Error(absl::OkStatus()).status().code(), absl::StatusCode::kInternal);
  EXPECT_STREQ(ControllerMetrics::ResultLabel(Result::kRequeueAfter), "requeue_after");
}

TEST(ControllerTest, StartValidates) {
  SimulatedClock clock;
  Controller c(
      "c", [](const std::string&) { return ReconcileResult::Done(); }, clock);
  EXPECT_EQ(c.Start(0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.Start(2).ok());
  EXPECT_EQ(c.Start(2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(c.Stop(clock.Now() + Seconds(10)));
  EXPECT_EQ(c.Start(1).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ControllerTest, DoneForgetsTheKey) {
  SimulatedClock clock;
  ScriptedController s(clock, {[] { return ReconcileResult::Done(); }});
  Controller& c = s.controller();
  ASSERT_TRUE(c.Start(2).ok());
  c.queue().AddRateLimited("ns/a");  // A failure remembered from before.
  clock.Advance(Milliseconds(5));
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kSuccess) == 1; }));
  EXPECT_EQ(c.queue().NumRequeues("ns/a"), 0);
  EXPECT_EQ(s.calls(), 1);
  EXPECT_TRUE(c.Stop(clock.Now() + Seconds(10)));
  absl::MutexLock l(&s.metrics.mu);
  EXPECT_EQ(s.metrics.max_concurrent, 2);
  EXPECT_EQ(s.metrics.max_active, 1);
  EXPECT_EQ(s.metrics.active, 0);
  EXPECT_EQ(s.metrics.reconcile_times, 1);
  EXPECT_EQ(s.metrics.errors, 0);
}

TEST(ControllerTest, RequeueAfterComesBackAfterTheDelay) {
  SimulatedClock clock;
  ScriptedController s(clock, {[] { return ReconcileResult::RequeueAfter(Seconds(30)); },
                               [] { return ReconcileResult::Done(); }});
  Controller& c = s.controller();
  ASSERT_TRUE(c.Start(1).ok());
  c.Enqueue("ns/a");
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kRequeueAfter) == 1; }));
  EXPECT_EQ(c.queue().NumRequeues("ns/a"), 0);
  clock.Advance(Milliseconds(29999));
  EXPECT_EQ(s.calls(), 1);
  clock.Advance(Milliseconds(1));
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kSuccess) == 1; }));
  EXPECT_EQ(s.calls(), 2);
  EXPECT_TRUE(c.Stop(clock.Now() + Seconds(10)));
}

TEST(ControllerTest, ErrorsRetryWithGrowingBackoff) {
  SimulatedClock clock;
  ScriptedController s(clock, {[] { return ReconcileResult::Error(absl::UnavailableError("x")); },
                               [] { return ReconcileResult::Error(absl::UnavailableError("x")); },
                               [] { return ReconcileResult::Error(absl::UnavailableError("x")); },
                               [] { return ReconcileResult::Done(); }});
  Controller& c = s.controller();
  ASSERT_TRUE(c.Start(1).ok());
  c.Enqueue("ns/a");
  for (int failures = 1; failures <= 3; ++failures) {
    ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kError) == failures; }));
    EXPECT_EQ(c.queue().NumRequeues("ns/a"), failures);
    const absl::Duration backoff = Milliseconds(5) * (1 << (failures - 1));  // 5, 10, 20 ms.
    clock.Advance(backoff - absl::Nanoseconds(1));
    EXPECT_EQ(s.calls(), failures);
    clock.Advance(absl::Nanoseconds(1));
  }
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kSuccess) == 1; }));
  EXPECT_EQ(c.queue().NumRequeues("ns/a"), 0);
  EXPECT_TRUE(c.Stop(clock.Now() + Seconds(10)));
  absl::MutexLock l(&s.metrics.mu);
  EXPECT_EQ(s.metrics.errors, 3);
  EXPECT_EQ(s.metrics.panics, 0);
}

TEST(ControllerTest, RequeueGoesThroughTheRateLimiter) {
  SimulatedClock clock;
  ScriptedController s(
      clock, {[] { return ReconcileResult::Requeue(); }, [] { return ReconcileResult::Done(); }});
  Controller& c = s.controller();
  ASSERT_TRUE(c.Start(1).ok());
  c.Enqueue("ns/a");
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kRequeue) == 1; }));
  EXPECT_EQ(c.queue().NumRequeues("ns/a"), 1);
  clock.Advance(Milliseconds(5));
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kSuccess) == 1; }));
  EXPECT_TRUE(c.Stop(clock.Now() + Seconds(10)));
  absl::MutexLock l(&s.metrics.mu);
  EXPECT_EQ(s.metrics.errors, 0);
}

TEST(ControllerTest, ExceptionsAreCaughtAndRetriedWithBackoff) {
  SimulatedClock clock;
  ScriptedController s(
      clock, {[]() -> ReconcileResult { throw std::runtime_error("secret"); },
              []() -> ReconcileResult { throw 42; }, [] { return ReconcileResult::Done(); }});
  Controller& c = s.controller();
  ASSERT_TRUE(c.Start(1).ok());
  c.Enqueue("ns/a");
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kError) == 1; }));
  EXPECT_EQ(c.queue().NumRequeues("ns/a"), 1);
  clock.Advance(Milliseconds(5));
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kError) == 2; }));
  EXPECT_EQ(c.queue().NumRequeues("ns/a"), 2);
  clock.Advance(Milliseconds(10));
  ASSERT_TRUE(WaitUntil([&] { return s.metrics.Total(Result::kSuccess) == 1; }));
  EXPECT_EQ(s.calls(), 3);
  EXPECT_TRUE(c.Stop(clock.Now() + Seconds(10)));
  absl::MutexLock l(&s.metrics.mu);
  EXPECT_EQ(s.metrics.panics, 2);
  EXPECT_EQ(s.metrics.errors, 2);
  EXPECT_EQ(s.metrics.active, 0);
}

TEST(ControllerTest, StopWaitsForInFlightReconciles) {
  SimulatedClock clock;
  absl::Notification started;
  absl::Notification release;
  std::atomic<int> calls{0};
  Controller c(
      "blocking",
      [&](const std::string&) {
        ++calls;
        started.Notify();
        release.WaitForNotification();
        return ReconcileResult::Done();
      },
      clock);
  ASSERT_TRUE(c.Start(2).ok());
  c.Enqueue("ns/a");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(30)));
  std::atomic<bool> stop_returned{false};
  auto stopped = std::async(std::launch::async, [&] {
    const bool all_done = c.Stop(clock.Now() + Seconds(30));
    stop_returned = true;
    return all_done;
  });
  ASSERT_TRUE(WaitUntil([&] { return c.queue().ShuttingDown(); }));
  // Stopped taking work: a new key is not reconciled.
  c.Enqueue("ns/b");
  EXPECT_FALSE(stop_returned.load());
  release.Notify();
  ASSERT_EQ(stopped.wait_until(std::chrono::system_clock::now() + std::chrono::seconds(30)),
            std::future_status::ready);
  EXPECT_TRUE(stopped.get());
  EXPECT_EQ(calls.load(), 1);
}

TEST(ControllerTest, StopGivesUpAtTheDeadline) {
  SimulatedClock clock;
  absl::Notification started;
  absl::Notification release;
  Controller c(
      "stuck",
      [&](const std::string&) {
        started.Notify();
        release.WaitForNotification();
        return ReconcileResult::Done();
      },
      clock);
  ASSERT_TRUE(c.Start(1).ok());
  c.Enqueue("ns/a");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(30)));
  auto stopped = std::async(std::launch::async, [&] { return c.Stop(clock.Now() + Seconds(30)); });
  ASSERT_TRUE(WaitUntil([&] { return clock.waiters() == 1; }));
  clock.Advance(Seconds(30));
  ASSERT_EQ(stopped.wait_until(std::chrono::system_clock::now() + std::chrono::seconds(30)),
            std::future_status::ready);
  EXPECT_FALSE(stopped.get());
  release.Notify();  // The destructor then waits for the worker.
}

// Many workers and producers on a few keys: a reconcile never runs twice at once for a key, and
// every key's last change is seen by a reconcile that started after it.
TEST(ControllerTest, StressOneWorkerPerKeyAndLastChangeSeen) {
  SimulatedClock clock;
  constexpr int kKeys = 4;
  std::vector<std::atomic<int>> in_flight(kKeys);
  std::vector<std::atomic<int>> written(kKeys);
  std::vector<std::atomic<int>> seen(kKeys);
  std::atomic<int> violations{0};
  Controller c(
      "stress",
      [&](const std::string& key) {
        const int k = std::stoi(key);
        if (in_flight[k].fetch_add(1) != 0) ++violations;
        seen[k] = written[k].load();
        std::this_thread::yield();
        in_flight[k].fetch_sub(1);
        return ReconcileResult::Done();
      },
      clock);
  ASSERT_TRUE(c.Start(8).ok());
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < 2000; ++i) {
        const int k = (i * 7 + p) % kKeys;
        written[k].fetch_add(1);
        c.Enqueue(std::to_string(k));
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
  EXPECT_TRUE(c.Stop(clock.Now() + Seconds(10)));
  EXPECT_EQ(violations.load(), 0);
}

}  // namespace
}  // namespace cohort::op
