#include "operator/leader_election.h"

#include <unistd.h>

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/uuid.h"
#include "operator/api_error.h"
#include "operator/resource.h"
#include "spdlog/spdlog.h"

namespace cohort::op {
namespace {

using nlohmann::json;

// metav1.MicroTime: RFC 3339 with microseconds, in UTC.
std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

int64_t IntField(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string StringField(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string DefaultLeaderIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    absl::SNPrintF(host, sizeof(host), "%s", "unknown-host");
  }
  return absl::StrCat(host, "_", NewRandomUuid());
}

absl::Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config) {
  if (config.lease_duration <= config.renew_deadline) {
    return absl::InvalidArgumentError("leaseDuration must be greater than renewDeadline");
  }
  if (config.renew_deadline <= kLeaderElectionJitterFactor * config.retry_period) {
    return absl::InvalidArgumentError(
        "renewDeadline must be greater than retryPeriod*JitterFactor");
  }
  if (config.lease_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("leaseDuration must be greater than zero");
  }
  if (config.renew_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("renewDeadline must be greater than zero");
  }
  if (config.retry_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retryPeriod must be greater than zero");
  }
  if (!config.callbacks.on_started_leading) {
    return absl::InvalidArgumentError("on_started_leading callback must be set");
  }
  if (!config.callbacks.on_stopped_leading) {
    return absl::InvalidArgumentError("on_stopped_leading callback must be set");
  }
  if (config.identity.empty()) return absl::InvalidArgumentError("identity is empty");
  // It goes into every Lease written, and the JSON encoder refuses invalid UTF-8 (by throwing).
  try {
    (void)json(config.identity).dump();
  } catch (const json::exception&) {
    return absl::InvalidArgumentError("identity is not valid UTF-8");
  }
  if (config.lease_name.empty() || config.lease_namespace.empty()) {
    return absl::InvalidArgumentError("the Lease needs a name and a namespace");
  }
  if (config.lease_duration < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "leaseDuration must be at least 1s (the Lease counts seconds)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LeaderElector>> LeaderElector::Create(KubeClient& client,
                                                                     LeaderElectionConfig config,
                                                                     Clock& clock) {
  if (config.identity.empty()) config.identity = DefaultLeaderIdentity();
  if (absl::Status valid = ValidateLeaderElectionConfig(config); !valid.ok()) return valid;
  return std::unique_ptr<LeaderElector>(new LeaderElector(client, std::move(config), clock));
}

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionConfig config, Clock& clock)
    : client_(client), config_(std::move(config)), clock_(clock) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  {
    absl::MutexLock cb(&callback_mu_);
    if (config_.callbacks.set_master_status) config_.callbacks.set_master_status(false);
  }
  run_thread_ = std::thread([this] { Run(); });
  watchdog_thread_ = std::thread([this] { Watchdog(); });
}

void LeaderElector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (run_thread_.joinable()) run_thread_.join();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
  absl::MutexLock cb(&callback_mu_);
  bool was_leading;
  {
    absl::MutexLock lock(&mu_);
    was_leading = leading_;
    leading_ = false;
  }
  if (was_leading) {
    spdlog::info("leader election {}/{}: {} stops leading", config_.lease_namespace,
                 config_.lease_name, config_.identity);
    if (config_.callbacks.set_master_status) config_.callbacks.set_master_status(false);
    config_.callbacks.on_stopped_leading();
  }
}

absl::Status LeaderElector::Release() {
  Stop();
  Record observed;
  {
    absl::MutexLock lock(&mu_);
    observed = observed_;
  }
  if (!lease_.has_value() || observed.holder != config_.identity) return absl::OkStatus();
  const absl::Time now = clock_.Now();
  // As client-go's release(): no holder, a 1 s lease, the transitions kept.
  Record released;
  released.lease_duration_seconds = 1;
  released.acquire_time = MicroTime(now);
  released.renew_time = released.acquire_time;
  released.transitions = observed.transitions;
  json lease = WithSpec(*lease_, released);
  absl::StatusOr<json> written = client_.Update(resources::kLeases, config_.lease_namespace, lease);
  if (!written.ok()) {
    if (apierrors::IsConflict(written.status()) || apierrors::IsNotFound(written.status())) {
      spdlog::info("leader election {}/{}: nothing to release, the Lease changed meanwhile",
                   config_.lease_namespace, config_.lease_name);
      return absl::OkStatus();
    }
    return written.status();
  }
  lease_ = *std::move(written);
  Observe(released, now, /*written=*/true);
  spdlog::info("leader election {}/{}: {} released the Lease", config_.lease_namespace,
               config_.lease_name, config_.identity);
  return absl::OkStatus();
}

bool LeaderElector::IsLeader() const {
  absl::MutexLock lock(&mu_);
  return leading_;
}

std::string LeaderElector::GetLeader() const {
  absl::MutexLock lock(&mu_);
  return observed_.holder;
}

LeaderElector::Record LeaderElector::RecordOf(const json& lease) {
  Record r;
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return r;
  r.holder = StringField(*spec, "holderIdentity");
  r.lease_duration_seconds = IntField(*spec, "leaseDurationSeconds");
  r.acquire_time = StringField(*spec, "acquireTime");
  r.renew_time = StringField(*spec, "renewTime");
  r.transitions = IntField(*spec, "leaseTransitions");
  return r;
}

json LeaderElector::SpecOf(const Record& r) {
  json spec = {{"holderIdentity", r.holder},
               {"leaseDurationSeconds", r.lease_duration_seconds},
               {"leaseTransitions", r.transitions}};
  if (!r.acquire_time.empty()) spec["acquireTime"] = r.acquire_time;
  if (!r.renew_time.empty()) spec["renewTime"] = r.renew_time;
  return spec;
}

json LeaderElector::WithSpec(json lease, const Record& record) {
  json& spec = lease["spec"];
  if (!spec.is_object()) spec = json::object();
  // Fields this elector does not manage (e.g. strategy, preferredHolder) are kept.
  spec.update(SpecOf(record));
  return lease;
}

void LeaderElector::Observe(const Record& record, absl::Time now, bool written) {
  absl::MutexLock lock(&mu_);
  if (!written && record == observed_ && observed_time_ != absl::InfinitePast()) return;
  observed_ = record;
  observed_time_ = now;
}

bool LeaderElector::HoldsLease() const {
  absl::MutexLock lock(&mu_);
  return observed_.holder == config_.identity;
}

bool LeaderElector::LeaseValid(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  return observed_time_ + absl::Seconds(observed_.lease_duration_seconds) > now;
}

LeaderElector::Attempt LeaderElector::TryAcquireOrRenew() {
  const ResourceType& type = resources::kLeases;
  const std::string& ns = config_.lease_namespace;
  const absl::Time now = clock_.Now();
  Record record;
  record.holder = config_.identity;
  record.lease_duration_seconds = absl::ToInt64Seconds(config_.lease_duration);
  record.acquire_time = MicroTime(now);
  record.renew_time = record.acquire_time;

  // 1. The leader's fast path: update the Lease as last written, assuming nobody touched it.
  if (lease_.has_value() && HoldsLease() && LeaseValid(now)) {
    {
      absl::MutexLock lock(&mu_);
      record.acquire_time = observed_.acquire_time;
      record.transitions = observed_.transitions;
    }
    json lease = WithSpec(*lease_, record);
    absl::StatusOr<json> written = client_.Update(type, ns, lease);
    if (written.ok()) {
      lease_ = *std::move(written);
      Observe(record, clock_.Now(), /*written=*/true);
      return Attempt::kHeld;
    }
    spdlog::warn("leader election {}/{}: renewing failed ({}); re-reading the Lease", ns,
                 config_.lease_name, written.status().ToString());
    record.acquire_time = MicroTime(now);
    record.transitions = 0;
  }

  // 2. Read the Lease; create it if there is none.
  absl::StatusOr<json> current = client_.Get(type, ns, config_.lease_name);
  if (!current.ok()) {
    if (!apierrors::IsNotFound(current.status())) {
      spdlog::warn("leader election {}/{}: reading the Lease failed: {}", ns, config_.lease_name,
                   current.status().ToString());
      return Attempt::kFailed;
    }
    json lease = {{"apiVersion", type.ApiVersion()},
                  {"kind", type.kind},
                  {"metadata", {{"name", config_.lease_name}, {"namespace", ns}}},
                  {"spec", SpecOf(record)}};
    absl::StatusOr<json> created = client_.Create(type, ns, lease);
    if (!created.ok()) {
      // AlreadyExists: another candidate created it first (a lost race).
      spdlog::info("leader election {}/{}: creating the Lease failed: {}", ns, config_.lease_name,
                   created.status().ToString());
      return Attempt::kFailed;
    }
    lease_ = *std::move(created);
    Observe(record, clock_.Now(), /*written=*/true);
    return Attempt::kHeld;
  }

  // 3. The Lease exists: who holds it, and for how long still, by our clock?
  lease_ = *current;
  const Record remote = RecordOf(*current);
  Observe(remote, clock_.Now(), /*written=*/false);
  if (!remote.holder.empty() && LeaseValid(now) && !HoldsLease()) return Attempt::kHeldByOther;

  // 4. Take it over (expired or released) or renew it (ours).
  if (HoldsLease()) {
    record.acquire_time = remote.acquire_time;
    record.transitions = remote.transitions;
  } else {
    record.transitions = remote.transitions + 1;
  }
  json lease = WithSpec(*current, record);
  absl::StatusOr<json> written = client_.Update(type, ns, lease);
  if (!written.ok()) {
    // A Conflict: someone wrote the Lease since we read it (a lost race); re-read next time.
    spdlog::info("leader election {}/{}: updating the Lease failed: {}", ns, config_.lease_name,
                 written.status().ToString());
    return Attempt::kFailed;
  }
  lease_ = *std::move(written);
  Observe(record, clock_.Now(), /*written=*/true);
  return Attempt::kHeld;
}

void LeaderElector::ReportTransition() {
  const std::string holder = GetLeader();
  if (holder.empty() || holder == reported_leader_) return;
  reported_leader_ = holder;
  spdlog::info("leader election {}/{}: {} sees {} as the leader", config_.lease_namespace,
               config_.lease_name, config_.identity, holder);
  if (config_.callbacks.on_new_leader) {
    absl::MutexLock cb(&callback_mu_);
    config_.callbacks.on_new_leader(holder);
  }
}

bool LeaderElector::WaitUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || lost_; };
  clock_.AwaitWithDeadline(mu_, absl::Condition(&done), clock_.Now() + d);
  return !done();
}

void LeaderElector::BecomeLeader(absl::Time renew_deadline_at) {
  absl::MutexLock cb(&callback_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    leading_ = true;
    renew_deadline_at_ = renew_deadline_at;
  }
  spdlog::info("leader election {}/{}: {} became leader", config_.lease_namespace,
               config_.lease_name, config_.identity);
  if (config_.callbacks.set_master_status) config_.callbacks.set_master_status(true);
  config_.callbacks.on_started_leading();
}

void LeaderElector::LoseLeadership(const std::string& why, bool only_past_deadline) {
  absl::MutexLock cb(&callback_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (!leading_) return;  // stopped, or lost already
    // The watchdog's verdict is re-checked: a renewal may have succeeded meanwhile.
    if (only_past_deadline && clock_.Now() < renew_deadline_at_) return;
    leading_ = false;
    lost_ = true;
  }
  spdlog::error("leader election {}/{}: {} lost leadership: {}", config_.lease_namespace,
                config_.lease_name, config_.identity, why);
  if (config_.callbacks.set_master_status) config_.callbacks.set_master_status(false);
  config_.callbacks.on_stopped_leading();
}

void LeaderElector::Run() {
  absl::BitGen gen;
  // Acquire: the first attempt at once, then every RetryPeriod with jitter.
  absl::Time attempt_start;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    attempt_start = clock_.Now();
    const Attempt attempt = TryAcquireOrRenew();
    ReportTransition();
    if (attempt == Attempt::kHeld) break;
    const double jitter = absl::Uniform(gen, 0.0, kLeaderElectionJitterFactor);
    if (!WaitUnlessStopped(config_.retry_period * (1.0 + jitter))) return;
  }
  BecomeLeader(attempt_start + config_.renew_deadline);

  // Renew every RetryPeriod. A renewal's deadline counts from when it was sent.
  while (WaitUnlessStopped(config_.retry_period)) {
    attempt_start = clock_.Now();
    const Attempt attempt = TryAcquireOrRenew();
    ReportTransition();
    if (attempt == Attempt::kHeld) {
      absl::MutexLock lock(&mu_);
      if (leading_) renew_deadline_at_ = attempt_start + config_.renew_deadline;
      continue;
    }
    if (attempt == Attempt::kHeldByOther) {
      LoseLeadership(absl::StrCat("the Lease is held by ", GetLeader()),
                     /*only_past_deadline=*/false);
      return;
    }
    absl::Time deadline;
    {
      absl::MutexLock lock(&mu_);
      deadline = renew_deadline_at_;
    }
    if (clock_.Now() >= deadline) {
      LoseLeadership(absl::StrCat("no renewal succeeded within ",
                                  absl::FormatDuration(config_.renew_deadline)),
                     /*only_past_deadline=*/true);
      return;
    }
  }
}

void LeaderElector::Watchdog() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_ || lost_) return;
      if (!leading_) {
        auto wake = [this]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || lost_ || leading_; };
        clock_.AwaitWithDeadline(mu_, absl::Condition(&wake), absl::InfiniteFuture());
        continue;
      }
      const absl::Time deadline = renew_deadline_at_;
      if (clock_.Now() < deadline) {
        auto wake = [this, deadline]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_ || lost_ || !leading_ || renew_deadline_at_ != deadline;
        };
        clock_.AwaitWithDeadline(mu_, absl::Condition(&wake), deadline);
        continue;
      }
    }
    // The deadline passed while leading, whatever the loop thread is doing (perhaps blocked in
    // a renewal that will never answer).
    LoseLeadership(
        absl::StrCat("no renewal succeeded within ", absl::FormatDuration(config_.renew_deadline)),
        /*only_past_deadline=*/true);
  }
}

}  // namespace cohort::op
