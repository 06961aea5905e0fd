// Event segmentation (analytics.md, "Formulas"; query.h, SegmentationQuery) by brute force.
//
// Group-by decision (README.md): one set of groups for the whole query. Labels are ranked by the
// sum over the event series of their range total (totals: events; uniques: distinct actors over
// the range), descending, ties by label bytes; the top `limit` are groups, the rest merge into
// "(other)" (present only when some label was merged). Every series, event and formula alike,
// lists these groups in this order, "(other)" last, including groups with zero counts.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/answer.h"
#include "analytics/reference/timeline.h"

namespace cohort::analytics::reference {

// Errors: kInvalidArgument naming "formulas" for a formula that does not parse.
[[nodiscard]] absl::StatusOr<Answer<SegmentationResult>> Segment(const SegmentationQuery& query,
                                                                 const Timelines& timelines);

}  // namespace cohort::analytics::reference
