// Kubernetes Events (events.k8s.io/v1) for what reconcilers do — "Created Deployment x",
// "ReconcileFailed: ..." — aggregated rather than spammed, after client-go's tools/events
// broadcaster:
//
//   - The first occurrence creates an Event (eventTime, regarding, reason, action, note, type,
//     reportingController, reportingInstance), named "<regarding name>.<hex nanoseconds>" in the
//     regarding object's namespace ("default" for a cluster-scoped object).
//   - Occurrences identical to it (same regarding object, type, reason, action and note) while the
//     series is alive — each within `series_window` (6 min) of the previous one — are counted into
//     that Event's `series` {count, lastObservedTime}, written by a merge PATCH, never a new Event.
//     Unlike client-go, which writes a series' count only every 30 min or when the series ends,
//     a changed count is written at most every `series_update_interval` (10 s) per Event, and at
//     once by Flush()/Stop(). A PATCH that finds the Event gone (Events expire, by default after
//     1 h) creates a new one carrying the series.
//   - Writes (creates and PATCHes) are rate-limited per regarding object by a token bucket (1 qps,
//     burst 25 by default; buckets kept for the `max_tracked` most recently used objects). A new
//     Event over the limit is dropped and counted; a series update over the limit waits.
//   - Record() never blocks on the API: it queues the occurrence (a bounded queue, 1000 by default;
//     when full the occurrence is dropped and counted) and a background thread does the rest.
//     Failed writes are logged and counted, not retried beyond the next series update.
//   - reason and action are cut to 128 bytes and note to 1 KiB (the API server's limits), at a
//     UTF-8 character boundary; invalid UTF-8 is replaced by U+FFFD.
//
// Callers must never put secret values (tokens, keys, passwords, Secret data) in a note, reason
// or action: Events are readable by anyone who can list Events in the namespace.
//
// Thread-safe: Record() from any thread. Borrows the client and the clock, which must outlive the
// recorder. The destructor calls Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
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

// The object an Event is about (corev1.ObjectReference; the fields Events use).
struct ObjectReference {
  std::string api_version;
  std::string kind;
  std::string ns;  // empty for a cluster-scoped object
  std::string name;
  std::string uid;

  // From an object's apiVersion, kind and metadata (namespace, name, uid); missing fields empty.
  static ObjectReference From(const nlohmann::json& object);

  friend bool operator==(const ObjectReference&, const ObjectReference&) = default;
};

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  // Required: a qualified name (as label keys), e.g. "cohort.dev/cohort-operator".
  std::string reporting_controller;
  // Empty: "<reporting_controller>-<hostname>" (client-go's default). At most 128 bytes.
  std::string reporting_instance;
  size_t queue_capacity = 1000;
  double per_object_qps = 1;
  int per_object_burst = 25;
  // How many series and how many objects' rate limiters are remembered (each an LRU).
  size_t max_tracked = 4096;
  // An occurrence joins the series if the previous one was at most this long ago.
  absl::Duration series_window = absl::Minutes(6);
  // The shortest time between two writes of one Event's series.
  absl::Duration series_update_interval = absl::Seconds(10);
};

struct EventRecorderStats {
  uint64_t recorded = 0;              // occurrences queued by Record()
  uint64_t created = 0;               // Events created
  uint64_t series_updates = 0;        // series PATCHes that succeeded
  uint64_t dropped_queue_full = 0;    // queue full, Record() after Stop(), or Stop() timed out
  uint64_t dropped_rate_limited = 0;  // new Events over the per-object limit
  uint64_t dropped_invalid = 0;       // Record() without a reason or an action
  uint64_t write_errors = 0;          // failed creates and PATCHes
};

class EventRecorder {
 public:
  // Checks the options (InvalidArgument) and starts the background thread.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EventRecorder>> Create(
      KubeClient& client, EventRecorderOptions options, Clock& clock = RealClock::Get());

  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;
  ~EventRecorder();

  // Records one occurrence. `reason`: CamelCase, why (e.g. "ReconcileFailed"); `action`: what was
  // done or failed (e.g. "Apply"); `note`: for humans. Never blocks on I/O; never fails (drops are
  // counted in stats()).
  void Record(const ObjectReference& regarding, EventType type, std::string_view reason,
              std::string_view action, std::string_view note) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until every occurrence recorded before the call has been written, or its write failed
  // (counted in write_errors) — series counts included, whatever the update interval or rate
  // limit. DeadlineExceeded if that takes longer than `timeout` on the clock.
  [[nodiscard]] absl::Status Flush(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops taking occurrences, writes what is pending for up to `timeout`, and ends the background
  // thread (after the request in flight, if any). Idempotent; for the owner's thread.
  void Stop(absl::Duration timeout = absl::Seconds(5)) ABSL_LOCKS_EXCLUDED(mu_);

  EventRecorderStats stats() const;
  const std::string& reporting_instance() const { return options_.reporting_instance; }

 private:
  struct Occurrence {
    ObjectReference regarding;
    EventType type;
    std::string reason;
    std::string action;
    std::string note;
    absl::Time time;
  };
  class Worker;

  EventRecorder(KubeClient& client, EventRecorderOptions options, Clock& clock);
  void Run();

  KubeClient& client_;
  const EventRecorderOptions options_;
  Clock& clock_;

  mutable absl::Mutex mu_;
  std::deque<Occurrence> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t flush_requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t flushed_ ABSL_GUARDED_BY(mu_) = 0;

  struct Counters {
    std::atomic<uint64_t> recorded{0}, created{0}, series_updates{0}, dropped_queue_full{0},
        dropped_rate_limited{0}, dropped_invalid{0}, write_errors{0};
  };
  Counters counters_;

  std::unique_ptr<Worker> worker_;  // the background thread's state; used by that thread only
  std::thread thread_;
};

}  // namespace cohort::op
