// The operator's metrics: the adapters that turn the runtime's metric hooks (WorkQueueMetrics,
// ControllerMetrics, KubeClient's RequestObserver) into the series operator users already chart:
// client-go's workqueue_* and rest_client_*, controller-runtime's controller_runtime_*, and
// leader_election_master_status. The Prometheus client itself (Registry, Counter, Gauge,
// Histogram) is common/metrics.h.
#pragma once

#include <functional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "operator/controller.h"
#include "operator/work_queue.h"

namespace cohort::op {

using ::cohort::CollectHookHandle;
using ::cohort::Counter;
using ::cohort::CounterFamily;
using ::cohort::Gauge;
using ::cohort::GaugeFamily;
using ::cohort::Histogram;
using ::cohort::HistogramFamily;
using ::cohort::Registry;

// client-go's workqueue duration buckets: 1e-8 s to 10 s, ×10 (prometheus.ExponentialBuckets(10e-9,
// 10, 10)), written exactly rather than multiplied, so the `le` values print as 1e-05, not
// 9.999999999999999e-06.
const std::vector<double>& WorkQueueDurationBuckets();
// controller-runtime's controller_runtime_reconcile_time_seconds buckets: 5 ms to 60 s.
const std::vector<double>& ReconcileTimeBuckets();
// client-go's rest_client_request_duration_seconds buckets: 5 ms to 60 s.
const std::vector<double>& RestClientDurationBuckets();

// --- Adapters to the runtime's hooks. Each registers its families in `registry` (shared between
// --- adapters of different names), which must outlive the adapter.

// client-go's workqueue_* series for the queue named `name` (by convention the controller's
// name): depth, adds_total, queue_duration_seconds, work_duration_seconds,
// unfinished_work_seconds, longest_running_processor_seconds and retries_total, labelled
// {name="<name>"}. The unfinished-work gauges move only when the queue's
// UpdateUnfinishedWorkMetrics() runs: register it with Registry::AddCollectHook.
WorkQueueMetricsPtr NewWorkQueueMetrics(Registry& registry, absl::string_view name);

// controller-runtime's controller_runtime_* series for the controller named `controller`:
// reconcile_total{controller,result} (every result at 0 from the start, as controller-runtime
// does), reconcile_errors_total, reconcile_time_seconds, reconcile_panics_total, active_workers
// and max_concurrent_reconciles, labelled {controller="<controller>"}.
ControllerMetricsPtr NewControllerMetrics(Registry& registry, absl::string_view controller);

// A KubeClient RequestObserver (kube_client.h; the same std::function type, spelled out here so
// the metrics library does not depend on the client) for client-go's
// rest_client_requests_total{code,method,host} and rest_client_request_duration_seconds{verb,host}.
// `host` is the API server's host:port (the host part of RestConfig::server), as client-go labels
// it. A transport failure (code 0) counts as code "<error>", as in client-go.
std::function<void(const std::string& method, int code, absl::Duration latency)>
NewRestClientRequestObserver(Registry& registry, absl::string_view host);

// leader_election_master_status{name="<lease_name>"}: 1 while this process holds the lease, 0 when
// it is a standby (client-go's leader election metric).
void SetLeaderElectionMasterStatus(Registry& registry, absl::string_view lease_name,
                                   bool is_leader);

}  // namespace cohort::op
