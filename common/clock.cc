#include "common/clock.h"

namespace cohort {

void Clock::SleepFor(absl::Duration d) {
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  const absl::Time deadline = Now() + d;
  static const bool kNever = false;
  AwaitWithDeadline(mu, absl::Condition(&kNever), deadline);
}

RealClock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

bool SimulatedClock::AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                       absl::Time deadline) {
  waiters_.fetch_add(1);
  bool held = false;
  while (true) {
    if (cond.Eval()) {
      held = true;
      break;
    }
    if (Now() >= deadline) break;
    // Wakes on `cond` at once (another thread unlocking `mu`), on simulated time within 1 ms.
    mu.AwaitWithTimeout(cond, absl::Milliseconds(1));
  }
  waiters_.fetch_sub(1);
  return held;
}

void SimulatedClock::SetTime(absl::Time t) {
  const int64_t target = absl::ToUnixNanos(t);
  int64_t cur = now_ns_.load();
  while (cur < target && !now_ns_.compare_exchange_weak(cur, target)) {
  }
}

}  // namespace cohort
