#include "operator/runtime_metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace cohort::op {

const std::vector<double>& WorkQueueDurationBuckets() {
  static const auto* const kBuckets =
      new std::vector<double>{1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
  return *kBuckets;
}

const std::vector<double>& ReconcileTimeBuckets() {
  static const auto* const kBuckets = new std::vector<double>{
      0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
      0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
      6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
  return *kBuckets;
}

const std::vector<double>& RestClientDurationBuckets() {
  static const auto* const kBuckets =
      new std::vector<double>{0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0};
  return *kBuckets;
}

// --- Adapters.

namespace {

class WorkQueueMetricsAdapter final : public WorkQueueMetrics {
 public:
  WorkQueueMetricsAdapter(Registry& registry, absl::string_view name)
      : depth_(registry.AddGaugeFamily("workqueue_depth", "Current depth of workqueue", {"name"})
                   .WithLabels({name})),
        adds_(registry
                  .AddCounterFamily("workqueue_adds_total",
                                    "Total number of adds handled by workqueue", {"name"})
                  .WithLabels({name})),
        queue_duration_(registry
                            .AddHistogramFamily("workqueue_queue_duration_seconds",
                                                "How long in seconds an item stays in workqueue "
                                                "before being requested.",
                                                {"name"}, WorkQueueDurationBuckets())
                            .WithLabels({name})),
        work_duration_(registry
                           .AddHistogramFamily("workqueue_work_duration_seconds",
                                               "How long in seconds processing an item from "
                                               "workqueue takes.",
                                               {"name"}, WorkQueueDurationBuckets())
                           .WithLabels({name})),
        unfinished_(registry
                        .AddGaugeFamily(
                            "workqueue_unfinished_work_seconds",
                            "How many seconds of work has been done that is in progress and "
                            "hasn't been observed by work_duration. Large values indicate stuck "
                            "threads. One can deduce the number of stuck threads by observing "
                            "the rate at which this increases.",
                            {"name"})
                        .WithLabels({name})),
        longest_(registry
                     .AddGaugeFamily("workqueue_longest_running_processor_seconds",
                                     "How many seconds has the longest running processor for "
                                     "workqueue been running.",
                                     {"name"})
                     .WithLabels({name})),
        retries_(registry
                     .AddCounterFamily("workqueue_retries_total",
                                       "Total number of retries handled by workqueue", {"name"})
                     .WithLabels({name})) {}

  void SetDepth(int64_t depth) override { depth_.Set(static_cast<double>(depth)); }
  void IncAdds() override { adds_.Inc(); }
  void ObserveQueueDuration(absl::Duration d) override { queue_duration_.Observe(d); }
  void ObserveWorkDuration(absl::Duration d) override { work_duration_.Observe(d); }
  void SetUnfinishedWorkSeconds(double seconds) override { unfinished_.Set(seconds); }
  void SetLongestRunningProcessorSeconds(double seconds) override { longest_.Set(seconds); }
  void IncRetries() override { retries_.Inc(); }

 private:
  Gauge& depth_;
  Counter& adds_;
  Histogram& queue_duration_;
  Histogram& work_duration_;
  Gauge& unfinished_;
  Gauge& longest_;
  Counter& retries_;
};

class ControllerMetricsAdapter final : public ControllerMetrics {
 public:
  ControllerMetricsAdapter(Registry& registry, absl::string_view controller)
      : errors_(registry
                    .AddCounterFamily("controller_runtime_reconcile_errors_total",
                                      "Total number of reconciliation errors per controller",
                                      {"controller"})
                    .WithLabels({controller})),
        time_(registry
                  .AddHistogramFamily("controller_runtime_reconcile_time_seconds",
                                      "Length of time per reconciliation per controller",
                                      {"controller"}, ReconcileTimeBuckets())
                  .WithLabels({controller})),
        panics_(registry
                    .AddCounterFamily("controller_runtime_reconcile_panics_total",
                                      "Total number of reconciliation panics per controller",
                                      {"controller"})
                    .WithLabels({controller})),
        active_(registry
                    .AddGaugeFamily("controller_runtime_active_workers",
                                    "Number of currently used workers per controller",
                                    {"controller"})
                    .WithLabels({controller})),
        max_concurrent_(registry
                            .AddGaugeFamily("controller_runtime_max_concurrent_reconciles",
                                            "Maximum number of concurrent reconciles per "
                                            "controller",
                                            {"controller"})
                            .WithLabels({controller})) {
    CounterFamily& totals = registry.AddCounterFamily(
        "controller_runtime_reconcile_total", "Total number of reconciliations per controller",
        {"controller", "result"});
    for (Result result :
         {Result::kSuccess, Result::kError, Result::kRequeue, Result::kRequeueAfter}) {
      totals_[static_cast<size_t>(result)] = &totals.WithLabels({controller, ResultLabel(result)});
    }
  }

  void IncReconcileTotal(Result result) override { totals_[static_cast<size_t>(result)]->Inc(); }
  void IncReconcileErrors() override { errors_.Inc(); }
  void ObserveReconcileTime(absl::Duration d) override { time_.Observe(d); }
  void IncReconcilePanics() override { panics_.Inc(); }
  void AddActiveWorkers(int delta) override { active_.Add(delta); }
  void SetMaxConcurrentReconciles(int workers) override { max_concurrent_.Set(workers); }

 private:
  std::array<Counter*, 4> totals_{};  // By Result.
  Counter& errors_;
  Histogram& time_;
  Counter& panics_;
  Gauge& active_;
  Gauge& max_concurrent_;
};

}  // namespace

WorkQueueMetricsPtr NewWorkQueueMetrics(Registry& registry, absl::string_view name) {
  return std::make_unique<WorkQueueMetricsAdapter>(registry, name);
}

ControllerMetricsPtr NewControllerMetrics(Registry& registry, absl::string_view controller) {
  return std::make_unique<ControllerMetricsAdapter>(registry, controller);
}

std::function<void(const std::string& method, int code, absl::Duration latency)>
NewRestClientRequestObserver(Registry& registry, absl::string_view host) {
  CounterFamily& requests = registry.AddCounterFamily(
      "rest_client_requests_total",
      "Number of HTTP requests, partitioned by status code, method, and host.",
      {"code", "method", "host"});
  HistogramFamily& durations =
      registry.AddHistogramFamily("rest_client_request_duration_seconds",
                                  "Request latency in seconds. Broken down by verb, and host.",
                                  {"verb", "host"}, RestClientDurationBuckets());
  return [&requests, &durations, host = std::string(host)](const std::string& method, int code,
                                                           absl::Duration latency) {
    const std::string code_label = code > 0 ? std::to_string(code) : "<error>";
    requests.WithLabels({code_label, method, host}).Inc();
    durations.WithLabels({method, host}).Observe(latency);
  };
}

void SetLeaderElectionMasterStatus(Registry& registry, absl::string_view lease_name,
                                   bool is_leader) {
  registry
      .AddGaugeFamily("leader_election_master_status",
                      "Gauge of if the reporting system is master of the relevant lease, 0 "
                      "indicates backup, 1 indicates master. 'name' is the string used to "
                      "identify the lease. Please make sure to group by name.",
                      {"name"})
      .WithLabels({lease_name})
      .Set(is_leader ? 1 : 0);
}

}  // namespace cohort::op
