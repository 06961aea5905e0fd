// Sessions on the ClickHouse backend (analytics.md, "Sessions"; docs/metrics.md): per bucket of the
// query interval, the sessions that start in it (count, average length, length histogram), and
// the same over the range — one SQL query over DedupedEventsSql.
//
// Sessions are made of active events only: those with a session id >= 0 form the session (actor,
// session id); those with -1 belong to none; those without a session id are split per actor where
// the gap between consecutive events exceeds timeout_ms (arrays per actor: 18.16 has no window
// functions). A session counts in the bucket of its start when the start lies in the range, with
// its full length. Averages are Σ length ms / (1000 · n), one double division in C++.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// With `cells` (drill-down), also the page of the actors whose sessions start in bucket
// cells->cell().column.
// query.length_buckets_s must ascend (query_json.h validates it). Errors: kInvalidArgument naming
// "time_zone" for a zone not in the tz database; the executor's errors (sql_executor.h); kInternal
// for an answer that does not parse.
[[nodiscard]] absl::StatusOr<SessionsResult> RunSessions(const SessionsQuery& query,
                                                         SqlExecutor& sql, const std::string& table,
                                                         CellActorsRequest* cells = nullptr);

}  // namespace cohort::analytics::clickhouse
