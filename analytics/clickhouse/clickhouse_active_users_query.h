// Active users on the ClickHouse backend (analytics.md, "Active users"; docs/metrics.md): active
// actors per bucket, rolling 7/30-day actives per day (looking back before the range start), and
// new users (actors whose first-ever active event falls in the bucket), each one SQL query over
// DedupedEventsSql. Bucket bounds come from analytics/time/calendar.h and go into the SQL as
// literal arrays.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// With `cells` (drill-down), also the page of the actors of bucket cells->cell().column.
// Errors: kInvalidArgument naming "time_zone" for a zone not in the tz database; the executor's
// errors (sql_executor.h); kInternal for an answer that does not parse.
[[nodiscard]] absl::StatusOr<ActiveUsersResult> RunActiveUsers(const ActiveUsersQuery& query,
                                                               SqlExecutor& sql,
                                                               const std::string& table,
                                                               CellActorsRequest* cells = nullptr);

}  // namespace cohort::analytics::clickhouse
