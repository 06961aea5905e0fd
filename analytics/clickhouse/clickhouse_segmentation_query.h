// Event segmentation on the ClickHouse backend (analytics.md, "Formulas"; docs/metrics.md,
// "Segmentation"; query.h, SegmentationQuery): per event series, the matching events (totals) or
// distinct actors (uniques) in each bucket and over the range, optionally per group of one event
// property, and formulas over the series (evaluated in C++ with model/formula.h from the SQL
// counts, as the reference does).
//
// SQL does the counting: one query gives, per (series, label, bucket) and per (series, label) over
// the range, the event count and the distinct actors. Labels are PropertyValue::Label, made in C++
// from the value's kind, text and number bits (a first query lists the distinct values), so
// "3" and 3 — two values, one label — are one group and its uniques are exact. The groups (top
// `limit` by the sum over the series of the label's range total, then label bytes) are chosen in
// C++; a third query counts the distinct actors of "(other)" when some labels merged into it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// With `cells` (drill-down), also the page of the actors of one event series row (series of
// the result; formulas have none) in bucket cells->cell().column, or -1 for the range total.
// Errors: kInvalidArgument naming "time_zone" for a zone not in the tz database, or
// "formulas[i]" for a formula that does not parse; kUnimplemented for a user-property filter or
// group-by (not supported by the ClickHouse backend yet); the executor's errors (sql_executor.h);
// kInternal for an answer that does not parse.
[[nodiscard]] absl::StatusOr<SegmentationResult> RunSegmentation(
    const SegmentationQuery& query, SqlExecutor& sql, const std::string& table,
    CellActorsRequest* cells = nullptr);

}  // namespace cohort::analytics::clickhouse
