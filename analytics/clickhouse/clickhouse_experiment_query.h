// Experiments on the ClickHouse backend (analytics.md, "Experiments"; docs/metrics.md, "Experiment
// metrics" and "Experiments (statistics)"), with the same answers as
// analytics/store/experiment_query.h and the reference, to the bit.
//
// In SQL, per actor (its deduplicated in-range exposure and goal events as one array in total
// order — groupArray + arraySort): the first exposure (an `exposure_event` carrying the event
// property `variant_property`), the distinct typed values of `variant_property` over its
// exposures (one row each, ARRAY JOIN), whether a goal event lies strictly after the first
// exposure and at most window_ms after it, and, for a mean metric, those goal events'
// NumericValue(sum_property) (0 when missing or not numeric) in total order. In C++: variant
// labels (PropertyValue::Label, so a number 1 and a string "1" are one variant), actors naming more
// than one variant counted in multiple_exposures, per-actor sums in total order and the arms' Σx,
// Σx² in actor-id order (the reference's order, so the doubles agree exactly — ClickHouse's sum()
// fixes no order), then analytics/stats exactly as the reference and the embedded store do.
//
// Errors: kInvalidArgument naming "time_zone", "confidence", "expected_split" or "msprt_tau2" as
// the reference; kUnimplemented for user-property filters in `goal`; the executor's errors.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_cell_actors.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// With `cells` (drill-down), also the page of a variant's exposed (column 0) or converted
// (column 1) actors.
// `table` holds the schema's events ("events" or "db.events"), written into the SQL as is.
[[nodiscard]] absl::StatusOr<ExperimentResult> RunExperiment(const ExperimentQuery& query,
                                                             SqlExecutor& sql,
                                                             const std::string& table,
                                                             CellActorsRequest* cells = nullptr);

}  // namespace cohort::analytics::clickhouse
