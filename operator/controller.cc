#include "operator/controller.h"

#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/uuid.h"
#include "spdlog/spdlog.h"

namespace cohort::op {

ReconcileResult ReconcileResult::RequeueAfter(absl::Duration delay) {
  if (delay <= absl::ZeroDuration()) return Requeue();
  ReconcileResult result(Kind::kRequeueAfter);
  result.requeue_after_ = delay;
  return result;
}

ReconcileResult ReconcileResult::Error(absl::Status status) {
  ReconcileResult result(Kind::kError);
  result.status_ = status.ok() ? absl::InternalError("reconcile returned Error with an OK status")
                               : std::move(status);
  return result;
}

const char* ControllerMetrics::ResultLabel(Result result) {
  switch (result) {
    case Result::kSuccess:
      return "success";
    case Result::kError:
      return "error";
    case Result::kRequeue:
      return "requeue";
    case Result::kRequeueAfter:
      return "requeue_after";
  }
  return "unknown";
}

Controller::Controller(std::string name, ReconcileFn reconcile, Clock& clock, Options options)
    : name_(std::move(name)),
      reconcile_(std::move(reconcile)),
      clock_(clock),
      metrics_(options.controller_metrics ? std::move(options.controller_metrics)
                                          : std::make_unique<ControllerMetrics>()),
      queue_(clock, std::move(options.rate_limiter), std::move(options.queue_metrics)) {}

Controller::~Controller() {
  queue_.ShutDown();
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
}

absl::Status Controller::Start(int num_workers) {
  if (num_workers < 1) return absl::InvalidArgumentError("a controller needs at least one worker");
  absl::MutexLock lock(&mu_);
  if (started_ || stopped_) {
    return absl::FailedPreconditionError("controller " + name_ + " was already started or stopped");
  }
  started_ = true;
  metrics_->SetMaxConcurrentReconciles(num_workers);
  workers_.reserve(num_workers);
  for (int i = 0; i < num_workers; ++i) {
    try {
      workers_.emplace_back([this] { Work(); });
    } catch (const std::system_error& e) {
      // The workers already started keep running; Stop() and the destructor handle them.
      return absl::ResourceExhaustedError(absl::StrCat(
          "controller ", name_, ": started ", i, " of ", num_workers, " workers: ", e.what()));
    }
  }
  return absl::OkStatus();
}

bool Controller::Stop(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  if (!queue_.ShutDownWithDrain(deadline)) return false;
  // Every worker is between keys now and its next Get() returns nullopt: joining is quick.
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
  return true;
}

void Controller::Work() {
  while (std::optional<std::string> key = queue_.Get()) {
    metrics_->AddActiveWorkers(1);
    ProcessKey(*key);
    metrics_->AddActiveWorkers(-1);
    queue_.Done(*key);
  }
}

void Controller::ProcessKey(const std::string& key) {
  using Result = ControllerMetrics::Result;
  // Every line logged during this reconcile, by whatever code logs it, names it.
  ScopedLogFields log_fields(
      {{"controller", name_}, {"object", key}, {"reconcileID", NewRandomUuid()}});
  const absl::Time start = clock_.Now();
  std::optional<ReconcileResult> result;
  try {
    result = reconcile_(key);
  } catch (const std::exception&) {
    // what() is not logged: it may quote the object's data (a parser's "last read: ...").
  } catch (...) {
  }
  metrics_->ObserveReconcileTime(clock_.Now() - start);
  const bool threw = !result.has_value();
  if (threw) {
    spdlog::error("reconcile threw an exception; retrying with backoff");
    metrics_->IncReconcilePanics();
    result = ReconcileResult::Error(absl::InternalError("reconcile threw an exception"));
  }

  // The queue is updated before the metrics, so whoever sees a result counted also sees its retry
  // scheduled.
  switch (result->kind()) {
    case ReconcileResult::Kind::kError:
      queue_.AddRateLimited(key);
      if (!threw) {
        spdlog::error("reconcile failed: {}", result->status().ToString());
      }
      metrics_->IncReconcileErrors();
      metrics_->IncReconcileTotal(Result::kError);
      break;
    case ReconcileResult::Kind::kRequeue:
      queue_.AddRateLimited(key);
      metrics_->IncReconcileTotal(Result::kRequeue);
      break;
    case ReconcileResult::Kind::kRequeueAfter:
      queue_.Forget(key);
      queue_.AddAfter(key, result->requeue_after());
      metrics_->IncReconcileTotal(Result::kRequeueAfter);
      break;
    case ReconcileResult::Kind::kDone:
      queue_.Forget(key);
      metrics_->IncReconcileTotal(Result::kSuccess);
      break;
  }
}

}  // namespace cohort::op
