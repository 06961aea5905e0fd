// The work queue between event handlers and reconcile workers: client-go's rate-limiting delaying
// queue (util/workqueue) for string keys ("namespace/name").
//
// Guarantees, as client-go:
//   - A key is queued at most once: adding a key that is already waiting to be handed out is a
//   no-op.
//   - A key is handed to one worker at a time: between Get() and Done() it is "processing", and an
//     Add() meanwhile only marks it dirty; Done() then queues it again, once, however many Adds
//     came.
//   - Ready keys are handed out first in, first out.
//   - AddAfter() holds a key back until the clock reaches its time; for a key already held back the
//     earlier time wins. AddRateLimited() is AddAfter() with the rate limiter's delay.
//
// Unlike client-go, Get() hands out no more keys once the queue is shut down (keys still queued are
// dropped): the operator shuts the queue down to stop taking work, and a restarted operator
// relists.
//
// Delayed keys are moved to the ready list by whoever next calls Get(), Len() or an Add; a blocked
// Get() waits on the clock until the earliest delayed key is due, so with SimulatedClock a test
// advances the time and the key is handed out without real sleeps. No background thread.
//
// Thread-safe. The Clock must outlive the queue; the queue owns its rate limiter and metrics.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "operator/rate_limiter.h"

namespace cohort::op {

// Where a queue reports what the Prometheus workqueue_* metrics need; one instance per queue (the
// registry labels it with the queue's name). Every method defaults to doing nothing. The queue
// calls them with its lock held: implementations must be thread-safe, quick, and must not call the
// queue.
class WorkQueueMetrics {
 public:
  virtual ~WorkQueueMetrics() = default;
  // workqueue_depth: keys waiting to be handed out (delayed keys not included).
  virtual void SetDepth(int64_t /*depth*/) {}
  // workqueue_adds_total: a key entered the queue (adds of an already queued key do not count).
  virtual void IncAdds() {}
  // workqueue_queue_duration_seconds: from the key's add to the Get() that handed it out.
  virtual void ObserveQueueDuration(absl::Duration /*d*/) {}
  // workqueue_work_duration_seconds: from Get() to Done().
  virtual void ObserveWorkDuration(absl::Duration /*d*/) {}
  // workqueue_unfinished_work_seconds: summed age of the keys being processed, and
  // workqueue_longest_running_processor_seconds: age of the oldest. Pushed by
  // WorkQueue::UpdateUnfinishedWorkMetrics().
  virtual void SetUnfinishedWorkSeconds(double /*seconds*/) {}
  virtual void SetLongestRunningProcessorSeconds(double /*seconds*/) {}
  // workqueue_retries_total: an AddAfter() (AddRateLimited included), as client-go counts.
  virtual void IncRetries() {}
};
using WorkQueueMetricsPtr = std::unique_ptr<WorkQueueMetrics>;

class WorkQueue {
 public:
  // A null `rate_limiter` means DefaultControllerRateLimiter(clock); null `metrics`, no metrics.
  explicit WorkQueue(Clock& clock, RateLimiterPtr rate_limiter = nullptr,
                     WorkQueueMetricsPtr metrics = nullptr);
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` now (see the guarantees above). Ignored after shutdown.
  void Add(const std::string& key);
  // Queues `key` once the clock reaches Now() + `delay`; a delay <= 0 is Add(). Ignored after
  // shutdown.
  void AddAfter(const std::string& key, absl::Duration delay);
  // AddAfter(key, rate limiter's When(key)): for retries after an error.
  void AddRateLimited(const std::string& key);
  // Resets the rate limiter's memory of `key` (it succeeded). Does not remove a queued key.
  void Forget(const std::string& key);
  // Retries of `key` since it was last forgotten.
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready and returns it, now owned by the caller until Done(key); returns
  // nullopt once the queue is shut down (at once, even if keys are still queued).
  std::optional<std::string> Get();
  // Ends the processing of `key` handed out by Get(); queues it again if it was added meanwhile.
  void Done(const std::string& key);

  // Stops the queue: later adds are ignored, and every Get(), blocked or not, returns nullopt.
  void ShutDown();
  // ShutDown(), then waits until every key handed out has been Done() or the clock reaches
  // `deadline`. Returns whether all were done.
  bool ShutDownWithDrain(absl::Time deadline = absl::InfiniteFuture());
  bool ShuttingDown();

  // Keys ready to be handed out (not those processing or delayed).
  int Len();

  // Pushes unfinished-work and longest-running-processor to the metrics; the metrics registry calls
  // it periodically (client-go: every 500 ms) or before a scrape.
  void UpdateUnfinishedWorkMetrics();

 private:
  struct Delayed {
    absl::Time ready_at;
    uint64_t seq;  // Orders keys due at the same time by arrival.
    bool operator<(const Delayed& o) const {
      return ready_at != o.ready_at ? ready_at < o.ready_at : seq < o.seq;
    }
  };

  void AddLocked(const std::string& key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the delayed keys that are due to the ready list.
  void PromoteDueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateDepthLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const RateLimiterPtr rate_limiter_;
  const WorkQueueMetricsPtr metrics_;

  absl::Mutex mu_;
  // Ready keys in order. Each is also in dirty_ and not in processing_.
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  // Keys to be handed out (queued, or parked until their processing ends) -> when they were added.
  absl::flat_hash_map<std::string, absl::Time> dirty_ ABSL_GUARDED_BY(mu_);
  // Keys handed out and not yet Done -> when they were handed out.
  absl::flat_hash_map<std::string, absl::Time> processing_ ABSL_GUARDED_BY(mu_);
  // Delayed keys, by due time and by key (for the earlier-time-wins update).
  std::map<Delayed, std::string> delayed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Delayed> delayed_index_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Changes whenever a delayed key is added, so blocked getters recompute their deadline.
  uint64_t delayed_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cohort::op
