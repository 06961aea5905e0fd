// A controller: N worker threads that take keys from a WorkQueue and reconcile them, with
// controller-runtime's semantics for what a reconcile returns:
//   Done()            -> the key's backoff is forgotten;
//   RequeueAfter(d)   -> backoff forgotten, the key comes back after d;
//   Requeue()         -> the key comes back after the rate limiter's delay, without an error;
//   Error(status)     -> logged, the key comes back after the rate limiter's delay (per-key
//                        exponential backoff, see rate_limiter.h).
// An exception escaping the reconcile function is caught, logged with the controller's name and
// the key only (an exception's message may quote object data), counted as a panic, and handled as
// an error. Since the queue hands a key to one worker at a time, a reconcile never runs twice at
// once for the same key.
//
// Lifecycle: construct, Start() once, Stop() once (the destructor stops too). Not restartable.
// Thread-safe. The Clock must outlive the controller; the controller owns its queue and metrics.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "operator/rate_limiter.h"
#include "operator/work_queue.h"

namespace cohort::op {

// What a reconcile asks the controller to do next with its key.
class ReconcileResult {
 public:
  enum class Kind { kDone, kRequeue, kRequeueAfter, kError };

  static ReconcileResult Done() { return ReconcileResult(Kind::kDone); }
  // A delay <= 0 is Requeue(): immediate requeues go through the rate limiter so they cannot spin.
  static ReconcileResult RequeueAfter(absl::Duration delay);
  static ReconcileResult Requeue() { return ReconcileResult(Kind::kRequeue); }
  // An OK `status` is replaced by an Internal error saying so: an error result is always an error.
  static ReconcileResult Error(absl::Status status);

  Kind kind() const { return kind_; }
  absl::Duration requeue_after() const { return requeue_after_; }  // For kRequeueAfter.
  const absl::Status& status() const { return status_; }           // For kError.

 private:
  explicit ReconcileResult(Kind kind) : kind_(kind) {}

  Kind kind_;
  absl::Duration requeue_after_;
  absl::Status status_;
};

// Where a controller reports what the controller_runtime_* metrics need; one instance per
// controller (the registry labels it with the controller's name). Every method defaults to doing
// nothing. Called from worker threads: implementations must be thread-safe.
class ControllerMetrics {
 public:
  enum class Result { kSuccess, kError, kRequeue, kRequeueAfter };
  // The `result` label value of controller_runtime_reconcile_total.
  static const char* ResultLabel(Result result);

  virtual ~ControllerMetrics() = default;
  // controller_runtime_reconcile_total{result}.
  virtual void IncReconcileTotal(Result /*result*/) {}
  // controller_runtime_reconcile_errors_total (errors and panics).
  virtual void IncReconcileErrors() {}
  // controller_runtime_reconcile_time_seconds: one reconcile call, by the controller's clock.
  virtual void ObserveReconcileTime(absl::Duration /*d*/) {}
  // controller_runtime_reconcile_panics_total: exceptions that escaped a reconcile.
  virtual void IncReconcilePanics() {}
  // controller_runtime_active_workers: workers busy with a key (+1 when one starts, -1 after).
  virtual void AddActiveWorkers(int /*delta*/) {}
  // controller_runtime_max_concurrent_reconciles: the number of workers, set by Start().
  virtual void SetMaxConcurrentReconciles(int /*workers*/) {}
};
using ControllerMetricsPtr = std::unique_ptr<ControllerMetrics>;

class Controller {
 public:
  using ReconcileFn = std::function<ReconcileResult(const std::string& key)>;

  struct Options {
    // Null: DefaultControllerRateLimiter(clock).
    RateLimiterPtr rate_limiter;
    WorkQueueMetricsPtr queue_metrics;        // Null: none.
    ControllerMetricsPtr controller_metrics;  // Null: none.
  };

  // `name` labels logs and metrics. `reconcile` is called from the worker threads, concurrently
  // for different keys.
  Controller(std::string name, ReconcileFn reconcile, Clock& clock, Options options = {});
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;
  // Stops the workers and waits for them, however long their reconciles take.
  ~Controller();

  // Queues `key` for reconciliation (for event handlers). Ignored once stopped.
  void Enqueue(const std::string& key) { queue_.Add(key); }

  // Starts `num_workers` worker threads. InvalidArgument if `num_workers` < 1; FailedPrecondition
  // if called before (or after Stop()), and then nothing changes; ResourceExhausted if the system
  // would not create a thread (the workers already created keep working).
  [[nodiscard]] absl::Status Start(int num_workers);

  // Stops taking work (queued keys are dropped), then waits until the clock reaches `deadline` for
  // in-flight reconciles to finish. Returns whether they all did; if not, they keep running and the
  // destructor waits for them. Their retries are dropped.
  bool Stop(absl::Time deadline);

  const std::string& name() const { return name_; }
  WorkQueue& queue() { return queue_; }

 private:
  void Work();
  void ProcessKey(const std::string& key);

  const std::string name_;
  const ReconcileFn reconcile_;
  Clock& clock_;
  const ControllerMetricsPtr metrics_;
  WorkQueue queue_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::op
