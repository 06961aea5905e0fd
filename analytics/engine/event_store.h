// The event store as the rest of the system sees it (issue 6, "Store"): one interface, two
// backends chosen by the pipeline's `storage` — the embedded store (analytics/store/, one node)
// and ClickHouse (analytics/clickhouse/, scale-out). The store sink writes through it, the query
// API reads through it, and both backends answer every query as analytics.md defines
// (docs/metrics.md for what it leaves open), as if duplicates had never arrived.
//
// Implementations are thread-safe: appends, queries and maintenance may run concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/model/event.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics {

struct AppendCounts {
  int64_t stored = 0;      // newly stored (ClickHouse: rows written; it dedups at query time)
  int64_t duplicates = 0;  // known duplicates dropped at append (embedded only)
  int64_t expired = 0;     // older than the retention cutoff, not stored (embedded only)
};

struct EngineAnswer {
  Result result;
  uint64_t data_version = 0;  // the data the answer was computed from (DataVersion)
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Stores `events` durably: when this returns OK a crash loses none of them, so the caller may
  // acknowledge their source (the WAL). Dedup is authoritative per (project, user_id else
  // device_id, insert_id) and the first stored copy wins, so a retried or replayed call is safe.
  // Errors: kInvalidArgument for an event without insert_id or without both ids (nothing
  // stored); kUnavailable / kInternal from the disk or the server (retry the whole call).
  [[nodiscard]] virtual absl::StatusOr<AppendCounts> Append(std::vector<Event> events) = 0;

  // Answers `query` (well formed, as query_json.h produces). Errors: kInvalidArgument for what
  // only the store can reject (a time zone it lacks, ...) with the field in the message;
  // kUnimplemented for a query part this backend cannot answer; kUnavailable when the backend
  // cannot be reached.
  [[nodiscard]] virtual absl::StatusOr<EngineAnswer> Run(const Query& query) = 0;

  // Drill-down: the actors behind one number of Run(query)'s result (query.h, CellRef), sorted
  // by id bytes, at most `limit` after `after` ("" = from the start). Errors: Run's, and
  // kInvalidArgument naming "cell" for a cell the result does not have, "limit" for limit < 1.
  [[nodiscard]] virtual absl::StatusOr<ActorsPage> Actors(const Query& query, CellRef cell,
                                                          const std::string& after, int limit) = 0;

  // A number that changes whenever the data `project`'s queries read may have changed (never
  // the same number for different data). Keys result caches.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> DataVersion(const std::string& project) = 0;

  // Deletes every event of `user_id` in `project` and the anonymous events of devices first seen
  // with it (docs/metrics.md, "Deletion"); returns when they are gone from queries and disk.
  [[nodiscard]] virtual absl::StatusOr<int64_t> DeleteUser(const std::string& project,
                                                           const std::string& user_id) = 0;

  // Retention: events older than `cutoff_ms` leave the store (the embedded store exactly; the
  // ClickHouse backend by whole months — partitions — strictly before the cutoff's month).
  [[nodiscard]] virtual absl::Status ExpireBefore(int64_t cutoff_ms) = 0;

  // Background upkeep between appends (merging small segments). Cheap when there is nothing to do.
  [[nodiscard]] virtual absl::Status Maintain() = 0;
};

}  // namespace cohort::analytics
