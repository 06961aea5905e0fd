// Retention on the embedded store (analytics.md, "Retention"; docs/metrics.md, "Retention"),
// computed per actor: its events (the view's timeline, or the segments when user-property filters
// need the properties) up to its start event and, for returns to _active under the default
// activity, its active hours (hourly_active_actors.h) instead of the rest of its events.
//
// Day 0 (t0) is the actor's first event in [from_ms, to_ms) that passes `start`; for
// kNewUserEvent it is the actor's first-ever active event, which must lie in the range and pass
// the start filters (else the actor is in no cohort). The cohort date is t0's calendar day in the
// query zone. Day N (N >= 1) is [t0 + N·24 h, t0 + (N+1)·24 h) for rolling days, or the civil day
// N days after t0's for calendar days. A return is an event after the start event (never the
// start event itself) that passes `returned` and whose time is before as_of_ms; it may lie after
// the range end. Cells: N-day — a return in day N; unbounded — a return at or after day N's start;
// bracket [a, b] — a return in days a..b. A cell of an actor is complete when its (last) day ends
// at or before as_of_ms: `out_of` counts the complete actors, `count` the retained among them,
// `incomplete` is set when some cohort actor is not complete. Rows hold the cohort dates with at
// least one actor, ascending; the total row (cohort_day 0) sums them.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with query.scope.identity; brackets must be well-formed
// (query_json.h validates them). Errors: kInvalidArgument for a time zone not in the tz database.
[[nodiscard]] absl::StatusOr<RetentionResult> RunRetention(const RetentionQuery& query,
                                                           const ActorView& view,
                                                           CellCollector* cells = nullptr);

}  // namespace cohort::analytics::store
