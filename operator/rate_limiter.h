// Rate limiters for the work queue and the Kubernetes client, after client-go's
// util/workqueue/default_rate_limiters.go and golang.org/x/time/rate.
//
// A RateLimiter answers "how long should this item wait before it is retried?" and remembers
// per-item failures until Forget. The work queue calls When() for every rate-limited re-add (after
// a reconcile error) and Forget() when a reconcile succeeds. TokenBucket is the shared, item-less
// limiter that also paces the Kubernetes client's requests.
//
// Every type here is thread-safe. Time comes from an injected Clock, which must outlive the
// limiter.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace cohort::op {

// A token bucket: `burst` tokens, refilled at `qps` per second, as golang.org/x/time/rate.Limiter.
// Tokens are reserved ahead of time: a Reserve() that finds the bucket empty takes a token that
// will exist in the future and returns how long the caller must wait for it, so concurrent callers
// are paced at `qps` rather than stampeding when a token appears.
class TokenBucket {
 public:
  // Requires qps > 0 and burst >= 1 (a violation is a bug and aborts). The bucket starts full.
  TokenBucket(double qps, int burst, Clock& clock);
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Takes one token and returns how long to wait before using it (zero if one was available).
  // Never fails; the delay grows with the number of outstanding reservations.
  absl::Duration Reserve();

  // Takes a token only if one is available now; never reserves a future token.
  bool TryAccept();

  // Blocks (on the clock) until a token is available and takes it.
  void Wait();

  // As Wait(), but gives up at once, without taking a token, if the token would not be available
  // by `deadline`: returns DeadlineExceeded then (as rate.Limiter.Wait with a context deadline).
  [[nodiscard]] absl::Status WaitWithDeadline(absl::Time deadline);

  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  // Refills the bucket up to Now(); returns Now().
  absl::Time AdvanceLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a token at `now` and returns the wait for it.
  absl::Duration TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double qps_;
  const int burst_;
  Clock& clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);  // Negative while tokens are reserved ahead.
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

// Decides how long an item waits before it is retried. Implementations are thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Records another retry of `item` and returns how long it should wait.
  virtual absl::Duration When(const std::string& item) = 0;
  // Clears what is remembered about `item` (it succeeded). Shared limits are not refunded.
  virtual void Forget(const std::string& item) = 0;
  // How many times When() was called for `item` since it was last forgotten (0 for limiters that
  // keep no per-item state).
  virtual int NumRequeues(const std::string& item) = 0;
};
using RateLimiterPtr = std::unique_ptr<RateLimiter>;

// Per item: base * 2^(failures so far), capped at `max`. The first When() returns `base`.
class ItemExponentialFailureRateLimiter final : public RateLimiter {
 public:
  explicit ItemExponentialFailureRateLimiter(absl::Duration base = absl::Milliseconds(5),
                                             absl::Duration max = absl::Seconds(1000));

  absl::Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  const absl::Duration base_;
  const absl::Duration max_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
};

// One bucket shared by all items: bounds the overall retry rate, whatever the items.
class TokenBucketRateLimiter final : public RateLimiter {
 public:
  TokenBucketRateLimiter(double qps, int burst, Clock& clock) : bucket_(qps, burst, clock) {}

  absl::Duration When(const std::string&) override { return bucket_.Reserve(); }
  void Forget(const std::string&) override {}
  int NumRequeues(const std::string&) override { return 0; }

 private:
  TokenBucket bucket_;
};

// The longest delay of its limiters. Every limiter sees every call, so each keeps its own count.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  // Requires at least one limiter.
  explicit MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters);

  absl::Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  const std::vector<RateLimiterPtr> limiters_;
};

// client-go's DefaultControllerRateLimiter: max(per-item exponential 5 ms -> 1000 s, a token bucket
// of 10 qps with a burst of 100). `clock` must outlive the result.
RateLimiterPtr DefaultControllerRateLimiter(Clock& clock);

}  // namespace cohort::op
