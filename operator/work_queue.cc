#include "operator/work_queue.h"

#include <algorithm>

namespace cohort::op {

WorkQueue::WorkQueue(Clock& clock, RateLimiterPtr rate_limiter, WorkQueueMetricsPtr metrics)
    : clock_(clock),
      rate_limiter_(rate_limiter ? std::move(rate_limiter) : DefaultControllerRateLimiter(clock)),
      metrics_(metrics ? std::move(metrics) : std::make_unique<WorkQueueMetrics>()) {}

void WorkQueue::UpdateDepthLocked() { metrics_->SetDepth(static_cast<int64_t>(dirty_.size())); }

void WorkQueue::AddLocked(const std::string& key, absl::Time now) {
  if (shutting_down_ || dirty_.contains(key)) return;
  metrics_->IncAdds();
  dirty_.emplace(key, now);
  // A key being processed waits in dirty_ alone; Done() queues it.
  if (!processing_.contains(key)) queue_.push_back(key);
  UpdateDepthLocked();
}

void WorkQueue::PromoteDueLocked() {
  const absl::Time now = clock_.Now();
  while (!delayed_.empty() && delayed_.begin()->first.ready_at <= now) {
    auto node = delayed_.extract(delayed_.begin());
    delayed_index_.erase(node.mapped());
    // Queue time counts from when the key became due, however late it is promoted.
    AddLocked(node.mapped(), node.key().ready_at);
  }
}

void WorkQueue::Add(const std::string& key) {
  absl::MutexLock lock(&mu_);
  PromoteDueLocked();
  AddLocked(key, clock_.Now());
}

void WorkQueue::AddAfter(const std::string& key, absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  metrics_->IncRetries();
  PromoteDueLocked();
  const absl::Time now = clock_.Now();
  if (delay <= absl::ZeroDuration()) {
    AddLocked(key, now);
    return;
  }
  const absl::Time ready_at = now + delay;
  if (auto it = delayed_index_.find(key); it != delayed_index_.end()) {
    if (ready_at >= it->second.ready_at) return;  // The earlier time wins.
    delayed_.erase(it->second);
    delayed_index_.erase(it);
  }
  const Delayed entry{ready_at, next_seq_++};
  delayed_.emplace(entry, key);
  delayed_index_.emplace(key, entry);
  // Blocked getters wait until the earliest due time; tell them only if it moved.
  if (delayed_.begin()->first.seq == entry.seq) ++delayed_generation_;
}

void WorkQueue::AddRateLimited(const std::string& key) { AddAfter(key, rate_limiter_->When(key)); }

void WorkQueue::Forget(const std::string& key) { rate_limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return rate_limiter_->NumRequeues(key); }

std::optional<std::string> WorkQueue::Get() {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    PromoteDueLocked();
    if (!queue_.empty()) break;
    const absl::Time deadline =
        delayed_.empty() ? absl::InfiniteFuture() : delayed_.begin()->first.ready_at;
    const uint64_t generation = delayed_generation_;
    auto wake = [this, generation]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return shutting_down_ || !queue_.empty() || delayed_generation_ != generation;
    };
    clock_.AwaitWithDeadline(mu_, absl::Condition(&wake), deadline);
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  const absl::Time now = clock_.Now();
  auto added = dirty_.extract(key);
  metrics_->ObserveQueueDuration(now - added.mapped());
  processing_.emplace(key, now);
  UpdateDepthLocked();
  return key;
}

void WorkQueue::Done(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = processing_.find(key);
  if (it == processing_.end()) return;  // Not handed out: nothing to finish (as client-go).
  metrics_->ObserveWorkDuration(clock_.Now() - it->second);
  processing_.erase(it);
  if (dirty_.contains(key)) queue_.push_back(key);
}

void WorkQueue::ShutDown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
}

bool WorkQueue::ShutDownWithDrain(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  auto drained = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return processing_.empty(); };
  return clock_.AwaitWithDeadline(mu_, absl::Condition(&drained), deadline);
}

bool WorkQueue::ShuttingDown() {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

int WorkQueue::Len() {
  absl::MutexLock lock(&mu_);
  PromoteDueLocked();
  return static_cast<int>(queue_.size());
}

void WorkQueue::UpdateUnfinishedWorkMetrics() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  double total = 0;
  double longest = 0;
  for (const auto& [key, started] : processing_) {
    const double age = absl::ToDoubleSeconds(now - started);
    total += age;
    longest = std::max(longest, age);
  }
  metrics_->SetUnfinishedWorkSeconds(total);
  metrics_->SetLongestRunningProcessorSeconds(longest);
}

}  // namespace cohort::op
