// The store's tables in ClickHouse and their migrations (README.md, "Schema").
//
// In database `database`:
//   events             the events, one row per copy received (duplicates included; queries
//                      deduplicate by (group_is_user, group_id, insert_id), first arrival wins):
//                      MergeTree PARTITION BY the UTC month of time_ms, ORDER BY (project,
//                      group_is_user, group_id, time_ms, insert_id). Columns: EventsColumnsSql().
//                      Version 2 added the uop_* columns (clickhouse_event_row.h): rows written
//                      before it read empty ones, so their $identify operations and their own
//                      user properties are not seen by user-property queries (the
//                      user_properties JSON column still holds them).
//   schema_migrations  (version UInt32, applied_ms Int64), MergeTree ORDER BY version: one row per
//                      applied migration (more than one when two starts raced; harmless).
// With a cluster (`cluster` set, a <remote_servers> name in the servers' config):
//   events_local       the MergeTree above, on each shard;
//   events             Distributed(cluster, database, events_local, cityHash64(project, group_id)),
//                      which queries and inserts use (inserts: set insert_distributed_sync=1 in the
//                      client's settings to have rows readable when the insert returns).
// 18.16 has no ON CLUSTER without ZooKeeper, so with a cluster MigrateSchema runs against every
// shard's server in turn (each gets events_local, events and schema_migrations).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/clickhouse/sql_executor.h"

namespace cohort::analytics::clickhouse {

struct ClickHouseSchemaOptions {
  std::string database;  // required: letters, digits and '_', not starting with a digit
  std::string cluster;   // '' = a single server; else a <remote_servers> cluster name
};

// The latest schema version MigrateSchema brings a database to.
inline constexpr uint32_t kSchemaVersion = 2;

// "db.events": the table queries and inserts use (the Distributed one with a cluster).
std::string EventsTable(const ClickHouseSchemaOptions& options);
// "db.events" or, with a cluster, "db.events_local": the MergeTree that holds this server's rows
// (deletion mutations and partition drops work on it).
std::string LocalEventsTable(const ClickHouseSchemaOptions& options);

// The column list of the events table at kSchemaVersion, "(project String, ...)".
std::string EventsColumnsSql();

// Creates the database and the tables if they do not exist, then applies the migrations not yet
// recorded in schema_migrations in order and records them. Idempotent; safe when several
// processes start at once (every migration statement is idempotent, a lost creation race —
// ClickHouse's "already exists" — counts as done, and a version recorded twice is harmless).
// Errors: kInvalidArgument for bad options; the executor's errors.
[[nodiscard]] absl::Status MigrateSchema(SqlExecutor& executor,
                                         const ClickHouseSchemaOptions& options);

// The versions recorded in schema_migrations, ascending, each once.
[[nodiscard]] absl::StatusOr<std::vector<uint32_t>> AppliedSchemaVersions(
    SqlExecutor& executor, const ClickHouseSchemaOptions& options);

// Errors: kInvalidArgument when `name` is not an identifier (letters, digits, '_', not starting
// with a digit) we can put into SQL unquoted.
[[nodiscard]] absl::Status CheckIdentifier(std::string_view what, std::string_view name);

}  // namespace cohort::analytics::clickhouse
