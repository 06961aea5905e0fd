// Stickiness on the embedded store (analytics.md, "Active users"; docs/metrics.md): per day of the
// range DAU / rolling-30-day actives and their mean, and per ISO week the number of actors active
// on exactly N of its days — one pass over each actor's active events.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with query.scope.identity. Errors: kInvalidArgument for a time
// zone not in the tz database.
[[nodiscard]] absl::StatusOr<StickinessResult> RunStickiness(const StickinessQuery& query,
                                                             const ActorView& view,
                                                             CellCollector* cells = nullptr);

}  // namespace cohort::analytics::store
