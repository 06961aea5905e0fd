// The common path of every ingest API after its own parsing and authentication: mapping rules →
// per-actor rate limits → the dedup window → the write-ahead log. An endpoint (Amplitude, Dify,
// native) turns a request into Events with their project set, calls Submit, and answers from the
// outcome; the outcome arrives once the new events are durable (fdatasynced), so an endpoint that
// answers 2xx on kStored keeps the pipeline's promise.
//
// A request is all or nothing: if any of its actors is over its rate, nothing is written and the
// outcome names the throttled actors (the endpoint answers 429 and the client resends the whole
// request); if the log refuses, nothing is acknowledged (503/500). Events dropped by a mapping
// rule and duplicates within the dedup window count as accepted but are not written again.
//
// Thread-safe: Submit may be called from any number of I/O threads. Everything referenced in the
// options must outlive the intake.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ingest/admission/actor_rate_limiter.h"
#include "ingest/admission/dedup_window.h"
#include "ingest/event/event.h"
#include "ingest/server/durable_writer.h"
#include "ingest/server/ingest_metrics.h"

namespace cohort::ingest {

// Mapping rules as one function: edits `event` in place and returns false to drop it.
using EventMapper = std::function<bool(Event& event)>;

struct EventIntakeOptions {
  EventMapper mapper;  // empty: no mapping rules
  ActorRateLimiter* limiter = nullptr;
  DedupWindow* dedup = nullptr;
  DurableWriter* writer = nullptr;
  // Counts each event's outcome (stored, duplicate, dropped, throttled, unavailable, failed)
  // under its source. Null: not counted.
  IngestMetrics* metrics = nullptr;
};

struct IntakeOutcome {
  enum class Kind {
    kStored,       // every event kept by the rules is durable (or was a duplicate)
    kThrottled,    // nothing written: `throttled` lists the actors over their rate
    kUnavailable,  // nothing written: the log refuses (disk cap) or the write queue is full
    kFailed,       // a log error: the events may or may not be stored (a retry is harmless)
    kInvalid,      // nothing written: `invalid_events` were left without identity by the rules
                   // (only with SubmitOptions::require_identity)
  };
  Kind kind = Kind::kStored;
  absl::Status status;  // kUnavailable and kFailed: why (for logs, never for clients verbatim)
  std::vector<ThrottledActor> throttled;
  // kThrottled: the indexes (into Submit's `events`) of the events whose device or user is
  // throttled, ascending.
  std::vector<int64_t> throttled_events;
  // kInvalid: the indexes (into Submit's `events`) of the events that have neither a user_id nor
  // a device_id after the mapping rules, ascending.
  std::vector<int64_t> invalid_events;
  int64_t written = 0;     // events appended to the log
  int64_t duplicates = 0;  // events the dedup window had already seen
  int64_t dropped = 0;     // events a mapping rule dropped
};

// What dedup keys an event by: its project, its device (or, without one, its user) and its
// insert id. An event without an insert id is never a duplicate.
DedupKey DedupKeyOf(const Event& event);

struct SubmitOptions {
  // Refuse the request (kInvalid) if the mapping rules leave an event without both user_id and
  // device_id: for APIs whose identity comes from rules (native), since an event without an actor
  // counts toward no number and no rate limit, and Amplitude refuses it.
  bool require_identity = false;
};

class EventIntake {
 public:
  using Done = std::function<void(IntakeOutcome)>;

  explicit EventIntake(EventIntakeOptions options);
  EventIntake(const EventIntake&) = delete;
  EventIntake& operator=(const EventIntake&) = delete;

  // Runs `events` (project already set, one project per call: a request's API key names it)
  // through the path above. `done` runs exactly once, on the
  // calling thread when nothing needs the log (throttled, all dropped or duplicates, queue full)
  // and on a log writer thread otherwise.
  void Submit(std::vector<Event> events, Done done, SubmitOptions submit = {});

  const ActorRateLimiter& limiter() const { return *options_.limiter; }

 private:
  const EventIntakeOptions options_;
};

}  // namespace cohort::ingest
