// Time, injected. Code that reads the time or waits for a deadline takes a Clock&, so tests drive
// it with SimulatedClock instead of sleeping (STYLE.md point 4; like Envoy's TimeSource and
// client-go's clock.Clock).
#pragma once

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cohort {

// Thread-safe. Implementations must outlive every object that uses them.
class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() const = 0;

  // With `mu` held by the caller (as absl::Mutex::Await): releases it until `cond` holds or Now()
  // reaches `deadline`, then reacquires it. Returns whether `cond` held. absl::InfiniteFuture()
  // waits for `cond` alone.
  virtual bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                 absl::Time deadline) = 0;

  // Blocks the calling thread for `d` of this clock's time.
  void SleepFor(absl::Duration d);
};

// The system clock. Use RealClock::Get() rather than making one.
class RealClock final : public Clock {
 public:
  static RealClock& Get();
  absl::Time Now() const override { return absl::Now(); }
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    return mu.AwaitWithDeadline(cond, deadline);
  }
};

// A clock that moves only when told. Waiters poll the simulated time in real time (1 ms), which
// is cheap for tests and needs no registry of waiters' mutexes. waiters() lets a test see that a
// thread has parked before it advances the time.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_ns_(absl::ToUnixNanos(start)) {}

  absl::Time Now() const override { return absl::FromUnixNanos(now_ns_.load()); }
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override;

  void Advance(absl::Duration d) { now_ns_.fetch_add(absl::ToInt64Nanoseconds(d)); }
  // Time only moves forward: a `t` before Now() is ignored.
  void SetTime(absl::Time t);
  // Threads currently blocked in AwaitWithDeadline (SleepFor included).
  int waiters() const { return waiters_.load(); }

 private:
  std::atomic<int64_t> now_ns_;
  std::atomic<int> waiters_{0};
};

}  // namespace cohort
