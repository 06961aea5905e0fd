// Stickiness on the ClickHouse backend (analytics.md, "Active users"; docs/metrics.md): per day
// of the range DAU / rolling-30-day actives and their mean (the ratios computed in C++ from the
// SQL counts, as the reference does), and per ISO week the number of actors active on exactly N
// of its days within the range.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// With `cells` (drill-down), also the page of its cell's actors: row -1, the day's active
// actors; row w, column n - 1, the actors active on exactly n days of week w.
// Errors: kInvalidArgument naming "time_zone" for a zone not in the tz database; the executor's
// errors (sql_executor.h); kInternal for an answer that does not parse.
[[nodiscard]] absl::StatusOr<StickinessResult> RunStickiness(const StickinessQuery& query,
                                                             SqlExecutor& sql,
                                                             const std::string& table,
                                                             CellActorsRequest* cells = nullptr);

}  // namespace cohort::analytics::clickhouse
