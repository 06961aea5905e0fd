#include "operator/manager.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace cohort::op {
namespace {

// How often Run() re-checks the caches while waiting for them to sync.
constexpr absl::Duration kSyncPollInterval = absl::Milliseconds(50);

bool ServerOff(const std::string& address) { return address.empty() || address == "0"; }

std::string InformerKey(const InformerOptions& o) {
  return absl::StrCat(o.type.group, "/", o.type.version, "/", o.type.resource,
                      "|ns=", absl::StrJoin(o.namespaces, ","), "|l=", o.label_selector,
                      "|f=", o.field_selector, "|meta=", o.metadata_only ? 1 : 0);
}

// The group of an apiVersion ("apps/v1" → "apps", "v1" → "").
std::string_view GroupOf(std::string_view api_version) {
  const size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

}  // namespace

MapFunc MapToSelf() {
  return [](const nlohmann::json& object) { return std::vector<std::string>{ObjectKey(object)}; };
}

MapFunc MapToControllerOwner(std::string group, std::string kind) {
  return [group = std::move(group), kind = std::move(kind)](const nlohmann::json& object) {
    std::vector<std::string> keys;
    const nlohmann::json& meta = object.value("metadata", nlohmann::json::object());
    auto refs = meta.find("ownerReferences");
    if (refs == meta.end() || !refs->is_array()) return keys;
    for (const nlohmann::json& ref : *refs) {
      if (!ref.is_object() || !ref.value("controller", false)) continue;
      if (ref.value("kind", "") != kind) continue;
      const std::string api_version = ref.value("apiVersion", "");
      if (GroupOf(api_version) != group) continue;
      keys.push_back(ObjectKey(meta.value("namespace", ""), ref.value("name", "")));
    }
    return keys;
  };
}

absl::StatusOr<std::unique_ptr<Manager>> Manager::Create(KubeClient& client, Registry& registry,
                                                         ManagerOptions options, Clock& clock) {
  if (options.leader_elect) {
    LeaderElectionConfig check = options.leader_election;
    // The manager supplies the callbacks; validate the rest.
    check.callbacks.on_started_leading = [] {};
    check.callbacks.on_stopped_leading = [] {};
    if (check.identity.empty()) check.identity = "validating";
    if (absl::Status s = ValidateLeaderElectionConfig(check); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("leader election: ", s.message()));
    }
  }
  if (options.cache_sync_timeout <= absl::ZeroDuration() ||
      options.graceful_shutdown_timeout < absl::ZeroDuration() ||
      options.sync_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "cache_sync_timeout must be positive, graceful_shutdown_timeout and sync_period not "
        "negative");
  }
  auto manager = std::unique_ptr<Manager>(new Manager(client, registry, std::move(options), clock));
  if (!manager->options_.events.reporting_controller.empty()) {
    absl::StatusOr<std::unique_ptr<EventRecorder>> events =
        EventRecorder::Create(client, manager->options_.events, clock);
    if (!events.ok()) return events.status();
    manager->events_ = *std::move(events);
  }
  if (manager->options_.leader_elect) {
    LeaderElectionConfig config = manager->options_.leader_election;
    Manager* self = manager.get();
    const std::string lease_name = config.lease_name;
    config.callbacks.on_started_leading = [self] {
      absl::MutexLock lock(&self->mu_);
      self->leading_ = true;
    };
    config.callbacks.on_stopped_leading = [self] {
      absl::MutexLock lock(&self->mu_);
      self->leading_ = false;
      // Losing the Lease while not asked to stop is final (leader_election.h).
      if (!self->stop_requested_) self->lost_ = true;
    };
    config.callbacks.on_new_leader = [](const std::string& identity) {
      spdlog::info("the leader is now {}", identity);
    };
    config.callbacks.set_master_status = [&registry, lease_name](bool leading) {
      SetLeaderElectionMasterStatus(registry, lease_name, leading);
    };
    absl::StatusOr<std::unique_ptr<LeaderElector>> elector =
        LeaderElector::Create(client, std::move(config), clock);
    if (!elector.ok()) return elector.status();
    manager->elector_ = *std::move(elector);
  }
  return manager;
}

Manager::Manager(KubeClient& client, Registry& registry, ManagerOptions options, Clock& clock)
    : client_(client), registry_(registry), options_(std::move(options)), clock_(clock) {}

Manager::~Manager() {
  StopControllers(clock_.Now());
  StopEverythingElse();
}

Informer& Manager::GetInformer(InformerOptions options) {
  if (options.namespaces.empty() && options.type.namespaced) {
    options.namespaces = options_.namespaces;
  }
  if (options.resync_period == absl::ZeroDuration()) options.resync_period = options_.sync_period;
  const std::string key = InformerKey(options);
  for (size_t i = 0; i < informer_keys_.size(); ++i) {
    if (informer_keys_[i] == key) return *informers_[i];
  }
  informers_.push_back(std::make_unique<Informer>(client_, std::move(options), clock_));
  informer_keys_.push_back(key);
  return *informers_.back();
}

absl::StatusOr<Controller*> Manager::AddController(std::string name,
                                                   Controller::ReconcileFn reconcile, int workers) {
  if (workers < 1) return absl::InvalidArgumentError("a controller needs at least one worker");
  for (const auto& c : controllers_) {
    if (c->name() == name) {
      return absl::InvalidArgumentError(absl::StrCat("controller \"", name, "\" added twice"));
    }
  }
  Controller::Options copts;
  copts.queue_metrics = NewWorkQueueMetrics(registry_, name);
  copts.controller_metrics = NewControllerMetrics(registry_, name);
  auto controller =
      std::make_unique<Controller>(name, std::move(reconcile), clock_, std::move(copts));
  Controller* raw = controller.get();
  collect_hooks_.push_back(
      registry_.AddCollectHook([raw] { raw->queue().UpdateUnfinishedWorkMetrics(); }));
  controllers_.push_back(std::move(controller));
  worker_counts_.push_back(workers);
  return raw;
}

void Manager::Watch(Informer& informer, Controller& controller, MapFunc map) {
  auto enqueue = [&controller, map](const ObjectPtr& object) {
    for (const std::string& key : map(*object)) controller.Enqueue(key);
  };
  InformerHandler handler;
  handler.on_add = enqueue;
  handler.on_update = [enqueue](const ObjectPtr& old_object, const ObjectPtr& new_object) {
    if (old_object != new_object) enqueue(old_object);
    enqueue(new_object);
  };
  handler.on_delete = enqueue;
  informer.AddHandler(std::move(handler));
}

bool Manager::Ready() const {
  for (const auto& informer : informers_) {
    if (!informer->HasSynced()) return false;
  }
  return true;
}

bool Manager::IsLeader() const {
  absl::MutexLock lock(&mu_);
  return leading_;
}

uint16_t Manager::metrics_port() const {
  absl::MutexLock lock(&mu_);
  return metrics_port_;
}

uint16_t Manager::health_probe_port() const {
  absl::MutexLock lock(&mu_);
  return probe_port_;
}

std::string Manager::identity() const { return elector_ ? elector_->identity() : ""; }

bool Manager::RunShouldWake() const {
  return stop_requested_ || lost_ || (leading_ && !controllers_started_);
}

void Manager::RequestStop() {
  absl::MutexLock lock(&mu_);
  stop_requested_ = true;
}

absl::Status Manager::StartServers() {
  const bool metrics_on = !ServerOff(options_.metrics_bind_address);
  const bool probes_on = !ServerOff(options_.health_probe_bind_address);
  // One server for both only for one fixed address: two ":0" addresses mean two free ports.
  const bool shared = metrics_on && probes_on &&
                      options_.metrics_bind_address == options_.health_probe_bind_address &&
                      !absl::EndsWith(options_.metrics_bind_address, ":0");
  if (metrics_on) {
    HealthServer::Options o;
    o.bind_address = options_.metrics_bind_address;
    o.registry = &registry_;
    o.serve_probes = shared;
    if (shared) {
      o.readiness = [this]() -> absl::Status {
        return Ready() ? absl::OkStatus() : absl::UnavailableError("caches not synced");
      };
    }
    metrics_server_ = std::make_unique<HealthServer>(std::move(o));
    if (absl::Status s = metrics_server_->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("metrics server: ", s.message()));
    }
    spdlog::info("serving /metrics on {} (port {})", options_.metrics_bind_address,
                 metrics_server_->port());
  }
  if (probes_on && !shared) {
    HealthServer::Options o;
    o.bind_address = options_.health_probe_bind_address;
    o.readiness = [this]() -> absl::Status {
      return Ready() ? absl::OkStatus() : absl::UnavailableError("caches not synced");
    };
    probe_server_ = std::make_unique<HealthServer>(std::move(o));
    if (absl::Status s = probe_server_->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("health probe server: ", s.message()));
    }
    spdlog::info("serving /healthz and /readyz on {} (port {})", options_.health_probe_bind_address,
                 probe_server_->port());
  }
  absl::MutexLock lock(&mu_);
  metrics_port_ = metrics_server_ ? metrics_server_->port() : 0;
  probe_port_ = shared ? metrics_port_ : (probe_server_ ? probe_server_->port() : 0);
  return absl::OkStatus();
}

absl::Status Manager::WaitForCaches() {
  const absl::Time deadline = clock_.Now() + options_.cache_sync_timeout;
  while (!Ready()) {
    {
      absl::MutexLock lock(&mu_);
      const absl::Time wake = std::min(deadline, clock_.Now() + kSyncPollInterval);
      clock_.AwaitWithDeadline(mu_, absl::Condition(&stop_requested_), wake);
      if (stop_requested_) return absl::CancelledError("stop requested before caches synced");
    }
    if (clock_.Now() >= deadline && !Ready()) {
      std::vector<std::string> pending;
      for (size_t i = 0; i < informers_.size(); ++i) {
        if (!informers_[i]->HasSynced()) pending.push_back(informer_keys_[i]);
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "caches did not sync within ", absl::FormatDuration(options_.cache_sync_timeout), ": ",
          absl::StrJoin(pending, "; ")));
    }
  }
  return absl::OkStatus();
}

void Manager::StartControllers() {
  for (size_t i = 0; i < controllers_.size(); ++i) {
    if (absl::Status s = controllers_[i]->Start(worker_counts_[i]); !s.ok()) {
      // Only thread creation can fail here; the workers that did start keep working.
      spdlog::error("controller {}: starting workers: {}", controllers_[i]->name(), s.ToString());
    }
  }
  absl::MutexLock lock(&mu_);
  controllers_started_ = true;
}

bool Manager::StopControllers(absl::Time deadline) {
  bool all = true;
  for (auto& controller : controllers_) all = controller->Stop(deadline) && all;
  return all;
}

void Manager::StopEverythingElse() {
  if (elector_) elector_->Stop();
  if (events_) events_->Stop();
  for (auto& informer : informers_) informer->Stop();
  if (probe_server_) probe_server_->Stop();
  if (metrics_server_) metrics_server_->Stop();
}

absl::Status Manager::Run() {
  {
    absl::MutexLock lock(&mu_);
    if (ran_) return absl::FailedPreconditionError("Manager::Run called twice");
    ran_ = true;
  }
  if (absl::Status s = StartServers(); !s.ok()) {
    StopEverythingElse();
    return s;
  }
  for (auto& informer : informers_) informer->Start();
  if (absl::Status s = WaitForCaches(); !s.ok()) {
    StopEverythingElse();
    return absl::IsCancelled(s) ? absl::OkStatus() : s;
  }
  spdlog::info("caches synced ({} informers)", informers_.size());

  if (elector_) {
    spdlog::info("campaigning for Lease {}/{} as {}", options_.leader_election.lease_namespace,
                 options_.leader_election.lease_name, elector_->identity());
    elector_->Start();
  } else {
    absl::MutexLock lock(&mu_);
    leading_ = true;
  }

  // Wait for leadership (start the workers), a stop request, or a loss.
  for (;;) {
    bool start = false;
    {
      absl::MutexLock lock(&mu_);
      clock_.AwaitWithDeadline(mu_, absl::Condition(this, &Manager::RunShouldWake),
                               absl::InfiniteFuture());
      if (lost_) break;
      if (stop_requested_) break;
      start = true;
    }
    if (start) {
      spdlog::info("leading: starting {} controllers", controllers_.size());
      StartControllers();
    }
  }

  bool lost;
  {
    absl::MutexLock lock(&mu_);
    lost = lost_;
  }
  if (lost) {
    spdlog::error("leadership lost: stopping reconciles at once and exiting");
    StopControllers(clock_.Now());
    StopEverythingElse();
    return absl::AbortedError("leader election lost");
  }

  spdlog::info("stop requested: draining in-flight reconciles for up to {}",
               absl::FormatDuration(options_.graceful_shutdown_timeout));
  const bool drained = StopControllers(clock_.Now() + options_.graceful_shutdown_timeout);
  if (!drained) spdlog::warn("reconciles still running at the shutdown deadline");
  if (elector_) {
    if (absl::Status s = elector_->Release(); !s.ok()) {
      spdlog::warn("releasing the Lease failed: {}", s.ToString());
    }
  }
  StopEverythingElse();
  if (!drained) {
    return absl::DeadlineExceededError("reconciles still running at the shutdown deadline");
  }
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace cohort::op
