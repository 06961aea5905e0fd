// The series cohort-ingest exports on /metrics (besides the process's own, common/
// process_metrics.h, and what the sinks register):
//
//   cohort_ingest_events_total{source,outcome}      events of well-formed, authorized requests by
//       API and what became of them: stored, duplicate (seen within the dedup window), dropped
//       (a mapping rule), throttled (429), unavailable (503), failed (500)
//   cohort_ingest_rejected_requests_total{source,reason}  requests refused before their events
//       were looked at one by one: invalid (400: body, fields), unauthorized (bad or missing
//       key), too_many_events (413), no_identity (400: the mapping rules left an event without
//       user_id and device_id)
//   cohort_ingest_requests_total{route,code}        HTTP answers by route and status
//   cohort_ingest_request_duration_seconds{route}   header parsed → answer started
//   cohort_ingest_http_rejections_total{reason}     the HTTP layer's own refusals (http_server.h)
//   cohort_ingest_http_open_connections, cohort_ingest_http_in_flight_bytes
//   cohort_wal_bytes, cohort_wal_segments, cohort_wal_appended_records_total,
//   cohort_wal_appended_bytes_total, cohort_wal_syncs_total, cohort_wal_sync_seconds_total,
//   cohort_wal_refused_appends_total, cohort_wal_deleted_segments_total,
//   cohort_wal_recovery_quarantined_segments, cohort_wal_recovery_truncated_bytes
//   cohort_ingest_dedup_entries, cohort_ingest_dedup_evicted_early_total,
//   cohort_ingest_rate_limited_actors (ingest_server.cc)
//   cohort_store_heap_bytes, cohort_store_mapped_bytes   the embedded store's memory: heap, and
//       segment files read in place (page cache) (ingest_server.cc)
//   cohort_ingest_secret_reload_failures_total{file}
//   cohort_ingest_ready                              1 while /readyz answers 200
//
// Thread-safe; the registry must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/metrics.h"
#include "ingest/event/event.h"

namespace cohort::ingest {

enum class EventOutcome {
  kStored,
  kDuplicate,
  kDropped,
  kThrottled,
  kUnavailable,
  kFailed,
};
inline constexpr int kEventOutcomeCount = 6;
std::string_view EventOutcomeName(EventOutcome outcome);  // "stored", "duplicate", ...

class IngestMetrics {
 public:
  explicit IngestMetrics(Registry& registry);
  IngestMetrics(const IngestMetrics&) = delete;
  IngestMetrics& operator=(const IngestMetrics&) = delete;

  // Lock-free: the counters are looked up once, here.
  void CountEvents(EventSource source, EventOutcome outcome, int64_t n) {
    if (n > 0) {
      events_[static_cast<int>(source)][static_cast<int>(outcome)]->Inc(static_cast<double>(n));
    }
  }
  // `reason`: "invalid", "unauthorized", "too_many_events", "no_identity".
  void CountRejectedRequest(EventSource source, std::string_view reason);
  // For HttpServerOptions::on_response.
  void ObserveResponse(const std::string& route, int status, absl::Duration latency);
  void CountSecretReloadFailure(std::string_view file);

  Registry& registry() { return registry_; }

 private:
  Registry& registry_;
  std::array<std::array<Counter*, kEventOutcomeCount>, kEventSourceCount> events_{};
  CounterFamily& rejected_requests_;
  CounterFamily& requests_;
  HistogramFamily& request_duration_;
  CounterFamily& secret_reload_failures_;
};

}  // namespace cohort::ingest
