// Active users on the embedded store (analytics.md, "Active users"; docs/metrics.md): active
// actors per bucket, rolling 7/30-day actives per day, and new users per bucket, computed in one
// pass over each actor's events.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with query.scope.identity. Errors: kInvalidArgument for a time
// zone not in the tz database.
[[nodiscard]] absl::StatusOr<ActiveUsersResult> RunActiveUsers(const ActiveUsersQuery& query,
                                                               const ActorView& view,
                                                               CellCollector* cells = nullptr);

}  // namespace cohort::analytics::store
