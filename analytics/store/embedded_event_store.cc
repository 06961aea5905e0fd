#include "analytics/store/embedded_event_store.h"

#include <utility>

namespace cohort::analytics::store {

absl::StatusOr<std::unique_ptr<EmbeddedEventStore>> EmbeddedEventStore::Open(
    SegmentStoreOptions options, OpenReport* report, EmbeddedEngineOptions engine_options) {
  absl::StatusOr<std::unique_ptr<SegmentStore>> segments =
      SegmentStore::Open(std::move(options), report);
  if (!segments.ok()) return segments.status();
  return std::unique_ptr<EmbeddedEventStore>(
      new EmbeddedEventStore(*std::move(segments), std::move(engine_options)));
}

absl::StatusOr<AppendCounts> EmbeddedEventStore::Append(std::vector<Event> events) {
  absl::StatusOr<AppendResult> appended = segments_->Append(std::move(events));
  if (!appended.ok()) return appended.status();
  return AppendCounts{
      .stored = appended->stored, .duplicates = appended->duplicates, .expired = appended->expired};
}

absl::StatusOr<uint64_t> EmbeddedEventStore::DataVersion(const std::string& project) {
  return segments_->GetSnapshot(project).version;
}

absl::Status EmbeddedEventStore::ExpireBefore(int64_t cutoff_ms) {
  absl::StatusOr<int64_t> deleted = segments_->ExpireBefore(cutoff_ms);
  return deleted.ok() ? absl::OkStatus() : deleted.status();
}

absl::Status EmbeddedEventStore::Maintain() {
  absl::StatusOr<int> merged = segments_->Merge();
  return merged.ok() ? absl::OkStatus() : merged.status();
}

}  // namespace cohort::analytics::store
