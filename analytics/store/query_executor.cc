#include "analytics/store/query_executor.h"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/store/active_users_query.h"
#include "analytics/store/experiment_query.h"
#include "analytics/store/funnel_query.h"
#include "analytics/store/retention_query.h"
#include "analytics/store/segmentation_query.h"
#include "analytics/store/sessions_query.h"
#include "analytics/store/stickiness_query.h"

namespace cohort::analytics::store {
namespace {

bool InRange(int i, size_t n) { return i >= 0 && static_cast<size_t>(i) < n; }

// Whether `result` (of `query`) has the cell `cell` (query.h, CellRef).
bool HasCell(const Query& query, const Result& result, CellRef cell) {
  return std::visit(
      [&](const auto& r) -> bool {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, SegmentationResult>) {
          const auto& q = std::get<SegmentationQuery>(query);
          const size_t per_group = q.events.size() + q.formulas.size();
          const size_t groups = per_group == 0 ? 0 : r.series.size() / per_group;
          return InRange(cell.row, q.events.size() * groups) &&
                 (cell.column == -1 || InRange(cell.column, r.buckets.size()));
        } else if constexpr (std::is_same_v<R, ActiveUsersResult> ||
                             std::is_same_v<R, SessionsResult>) {
          return InRange(cell.column, r.buckets.size());
        } else if constexpr (std::is_same_v<R, StickinessResult>) {
          if (cell.row == -1) return InRange(cell.column, r.days.size());
          return InRange(cell.row, r.weeks.size()) && InRange(cell.column, 7);
        } else if constexpr (std::is_same_v<R, RetentionResult>) {
          if (cell.row != -1 && !InRange(cell.row, r.rows.size())) return false;
          const RetentionRow& row = cell.row == -1 ? r.total : r.rows[cell.row];
          return InRange(cell.column, row.cells.size() + 1);
        } else if constexpr (std::is_same_v<R, FunnelResult>) {
          return (cell.row == -1 || InRange(cell.row, r.groups.size())) &&
                 InRange(cell.column, r.all.steps.size());
        } else {
          static_assert(std::is_same_v<R, ExperimentResult>);
          return InRange(cell.row, r.variants.size()) && InRange(cell.column, 2);
        }
      },
      result);
}

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
  if (limit < 1) return absl::InvalidArgumentError("limit: must be at least 1");
  // Active users and sessions address their cells by column alone.
  const bool by_column = std::holds_alternative<ActiveUsersQuery>(query) ||
                         std::holds_alternative<SessionsQuery>(query);
  CellCollector cells(CellRef{by_column ? -1 : cell.row, cell.column});
  absl::StatusOr<Result> result = Execute(query, view, &cells);
  if (!result.ok()) return result.status();
  if (!HasCell(query, *result, cells.target())) {
    return absl::InvalidArgumentError(absl::StrCat("cell: the result has no cell (row ", cell.row,
                                                   ", column ", cell.column, ")"));
  }
  std::vector<const std::string*> ids;
  for (uint32_t a : cells.Actors()) ids.push_back(&view.actor_id(a));
  std::sort(ids.begin(), ids.end(),
            [](const std::string* x, const std::string* y) { return *x < *y; });
  ActorsPage page;
  auto it = std::upper_bound(ids.begin(), ids.end(), after,
                             [](const std::string& a, const std::string* id) { return a < *id; });
  for (; it != ids.end(); ++it) {
    if (static_cast<int>(page.actors.size()) == limit) {
      page.more = true;
      break;
    }
    page.actors.push_back(**it);
  }
  return page;
}

}  // namespace cohort::analytics::store
