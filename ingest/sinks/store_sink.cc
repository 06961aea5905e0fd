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
    absl::StatusOr<analytics::store::AppendResult> appended =
        options_.store->Append(std::move(events));
    if (!appended.ok()) return appended.status();
  }
  int64_t n = ++batches_;
  if (options_.merge_every_batches > 0 && n % options_.merge_every_batches == 0) {
    // A failed merge loses nothing (the inputs stay); the next one tries again.
    if (absl::StatusOr<int> merged = options_.store->Merge(); !merged.ok()) {
      spdlog::warn("store: merging segments failed: {}", std::string(merged.status().message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace cohort::ingest::sinks
