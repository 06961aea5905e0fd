#include "ingest/sinks/store_sink.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ingest/sinks/store_event.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest::sinks {

absl::Status StoreSink::Deliver(const SinkBatch& batch, DeliveryControl& control) {
  std::vector<analytics::Event> events;
  events.reserve(batch.size());
  std::vector<DeadLetter> letters;
  // A dead letter shows the whole event, decoded from its record (the runner checked it).
  auto dead_letter = [&](size_t i, std::string reason) {
    DeadLetter letter{
        .sink = options_.name, .reason = std::move(reason), .position = batch.positions[i]};
    if (absl::StatusOr<Event> event = DecodeEvent(batch.records.record(i)); event.ok()) {
      letter.event = *std::move(event);
    } else {
      letter.record = std::string(batch.records.record(i));
    }
    letters.push_back(std::move(letter));
  };
  EventView view;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (absl::Status decoded = DecodeEventView(batch.records.record(i), view); !decoded.ok()) {
      dead_letter(i, std::string(decoded.message()));
      continue;
    }
    absl::StatusOr<analytics::Event> converted = ToStoreEvent(view, batch.positions[i]);
    if (!converted.ok()) {
      dead_letter(i, std::string(converted.status().message()));
      continue;
    }
    // The store needs an actor; ingest validation guarantees one, a damaged record may not.
    if (converted->user_id.empty() && converted->device_id.empty()) {
      dead_letter(i, "event has neither user_id nor device_id");
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
