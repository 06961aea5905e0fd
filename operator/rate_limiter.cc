#include "operator/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <utility>

#include "spdlog/spdlog.h"

namespace cohort::op {

TokenBucket::TokenBucket(double qps, int burst, Clock& clock)
    : qps_(qps), burst_(burst), clock_(clock), tokens_(burst), last_(clock.Now()) {
  if (!(qps > 0) || !std::isfinite(qps) || burst < 1) {
    spdlog::critical("TokenBucket needs a finite qps > 0 and burst >= 1, got qps={} burst={}", qps,
                     burst);
    std::abort();
  }
}

absl::Time TokenBucket::AdvanceLocked() {
  const absl::Time now = clock_.Now();
  if (now > last_) {
    const double refill = absl::ToDoubleSeconds(now - last_) * qps_;
    tokens_ = std::min(static_cast<double>(burst_), tokens_ + refill);
    last_ = now;
  }
  return now;
}

absl::Duration TokenBucket::TakeLocked() {
  tokens_ -= 1;
  if (tokens_ >= 0) return absl::ZeroDuration();
  // Rounded up so that after the wait the token really exists.
  return absl::Nanoseconds(static_cast<int64_t>(std::ceil(-tokens_ / qps_ * 1e9)));
}

absl::Duration TokenBucket::Reserve() {
  absl::MutexLock lock(&mu_);
  AdvanceLocked();
  return TakeLocked();
}

bool TokenBucket::TryAccept() {
  absl::MutexLock lock(&mu_);
  AdvanceLocked();
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void TokenBucket::Wait() {
  const absl::Duration wait = Reserve();
  if (wait > absl::ZeroDuration()) clock_.SleepFor(wait);
}

absl::Status TokenBucket::WaitWithDeadline(absl::Time deadline) {
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = AdvanceLocked();
    const double missing = 1 - tokens_;
    if (missing > 0 && now + absl::Seconds(missing / qps_) > deadline) {
      return absl::DeadlineExceededError("rate limiter: no token before the deadline");
    }
    wait = TakeLocked();
  }
  if (wait > absl::ZeroDuration()) clock_.SleepFor(wait);
  return absl::OkStatus();
}

ItemExponentialFailureRateLimiter::ItemExponentialFailureRateLimiter(absl::Duration base,
                                                                     absl::Duration max)
    : base_(base), max_(max) {}

absl::Duration ItemExponentialFailureRateLimiter::When(const std::string& item) {
  int exp;
  {
    absl::MutexLock lock(&mu_);
    int& failures = failures_[item];
    exp = failures;
    if (failures < std::numeric_limits<int>::max()) ++failures;
  }
  // 2^62 fits in int64_t; beyond it any positive base exceeds every useful cap.
  if (exp >= 62) return max_;
  // Duration arithmetic saturates at InfiniteDuration instead of overflowing.
  return std::min(base_ * (int64_t{1} << exp), max_);
}

void ItemExponentialFailureRateLimiter::Forget(const std::string& item) {
  absl::MutexLock lock(&mu_);
  failures_.erase(item);
}

int ItemExponentialFailureRateLimiter::NumRequeues(const std::string& item) {
  absl::MutexLock lock(&mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters)
    : limiters_(std::move(limiters)) {
  if (limiters_.empty()) {
    spdlog::critical("MaxOfRateLimiter needs at least one limiter");
    std::abort();
  }
}

absl::Duration MaxOfRateLimiter::When(const std::string& item) {
  absl::Duration longest = absl::ZeroDuration();
  for (const RateLimiterPtr& limiter : limiters_) longest = std::max(longest, limiter->When(item));
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& item) {
  for (const RateLimiterPtr& limiter : limiters_) limiter->Forget(item);
}

int MaxOfRateLimiter::NumRequeues(const std::string& item) {
  int most = 0;
  for (const RateLimiterPtr& limiter : limiters_) most = std::max(most, limiter->NumRequeues(item));
  return most;
}

RateLimiterPtr DefaultControllerRateLimiter(Clock& clock) {
  std::vector<RateLimiterPtr> limiters;
  limiters.push_back(std::make_unique<ItemExponentialFailureRateLimiter>(absl::Milliseconds(5),
                                                                         absl::Seconds(1000)));
  limiters.push_back(std::make_unique<TokenBucketRateLimiter>(10, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace cohort::op
