// Funnels on the embedded store (analytics.md, "Funnels"; docs/metrics.md): per actor the best
// attempt at the query's steps, then per step the actors reaching it, conversions, and the
// average and lower-median time from the previous step, overall and per group of the step-1
// event's property. One pass over each actor's events, then a scan of its candidates.
//
// - ordered / strict: a candidate is a step-1 event inside [from_ms, to_ms); each next step takes
//   the earliest matching event strictly after the previous matched one (total order) with time
//   <= candidate time + window_ms, even past to_ms. strict stops the chain when an active event
//   lies strictly between the previous matched event and that one.
// - unordered: an anchor is an event inside the range; it reaches step j when steps 1..j can take
//   distinct events at or after it within the window, itself among them. The assignment is the
//   smallest step by step (step 1's event earliest, then step 2's ...); times between steps are
//   the gaps between consecutive assigned events in total order; group-by reads step 1's event.
// - Each actor keeps the candidate (anchor) reaching furthest, ties to the earliest.
// - Conversions are actors / step-1 actors and actors / previous actors (null when dividing by
//   0); averages are Σ ms / n, one double division; medians the lower median.
// - Group-by: the label (PropertyValue::Label, "(none)" when missing) of the step-1 event's
//   property (user scope: as of that event); groups by step-1 actors descending, then label
//   bytes; the top `limit`, the rest merged into "(other)", last.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_scan.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with query.scope.identity; the query must be valid (query_json.h:
// 2..10 steps, window_ms >= 0). Errors: kInvalidArgument for a time zone not in the tz database.
[[nodiscard]] absl::StatusOr<FunnelResult> RunFunnel(const FunnelQuery& query,
                                                     const ActorView& view,
                                                     CellCollector* cells = nullptr,
                                                     EventAccess access = EventAccess::kAuto);

}  // namespace cohort::analytics::store
