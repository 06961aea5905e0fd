// Event segmentation on the embedded store (analytics.md, "Formulas"; docs/metrics.md,
// "Segmentation"; query.h, SegmentationQuery): per event series, the matching events (totals) or
// distinct actors (uniques) in each bucket of the query interval and over the range, optionally
// per group of one property, and formulas over the series.
//
// Events count when their time lies in [from_ms, to_ms); selectors match by event type
// (`_active`, `_all`) and filters, user-scope filters and group-bys reading the user properties
// as of the event. Group-by: the label is PropertyValue::Label(), "(none)" when missing. One set
// of groups per query: labels ranked by the sum over the event series of their range total
// (uniques: distinct actors over the range), descending, then label bytes; the top `limit` are
// groups, the rest merge into "(other)" (present only when some label merged), whose uniques are
// the distinct actors of the merged labels. Every series, formulas included, lists the groups in
// that order with zeros. A formula is evaluated per bucket and group from that cell's TOTALS and
// UNIQUES, and for the range total from the range totals; division by zero gives null.
//
// One pass over each actor's events collects its distinct (label, series, bucket) cells with
// their event counts; the groups are chosen after the pass and the cells folded into them.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_scan.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with query.scope.identity. Errors: kInvalidArgument for a time
// zone not in the tz database, and naming "formulas[i]" for a formula that does not parse.
[[nodiscard]] absl::StatusOr<SegmentationResult> RunSegmentation(
    const SegmentationQuery& query, const ActorView& view, CellCollector* cells = nullptr,
    EventAccess access = EventAccess::kAuto);

}  // namespace cohort::analytics::store
