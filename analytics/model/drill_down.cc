#include "analytics/model/drill_down.h"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"

namespace cohort::analytics {
namespace {

bool InRange(int i, size_t n) { return i >= 0 && static_cast<size_t>(i) < n; }

}  // namespace

CellRef NormalizedCell(const Query& query, CellRef cell) {
  if (std::holds_alternative<ActiveUsersQuery>(query) ||
      std::holds_alternative<SessionsQuery>(query)) {
    cell.row = -1;
  }
  return cell;
}

bool ResultHasCell(const Query& query, const Result& result, CellRef cell) {
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

absl::Status NoSuchCellError(CellRef cell) {
  return absl::InvalidArgumentError(
      absl::StrCat("cell: the result has no cell (row ", cell.row, ", column ", cell.column, ")"));
}

absl::Status CheckPageLimit(int limit) {
  if (limit < 1) return absl::InvalidArgumentError("limit: must be at least 1");
  return absl::OkStatus();
}

ActorsPage PageOfSortedActors(const std::vector<std::string>& actors, const std::string& after,
                              int limit) {
  ActorsPage page;
  for (auto it = std::upper_bound(actors.begin(), actors.end(), after); it != actors.end(); ++it) {
    if (static_cast<int>(page.actors.size()) == limit) {
      page.more = true;
      break;
    }
    page.actors.push_back(*it);
  }
  return page;
}

}  // namespace cohort::analytics
