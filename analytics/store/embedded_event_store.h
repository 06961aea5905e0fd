// The embedded backend of EventStore (analytics/engine/event_store.h): the segment store on the
// local disk (segment_store.h) and the engine that answers queries from its snapshots
// (embedded_engine.h). The default for one node.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/engine/event_store.h"
#include "analytics/store/embedded_engine.h"
#include "analytics/store/segment_store.h"

namespace cohort::analytics::store {

class EmbeddedEventStore final : public EventStore {
 public:
  // Opens the store in `options.dir` (segment_store.h, Open); queries are answered as
  // `engine_options` say (embedded_engine.h: freshness).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EmbeddedEventStore>> Open(
      SegmentStoreOptions options, OpenReport* report = nullptr,
      EmbeddedEngineOptions engine_options = {});

  absl::StatusOr<AppendCounts> Append(std::vector<Event> events) override;
  absl::StatusOr<EngineAnswer> Run(const Query& query) override { return engine_.Run(query); }
  absl::StatusOr<ActorsPage> Actors(const Query& query, CellRef cell, const std::string& after,
                                    int limit) override {
    return engine_.Actors(query, cell, after, limit);
  }
  absl::StatusOr<uint64_t> DataVersion(const std::string& project) override;
  absl::StatusOr<int64_t> DeleteUser(const std::string& project,
                                     const std::string& user_id) override {
    return segments_->DeleteUser(project, user_id);
  }
  absl::Status ExpireBefore(int64_t cutoff_ms) override;
  // Merges runs of small segments (segment_store.h, Merge).
  absl::Status Maintain() override;

  SegmentStore& segments() { return *segments_; }
  // For metrics (its counters).
  const EmbeddedEngine& engine() const { return engine_; }

 private:
  EmbeddedEventStore(std::unique_ptr<SegmentStore> segments, EmbeddedEngineOptions engine_options)
      : segments_(std::move(segments)), engine_(*segments_, std::move(engine_options)) {}

  const std::unique_ptr<SegmentStore> segments_;
  EmbeddedEngine engine_;
};

}  // namespace cohort::analytics::store
