// cohort-ingest's own series (ingest_metrics.h).
#include "ingest/server/ingest_metrics.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace cohort::ingest {

std::string_view EventOutcomeName(EventOutcome outcome) {
  switch (outcome) {
    case EventOutcome::kStored:
      return "stored";
    case EventOutcome::kDuplicate:
      return "duplicate";
    case EventOutcome::kDropped:
      return "dropped";
    case EventOutcome::kThrottled:
      return "throttled";
    case EventOutcome::kUnavailable:
      return "unavailable";
    case EventOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

// 100 µs to 10 s: a request's time is mostly its fdatasync (≈ 1 ms on an SSD).
std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace

IngestMetrics::IngestMetrics(Registry& registry)
    : registry_(registry),
      rejected_requests_(registry.AddCounterFamily(
          "cohort_ingest_rejected_requests_total",
          "Requests refused as a whole before their events were looked at, by API and reason.",
          {"source", "reason"})),
      requests_(registry.AddCounterFamily(
          "cohort_ingest_requests_total",
          "HTTP answers of the ingest listener by route and status.", {"route", "code"})),
      request_duration_(registry.AddHistogramFamily(
          "cohort_ingest_request_duration_seconds",
          "Time from a request's header being parsed to its answer starting, by route.", {"route"},
          LatencyBuckets())),
      secret_reload_failures_(registry.AddCounterFamily(
          "cohort_ingest_secret_reload_failures_total",
          "Rereads of a mounted secret file that failed; the previous value stays in service.",
          {"file"})) {
  CounterFamily& events = registry.AddCounterFamily(
      "cohort_ingest_events_total", "Events received, by API and by what became of them.",
      {"source", "outcome"});
  for (int s = 0; s < kEventSourceCount; ++s) {
    for (int o = 0; o < kEventOutcomeCount; ++o) {
      events_[s][o] = &events.WithLabels(
          std::vector<std::string>{std::string(EventSourceName(static_cast<EventSource>(s))),
                                   std::string(EventOutcomeName(static_cast<EventOutcome>(o)))});
    }
  }
}

void IngestMetrics::ObserveResponse(const std::string& route, int status, absl::Duration latency) {
  const std::string name = route.empty() ? std::string("none") : route;
  requests_.WithLabels(std::vector<std::string>{name, absl::StrCat(status)}).Inc();
  request_duration_.WithLabels(std::vector<std::string>{name}).Observe(latency);
}

void IngestMetrics::CountRejectedRequest(EventSource source, std::string_view reason) {
  rejected_requests_
      .WithLabels(
          std::vector<std::string>{std::string(EventSourceName(source)), std::string(reason)})
      .Inc();
}

void IngestMetrics::CountSecretReloadFailure(std::string_view file) {
  secret_reload_failures_.WithLabels(std::vector<std::string>{std::string(file)}).Inc();
}

}  // namespace cohort::ingest
