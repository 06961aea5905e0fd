// Retention of the store's ClickHouse table: dropping whole months of events (the table's
// partitions, toYYYYMM of time_ms in UTC) that are past the retention cutoff.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_schema.h"
#include "analytics/clickhouse/sql_executor.h"

namespace cohort::analytics::clickhouse {

// Drops the partitions (months, "YYYYMM") of this server's events table (LocalEventsTable; with a
// cluster, call it for every shard's server) strictly before the UTC month of `cutoff_ms`: events
// of the cutoff's own month stay even when older than the cutoff. Returns the dropped partition
// ids, ascending (system.parts' active parts tell which exist).
//
// Errors: kInvalidArgument for bad schema options; the executor's (the partitions dropped before
// an error stay dropped).
[[nodiscard]] absl::StatusOr<std::vector<std::string>> DropExpiredPartitions(
    SqlExecutor& executor, const ClickHouseSchemaOptions& options, int64_t cutoff_ms);

}  // namespace cohort::analytics::clickhouse
