// Funnels on the ClickHouse backend (analytics.md, "Funnels"; docs/metrics.md), with the same
// answers as analytics/store/funnel_query.h and the reference, to the bit.
//
// - ordered / strict: in SQL. Per actor the step-matching events (and, for strict, the active
//   ones) of [from_ms, to_ms + window_ms) as one array sorted in total order (time, insert_id,
//   device_id, user_id) with groupArray + arraySort; the chains of every in-range step-1 candidate
//   are followed with array lambdas, one arrayMap per step (earliest match after the previous
//   one, within the candidate's window; strict: no active event in between); the actor keeps the
//   earliest candidate reaching furthest. ClickHouse returns per actor the reached steps' times
//   and the candidate's group-by value.
// - unordered: the step-matching events of the same span, per actor in total order (ORDER BY),
//   with their step masks; the assignment (Hall's condition over the masks, smallest step by
//   step) runs in C++, as in the embedded store.
// - Per step: actors, conversions, Σ gaps / n as one double division and the lower median, in
//   C++ from the per-actor times; group-by labels (PropertyValue::Label of the step-1 event's
//   value, "(none)" when missing) are made in C++ from the typed columns.
//
// Errors: kUnimplemented for user-property filters or a user-property group-by; kInvalidArgument
// for more than 16 steps or none; the executor's errors.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// With `cells` (drill-down), also the page of the actors of a group (row -1: all) that reached
// step cells->cell().column.
// `table` holds the schema's events ("events" or "db.events"), written into the SQL as is.
[[nodiscard]] absl::StatusOr<FunnelResult> RunFunnel(const FunnelQuery& query, SqlExecutor& sql,
                                                     const std::string& table,
                                                     CellActorsRequest* cells = nullptr);

}  // namespace cohort::analytics::clickhouse
