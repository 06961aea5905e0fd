// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (tools/leaderelection): only the candidate holding the Lease reconciles; standbys keep trying and
// take over when the holder releases the Lease or stops renewing it.
//
//   - A candidate acquires the Lease when it does not exist (create), when its holder is empty (a
//     released Lease), when it names this candidate, or when it has expired. Expiry is judged by
//     the local clock only: the Lease counts as expired when leaseDurationSeconds have passed since
//     this candidate last saw its record (holder, times, duration, transitions) change — the
//     remote renewTime is never compared with the local clock, so clock skew between nodes does
//     not matter (only skew *rate* does).
//   - Every write is an Update carrying the resourceVersion last read (optimistic concurrency); a
//     409 Conflict means another candidate won the race, and the next attempt re-reads.
//     leaseTransitions is incremented on every takeover from another holder.
//   - Acquisition is retried every RetryPeriod with client-go's jitter (RetryPeriod × [1, 2.2));
//   the
//     leader renews every RetryPeriod.
//   - The leader stops leading at once — on_stopped_leading — when no renewal has succeeded for
//     RenewDeadline (measured from when the last successful renewal was sent; a renewal stuck in
//     the network counts as failing, a watchdog thread does not wait for it), or when it reads the
//     Lease held by someone else. Losing is final: the elector stops, and the operator is expected
//     to stop reconciling and exit (a fresh process campaigns again). Unlike client-go, which keeps
//     polling until RenewDeadline even after reading another holder, this leader yields at once.
//   - Release() (client-go's ReleaseOnCancel) writes an empty holderIdentity with a 1 s lease, so a
//     standby takes over on its next attempt instead of waiting for the Lease to expire.
//
// Defaults: LeaseDuration 15 s, RenewDeadline 10 s, RetryPeriod 2 s, as client-go and
// controller-runtime. The identity defaults to "<hostname>_<random UUID>".
//
// Threads and ownership: Start() runs two threads (the campaign/renew loop and the renewal
// watchdog). Callbacks run on those threads (or on the thread calling Stop()/Release()), never two
// at once, and on_stopped_leading always follows the on_started_leading it ends. Callbacks must
// return promptly (start work elsewhere, signal a condition) and must not call Stop() or Release()
// (they join the threads that run the callbacks). IsLeader() and GetLeader() are thread-safe.
// Borrows the client and the clock, which must outlive the elector. The client's requests cannot be
// cancelled, so Stop() returns after the request in flight, if any, ends; waiting between attempts
// is interrupted at once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "operator/kube_client.h"

namespace cohort::op {

struct LeaderCallbacks {
  // This elector now holds the Lease: start reconciling. Required.
  std::function<void()> on_started_leading;
  // Leadership ended (lost, Stop() or Release()) after on_started_leading: stop reconciling.
  // Never called for an elector that did not lead. Required.
  std::function<void()> on_stopped_leading;
  // The holder this elector observes changed (this elector's own identity included; not called
  // for an empty holder, i.e. a released Lease). Optional.
  std::function<void(const std::string& identity)> on_new_leader;
  // The leader_election_master_status gauge: false when Start() runs and whenever leading stops,
  // true when it starts. Optional.
  std::function<void(bool leading)> set_master_status;
};

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  // Unique per candidate. Empty: DefaultLeaderIdentity().
  std::string identity;
  // How long a standby waits, from its last sight of a change of the Lease, before taking over.
  // Whole seconds are written to the Lease (leaseDurationSeconds); at least 1 s.
  absl::Duration lease_duration = absl::Seconds(15);
  // How long the leader keeps leading without a successful renewal.
  absl::Duration renew_deadline = absl::Seconds(10);
  // The pause between attempts to acquire (before jitter) and between renewals.
  absl::Duration retry_period = absl::Seconds(2);
  LeaderCallbacks callbacks;
};

// client-go's JitterFactor: acquisition retries wait RetryPeriod × (1 + [0, 1.2)), and
// RenewDeadline must exceed RetryPeriod × 1.2.
inline constexpr double kLeaderElectionJitterFactor = 1.2;

// "<hostname>_<random UUID v4>".
std::string DefaultLeaderIdentity();

// client-go's rules: lease_duration > renew_deadline > kLeaderElectionJitterFactor × retry_period,
// all positive; both required callbacks set; a non-empty identity (after defaulting). Ours: valid
// UTF-8 in the identity, a lease name and namespace, and lease_duration >= 1 s. InvalidArgument
// naming the rule otherwise.
[[nodiscard]] absl::Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config);

class LeaderElector {
 public:
  // Validates `config` (ValidateLeaderElectionConfig) and fills in a default identity. Does not
  // start campaigning.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LeaderElector>> Create(
      KubeClient& client, LeaderElectionConfig config, Clock& clock = RealClock::Get());

  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;
  // Stop() (without releasing the Lease).
  ~LeaderElector();

  // Starts campaigning (the first attempt is immediate). Call once. Start, Stop and Release are
  // for the owner's thread.
  void Start();

  // Stops campaigning or renewing without touching the Lease (a standby takes over once it
  // expires). If leading, calls on_stopped_leading and set_master_status(false). Idempotent; not
  // restartable.
  void Stop();

  // Stop(), then, if the Lease last read names this elector as holder, gives it up so a standby
  // takes over at once. OK also when there was nothing to release or the Lease had meanwhile
  // changed (409/404: it is no longer ours); any other failure to write is returned.
  [[nodiscard]] absl::Status Release();

  // Whether this elector leads now: between on_started_leading and on_stopped_leading.
  bool IsLeader() const ABSL_LOCKS_EXCLUDED(mu_);
  // The holder of the Lease as last read or written by this elector ("" if none yet).
  std::string GetLeader() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& identity() const { return config_.identity; }

 private:
  // The Lease's spec as leader election reads and writes it.
  struct Record {
    std::string holder;
    int64_t lease_duration_seconds = 0;
    std::string acquire_time;  // MicroTime strings, kept verbatim
    std::string renew_time;
    int64_t transitions = 0;
    friend bool operator==(const Record&, const Record&) = default;
  };
  enum class Attempt { kHeld, kHeldByOther, kFailed };

  LeaderElector(KubeClient& client, LeaderElectionConfig config, Clock& clock);

  static Record RecordOf(const nlohmann::json& lease);
  static nlohmann::json SpecOf(const Record& record);
  // `lease` with `record` written into its spec.
  static nlohmann::json WithSpec(nlohmann::json lease, const Record& record);

  void Run();
  void Watchdog();
  // client-go's tryAcquireOrRenew: one attempt to create, take over or renew the Lease.
  Attempt TryAcquireOrRenew();
  // Sets the observed record and the local time it was observed: always after our own write
  // (`written`), else only if the record read differs from the one observed (client-go's
  // observedRawRecord comparison), so an unchanged Lease keeps ageing.
  void Observe(const Record& record, absl::Time now, bool written) ABSL_LOCKS_EXCLUDED(mu_);
  bool HoldsLease() const ABSL_LOCKS_EXCLUDED(mu_);
  bool LeaseValid(absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls on_new_leader when the observed holder changed since the last report.
  void ReportTransition();
  // Waits `d` on the clock; false (at once) when stopped or leadership was lost.
  bool WaitUnlessStopped(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  void BecomeLeader(absl::Time renew_deadline_at) ABSL_LOCKS_EXCLUDED(mu_, callback_mu_);
  // Ends leadership (if leading) for good; with `only_past_deadline`, only if the renewal deadline
  // has indeed passed.
  void LoseLeadership(const std::string& why, bool only_past_deadline)
      ABSL_LOCKS_EXCLUDED(mu_, callback_mu_);

  KubeClient& client_;
  const LeaderElectionConfig config_;
  Clock& clock_;

  // Held while a callback runs, so callbacks never overlap and keep their order. Taken before mu_.
  absl::Mutex callback_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  // While leading: leadership ends when Now() reaches this without a successful renewal.
  absl::Time renew_deadline_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  Record observed_ ABSL_GUARDED_BY(mu_);
  absl::Time observed_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  // Used by the loop thread only, and by Release() after that thread has been joined.
  std::optional<nlohmann::json> lease_;  // the Lease as last read or written (resourceVersion)
  std::string reported_leader_;

  std::thread run_thread_;
  std::thread watchdog_thread_;
};

}  // namespace cohort::op
