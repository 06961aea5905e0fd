// Deleting a user's events from the store's ClickHouse tables (docs/metrics.md, "Deletion"): the
// events with that user_id and the device-only events of every device first seen with that user
// (identity: the device's earliest event carrying both ids in the order (time_ms, insert_id,
// user_id), over the deduplicated events — the first copy of each (group, insert_id) by arrival,
// as the queries see them). A device first seen with another user keeps its events.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "analytics/clickhouse/clickhouse_schema.h"
#include "analytics/clickhouse/sql_executor.h"
#include "common/clock.h"

namespace cohort::analytics::clickhouse {

struct DeleteUserOptions {
  // The servers whose local table (LocalEventsTable) gets the mutation; empty: the executor's
  // server. With a cluster, every shard's executor (the doomed groups are found once, over the
  // Distributed table, before any shard deletes).
  std::vector<SqlExecutor*> shards;
  // How long to wait for the mutations to finish (system.mutations is_done), and how often to look.
  absl::Duration timeout = absl::Minutes(5);
  absl::Duration poll_interval = absl::Milliseconds(50);
  Clock* clock = nullptr;  // for the waits; nullptr: RealClock
};

// Deletes the user's events (above) from `project` with an `ALTER TABLE ... DELETE WHERE` mutation
// on each shard and waits until every mutation of those tables is done, so the rows are gone when
// it returns. Returns the number of events deleted, counted as queries count them (each
// (group, insert_id) once, however many copies were stored); 0 (and no mutation) when there are
// none or user_id is empty.
//
// Errors: kInvalidArgument for bad schema options; kDeadlineExceeded when the mutations are not
// done within the timeout (they go on in the background; calling again is safe); the executor's.
[[nodiscard]] absl::StatusOr<int64_t> DeleteUser(SqlExecutor& executor,
                                                 const ClickHouseSchemaOptions& options,
                                                 const std::string& project,
                                                 const std::string& user_id,
                                                 const DeleteUserOptions& delete_options = {});

}  // namespace cohort::analytics::clickhouse
