// Retention on the ClickHouse backend (analytics.md, "Retention"; docs/metrics.md), with the same
// answers as analytics/store/retention_query.h and the reference, to the bit.
//
// In SQL, per actor (its events of the project before max(to_ms, as_of_ms), deduplicated, as one
// array in total order — groupArray + arraySort): day 0 (t0) is the first in-range event passing
// `start` (kNewUserEvent: the first-ever active event, which must lie in the range and pass the
// start filters); the returns are the other events passing `returned` at or after t0 and before
// as_of_ms, each reduced to its day number N: ⌊(t − t0) / 24 h⌋ for rolling days, or the
// difference of calendar-day indexes for calendar days, where a day index is the count of the
// query zone's day starts at or before the time — day starts computed in C++ (Calendar) and passed
// in as a literal array covering every day a cell can reach. Day numbers above the last day any
// cell reads are capped to one past it. ClickHouse returns per cohort actor t0 and its distinct
// return days; rows, cells, completeness (a cell's last day ends at or before as_of_ms) and the
// total are summed in C++.
//
// Errors: kUnimplemented for user-property filters; kInvalidArgument for an unknown time zone;
// the executor's errors.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// With `cells` (drill-down), also the page of a row's (or, row -1, the total's) cohort
// (column 0) or the retained actors of its cells[column - 1].
// `table` holds the schema's events ("events" or "db.events"), written into the SQL as is.
// Brackets must be well-formed (query_json.h validates them).
[[nodiscard]] absl::StatusOr<RetentionResult> RunRetention(const RetentionQuery& query,
                                                           SqlExecutor& sql,
                                                           const std::string& table,
                                                           CellActorsRequest* cells = nullptr);

}  // namespace cohort::analytics::clickhouse
