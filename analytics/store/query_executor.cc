#include "analytics/store/query_executor.h"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "analytics/model/drill_down.h"
#include "analytics/store/active_users_query.h"
#include "analytics/store/experiment_query.h"
#include "analytics/store/funnel_query.h"
#include "analytics/store/retention_query.h"
#include "analytics/store/segmentation_query.h"
#include "analytics/store/sessions_query.h"
#include "analytics/store/stickiness_query.h"

namespace cohort::analytics::store {
namespace {

template <typename T>
absl::StatusOr<Result> Wrap(absl::StatusOr<T> result) {
  if (!result.ok()) return result.status();
  return Result(*std::move(result));
}

}  // namespace

absl::StatusOr<Result> Execute(const Query& query, const ActorView& view, CellCollector* cells) {
  return std::visit(
      [&](const auto& q) -> absl::StatusOr<Result> {
        using T = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<T, ActiveUsersQuery>) {
          return Wrap(RunActiveUsers(q, view, cells));
        } else if constexpr (std::is_same_v<T, SessionsQuery>) {
          return Wrap(RunSessions(q, view, cells));
        } else if constexpr (std::is_same_v<T, SegmentationQuery>) {
          return Wrap(RunSegmentation(q, view, cells));
        } else if constexpr (std::is_same_v<T, RetentionQuery>) {
          return Wrap(RunRetention(q, view, cells));
        } else if constexpr (std::is_same_v<T, FunnelQuery>) {
          return Wrap(RunFunnel(q, view, cells));
        } else if constexpr (std::is_same_v<T, StickinessQuery>) {
          return Wrap(RunStickiness(q, view, cells));
        } else {
          static_assert(std::is_same_v<T, ExperimentQuery>);
          return Wrap(RunExperiment(q, view, cells));
        }
      },
      query);
}

absl::StatusOr<ActorsPage> DrillDown(const Query& query, const ActorView& view, CellRef cell,
                                     const std::string& after, int limit) {
  if (absl::Status st = CheckPageLimit(limit); !st.ok()) return st;
  CellCollector cells(NormalizedCell(query, cell));
  absl::StatusOr<Result> result = Execute(query, view, &cells);
  if (!result.ok()) return result.status();
  if (!ResultHasCell(query, *result, cells.target())) return NoSuchCellError(cell);
  std::vector<std::string> ids;
  for (uint32_t a : cells.Actors()) ids.push_back(view.actor_id(a));
  std::sort(ids.begin(), ids.end());
  return PageOfSortedActors(ids, after, limit);
}

}  // namespace cohort::analytics::store
