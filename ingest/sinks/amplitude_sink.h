// The Amplitude destination: forwards events to Amplitude's HTTP V2 API (/2/httpapi, or /batch
// while the sink drains a backlog), at least once and never dropping an event it could still
// deliver. A Sink (sink.h) run by a SinkRunner.
//
// Requests: ≤ batch_size (config, ≤ 2000) events and < 1,000,000 bytes of JSON, in Amplitude's
// upload shape {"api_key", "events": [...every field the Event carries, insert_id kept...],
// "options": {"min_id_length"} only when set}, gzip-compressed (Content-Encoding: gzip). The API
// key is read from api_key_file (first line, trimmed) and re-read whenever the file changes.
//
// Reactions to Amplitude's answers:
//   200                  delivered.
//   400 with per-event indexes (events_with_invalid_fields, events_with_missing_fields,
//                        events_with_invalid_id_lengths, silenced_events): those events go to the
//                        dead-letter file (the event, the reason, the response); the rest are
//                        sent again at once.
//   400 without indexes  the request is split in halves until the rejected event is alone; it
//                        then goes to the dead-letter file ("rejected").
//   400 "Invalid API key", 401
//                        the destination pauses (state "paused_invalid_api_key" in metrics and
//                        health()) until the key file changes; nothing is dropped.
//   413                  the request is split in halves (a single event too large for Amplitude
//                        is dead-lettered as "payload_too_large").
//   429                  the ids in throttled_users / throttled_devices are held back for
//                        Retry-After or 30 s while the other events go on; the events of ids in
//                        exceeded_daily_quota_users / _devices go to the dead-letter file
//                        ("exceeded_daily_quota"; Amplitude refuses them until its day turns, and
//                        holding them would stall the destination); a 429 naming no sent id
//                        backs off the whole request.
//   5xx, other statuses, timeouts, connection errors
//                        exponential backoff with jitter (retry_base .. retry_cap); after
//                        max_retries attempts the state is "failing" but retries go on at the
//                        cap. Never a drop.
//
// Metrics (label destination=<name>): cohort_destination_state{state} (1 for the current one of
// "ok", "retrying", "failing", "paused_invalid_api_key"), cohort_destination_requests_total
// {status} (HTTP status, or "error"). Dead letters and retries are counted through the runner.
//
// Thread-safe: Deliver runs on several runner threads at once; holds, the pause and the state are
// shared between them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/http_client.h"
#include "common/metrics.h"
#include "config/ingest_config.h"
#include "ingest/sinks/dead_letter.h"
#include "ingest/sinks/sink.h"

namespace cohort::ingest::sinks {

struct AmplitudeSinkOptions {
  std::string name;  // the destination's name (metrics, dead letters)
  config::AmplitudeDestination destination;
  std::optional<int64_t> min_id_length;  // sent as options.min_id_length only when set
  // Above this many unacknowledged log bytes the sink uses /batch (Amplitude's bulk endpoint).
  uint64_t backlog_bytes = 16 << 20;
  uint64_t max_request_bytes = 1'000'000;  // uncompressed JSON, strictly below
  absl::Duration retry_base = absl::Seconds(1);
  absl::Duration retry_cap = absl::Minutes(5);
  absl::Duration throttle_hold = absl::Seconds(30);  // without Retry-After
  // How often a paused destination (or a missing key file) looks at the key file again.
  absl::Duration key_check_interval = absl::Seconds(10);
  HttpClient* client = nullptr;           // required; must outlive the sink
  DeadLetterFile* dead_letter = nullptr;  // required
  Registry* registry = nullptr;           // required
};

class AmplitudeSink final : public Sink {
 public:
  // Errors: kInvalidArgument for missing options or batch_size outside 1..2000.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AmplitudeSink>> Create(
      AmplitudeSinkOptions options);

  // Returns OK once every event of the batch was accepted by Amplitude or dead-lettered;
  // kCancelled once control.cancelled(). Never another error: it retries by itself.
  absl::Status Deliver(const SinkBatch& batch, DeliveryControl& control) override;

  // The health hook: the current state and, unless "ok", why.
  struct Health {
    std::string state;
    std::string detail;
  };
  Health health() const;

 private:
  struct Key {
    std::string value;
    std::string fingerprint;  // of the file (inode, size, mtime) when it was read
  };
  enum class Outcome { kProgress, kBackoff, kPaused };

  explicit AmplitudeSink(AmplitudeSinkOptions options);
  // Sends what it can of `pending` (indexes into batch.events) once, removing what is done.
  Outcome Attempt(const SinkBatch& batch, std::vector<size_t>& pending, size_t& max_events,
                  DeliveryControl& control, absl::Time& wake);
  absl::StatusOr<Key> ReadKey();
  bool Held(const Event& event, absl::Time now, absl::Time& until) const;
  void Hold(const std::string& id, bool user, absl::Time until);
  // Recomputes the state from the pause and the retrying/failing counts.
  void RefreshState(const std::string& detail) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DeadLetterEvents(const SinkBatch& batch, const std::vector<size_t>& indexes,
                                const std::string& reason, const std::string& response,
                                DeliveryControl& control);

  const AmplitudeSinkOptions options_;
  const std::string base_url_;
  GaugeFamily* state_gauge_ = nullptr;
  CounterFamily* requests_ = nullptr;

  mutable absl::Mutex mu_;
  std::string state_ ABSL_GUARDED_BY(mu_);
  std::string detail_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> refused_key_fingerprint_ ABSL_GUARDED_BY(mu_);  // paused
  int failing_ ABSL_GUARDED_BY(mu_) = 0;  // deliveries past max_retries
  int retrying_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, absl::Time> holds_ ABSL_GUARDED_BY(mu_);  // "u:"/"d:" + id
  std::optional<Key> key_ ABSL_GUARDED_BY(mu_);                              // the last key read
};

}  // namespace cohort::ingest::sinks
