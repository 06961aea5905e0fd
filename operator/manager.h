// The process around the reconcilers (controller-runtime's Manager): shared informers, the
// controllers, leader election, Events, /metrics and the probes, and the order in which they start
// and stop.
//
// Setup (before Run): GetInformer() for each resource a reconciler reads, AddController() for each
// reconciler, Watch() to map an informer's changes to a controller's keys.
//
// Run() blocks:
//   1. the metrics and probe servers start (/healthz answers; /readyz fails until step 2 is done);
//   2. every informer starts and Run waits for its first list (cache_sync_timeout);
//   3. with leader election, the manager campaigns for the Lease. Standbys keep their caches warm,
//      and their queues collect the keys changes map to, so a new leader starts with every key
//      already queued. The leader (or, without election, every process) starts the workers;
//   4. until RequestStop() or until leadership is lost.
// Then it shuts down: the controllers stop taking work and in-flight reconciles get until
// graceful_shutdown_timeout to finish; the Lease is released (a standby takes over at once instead
// of waiting for it to expire); pending Events are written; informers and servers stop.
//
// What Run returns decides the exit code (see cohort-operator's main):
//   OK                 RequestStop() and everything stopped in time — exit 0;
//   DeadlineExceeded   RequestStop(), but reconciles were still running at the deadline (the Lease
//                      was released anyway; the process must exit now, not wait for them);
//   Aborted            leadership was lost: the controllers stopped taking work at once, and the
//                      process must exit without waiting for in-flight reconciles (a fresh process
//                      campaigns again), as controller-runtime does;
//   another error      setup failed (a server could not bind, caches did not sync, the
//                      elector's config is invalid).
//
// Thread-safety: setup calls and Run() are for one thread; RequestStop(), IsLeader(), Ready() and
// the accessors are safe from any thread (RequestStop from a signal-handling thread, not from a
// signal handler). Borrows the client, the registry and the clock, which must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "operator/controller.h"
#include "operator/event_recorder.h"
#include "operator/health_server.h"
#include "operator/informer.h"
#include "operator/kube_client.h"
#include "operator/leader_election.h"
#include "operator/runtime_metrics.h"

namespace cohort::op {

struct ManagerOptions {
  // Namespaced informers watch these namespaces (one list+watch each); empty: all namespaces.
  std::vector<std::string> namespaces;

  bool leader_elect = false;
  // The Lease (namespace, name, identity, timings); callbacks are the manager's own.
  LeaderElectionConfig leader_election;

  // "host:port" of /metrics and of /healthz + /readyz; "0" (or empty) turns a server off. The same
  // address for both (other than port 0) serves them from one server.
  std::string metrics_bind_address = "0";
  std::string health_probe_bind_address = "0";

  // How long Run() waits for the informers' first lists.
  absl::Duration cache_sync_timeout = absl::Minutes(2);
  // How long in-flight reconciles get to finish after RequestStop().
  absl::Duration graceful_shutdown_timeout = absl::Seconds(30);
  // controller-runtime's SyncPeriod: how often an informer whose InformerOptions leave
  // resync_period zero replays its cache to its handlers, so every object is reconciled again
  // without a change (a resync reads nothing from the API server). Zero: never. Not negative.
  absl::Duration sync_period = absl::Hours(10);

  // Events; reporting_controller empty: no recorder (events() is null).
  EventRecorderOptions events;
};

// Maps a watched object to the keys ("namespace/name") of the objects to reconcile.
using MapFunc = std::function<std::vector<std::string>(const nlohmann::json& object)>;

// The object itself.
MapFunc MapToSelf();
// The object's controller owner (the ownerReference with controller: true) if it is of `kind` in
// API group `group` ("" for the core group), in the object's namespace.
MapFunc MapToControllerOwner(std::string group, std::string kind);

class Manager {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Manager>> Create(
      KubeClient& client, Registry& registry, ManagerOptions options,
      Clock& clock = RealClock::Get());

  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;
  // Stops whatever Run() left running (normally nothing).
  ~Manager();

  // The shared informer for `options`: one per resource type, version, scope (namespaces,
  // selectors) and metadata_only; callers asking for the same one share it, including its
  // transform, resync period and compact_cache (the first caller's). Empty `namespaces` of a
  // namespaced type take the manager's, and a zero resync_period takes the manager's sync_period.
  // Setup only; the informer lives as long as the manager.
  Informer& GetInformer(InformerOptions options);

  // A controller named `name` (unique; it labels logs and metrics) with `workers` workers, whose
  // queue and reconcile metrics go to the registry. Its workers start when this process leads.
  // Setup only. InvalidArgument for a duplicate name or workers < 1.
  [[nodiscard]] absl::StatusOr<Controller*> AddController(std::string name,
                                                          Controller::ReconcileFn reconcile,
                                                          int workers = 1);

  // Every add, update (the old and the new object) and delete seen by `informer` enqueues the keys
  // `map` returns into `controller`'s queue. Setup only.
  void Watch(Informer& informer, Controller& controller, MapFunc map);

  // Blocks until stopped; see the header comment for what it returns. Call once.
  [[nodiscard]] absl::Status Run() ABSL_LOCKS_EXCLUDED(mu_);

  // Asks Run() to shut down gracefully. Idempotent; callable before Run() (which then returns at
  // once after starting nothing further).
  void RequestStop() ABSL_LOCKS_EXCLUDED(mu_);

  bool IsLeader() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every informer has synced (what /readyz reports).
  bool Ready() const;

  // Null when options.events.reporting_controller is empty. Valid from Create() on.
  EventRecorder* events() { return events_.get(); }
  // Bound ports (for ":0" addresses), 0 when off or before Run() started the server.
  uint16_t metrics_port() const ABSL_LOCKS_EXCLUDED(mu_);
  uint16_t health_probe_port() const ABSL_LOCKS_EXCLUDED(mu_);
  // The identity this process campaigns with ("" without leader election).
  std::string identity() const;

 private:
  Manager(KubeClient& client, Registry& registry, ManagerOptions options, Clock& clock);

  absl::Status StartServers() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for the informers' first lists, or a stop request. OK when synced.
  absl::Status WaitForCaches() ABSL_LOCKS_EXCLUDED(mu_);
  void StartControllers() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the controllers, returning whether in-flight reconciles finished by `deadline`.
  bool StopControllers(absl::Time deadline);
  void StopEverythingElse();
  // Run()'s main wait: a stop request, a loss, or leadership with the workers not yet started.
  bool RunShouldWake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  KubeClient& client_;
  Registry& registry_;
  ManagerOptions options_;
  Clock& clock_;

  std::vector<std::unique_ptr<Informer>> informers_;
  std::vector<std::string> informer_keys_;  // parallel to informers_
  std::vector<std::unique_ptr<Controller>> controllers_;
  std::vector<int> worker_counts_;  // parallel to controllers_
  std::vector<CollectHookHandle> collect_hooks_;
  std::unique_ptr<EventRecorder> events_;
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<HealthServer> metrics_server_;
  std::unique_ptr<HealthServer> probe_server_;  // may be metrics_server_'s twin (same address)

  mutable absl::Mutex mu_;
  bool ran_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  bool controllers_started_ ABSL_GUARDED_BY(mu_) = false;
  uint16_t metrics_port_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t probe_port_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::op
