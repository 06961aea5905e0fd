#include "ingest/sinks/store_sink.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ingest/sinks/store_event.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest::sinks {

absl::Status StoreSink::Deliver(const SinkBatch& batch, DeliveryControl& control) {
  std::vector<analytics::Event> events;
  events.reserve(batch.events.size());
  std::vector<DeadLetter> letters;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    absl::StatusOr<analytics::Event> converted = ToStoreEvent(batch.events[i], batch.positions[i]);
    if (!converted.ok()) {
      letters.push_back(DeadLetter{.sink = options_.name,
                                   .reason = std::string(converted.status().message()),
                                   .position = batch.positions[i],
                                   .event = batch.events[i]});
      continue;
    }
    // The store needs an actor; ingest validation guarantees one, a damaged record may not.
    if (converted->user_id.empty() && converted->device_id.empty()) {
      letters.push_back(DeadLetter{.sink = options_.name,
                                   .reason = "event has neither user_id nor device_id",
                                   .position = batch.positions[i],
                                   .event = batch.events[i]});
      continue;
    }
    events.push_back(*std::move(converted));
  }
  if (!letters.empty()) {
    if (absl::Status written = options_.dead_letter->Write(letters, control.Now()); !written.ok()) {
      return written;
    }
    control.CountDeadLettered("unconvertible", static_cast<int64_t>(letters.size()));
  }
  if (!events.empty()) {
    absl::StatusOr<analytics::AppendCounts> appended = options_.store->Append(std::move(events));
    if (!appended.ok()) return appended.status();
  }
  Upkeep(control.Now());
  return absl::OkStatus();
}

void StoreSink::Upkeep(absl::Time now) {
  int64_t n = ++batches_;
  if (options_.maintain_every_batches > 0 && n % options_.maintain_every_batches == 0) {
    // A failed merge loses nothing (the inputs stay); the next one tries again.
    if (absl::Status s = options_.store->Maintain(); !s.ok()) {
      spdlog::warn("store: upkeep failed: {}", std::string(s.message()));
    }
  }
  if (options_.retention <= absl::ZeroDuration()) return;
  {
    absl::MutexLock lock(&expire_mu_);
    if (now - last_expire_ < options_.expire_every) return;
    last_expire_ = now;
  }
  // A failure keeps the old events a while longer; the next hour tries again.
  if (absl::Status s = options_.store->ExpireBefore(absl::ToUnixMillis(now - options_.retention));
      !s.ok()) {
    spdlog::warn("store: enforcing the retention period failed: {}", std::string(s.message()));
  }
}

}  // namespace cohort::ingest::sinks
