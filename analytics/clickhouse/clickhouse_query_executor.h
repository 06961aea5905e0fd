// Runs a typed query (model/query.h) on the ClickHouse backend: the dispatch from query type to
// the executors (clickhouse_*_query.h), and drill-down — the actors behind one number, computed
// by the same executor that computed the number (clickhouse_cell_actors.h). Which cells a result
// has and how pages are cut are analytics/model/drill_down.h's, shared with the embedded store.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// The query's result on `table` through `sql`; with `cells`, the executor also hands over the
// actors of its target cell. Errors: the executors' (kInvalidArgument naming the field,
// kUnimplemented for user properties, the executor's).
[[nodiscard]] absl::StatusOr<Result> Execute(const Query& query, SqlExecutor& sql,
                                             const std::string& table,
                                             CellActorsRequest* cells = nullptr);

// The actors behind cell `cell` of Execute(query)'s result: actor ids sorted by bytes, at most
// `limit` after `after` (exclusive; "" = from the start), `more` when some follow. Active users
// and sessions address cells by column alone. Errors: Execute's; kInvalidArgument naming "cell"
// when the result has no such cell, "limit" when limit < 1.
[[nodiscard]] absl::StatusOr<ActorsPage> DrillDown(const Query& query, CellRef cell,
                                                   const std::string& after, int limit,
                                                   SqlExecutor& sql, const std::string& table);

}  // namespace cohort::analytics::clickhouse
