#include "analytics/clickhouse/clickhouse_query_executor.h"

#include <type_traits>
#include <utility>
#include <variant>

#include "analytics/clickhouse/clickhouse_active_users_query.h"
#include "analytics/clickhouse/clickhouse_experiment_query.h"
#include "analytics/clickhouse/clickhouse_funnel_query.h"
#include "analytics/clickhouse/clickhouse_retention_query.h"
#include "analytics/clickhouse/clickhouse_segmentation_query.h"
#include "analytics/clickhouse/clickhouse_sessions_query.h"
#include "analytics/clickhouse/clickhouse_stickiness_query.h"
#include "analytics/model/drill_down.h"

namespace cohort::analytics::clickhouse {
namespace {

template <typename T>
absl::StatusOr<Result> Wrap(absl::StatusOr<T> result) {
  if (!result.ok()) return result.status();
  return Result(*std::move(result));
}

}  // namespace

absl::StatusOr<Result> Execute(const Query& query, SqlExecutor& sql, const std::string& table,
                               CellActorsRequest* cells) {
  return std::visit(
      [&](const auto& q) -> absl::StatusOr<Result> {
        using T = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<T, ActiveUsersQuery>) {
          return Wrap(RunActiveUsers(q, sql, table, cells));
        } else if constexpr (std::is_same_v<T, SessionsQuery>) {
          return Wrap(RunSessions(q, sql, table, cells));
        } else if constexpr (std::is_same_v<T, SegmentationQuery>) {
          return Wrap(RunSegmentation(q, sql, table, cells));
        } else if constexpr (std::is_same_v<T, RetentionQuery>) {
          return Wrap(RunRetention(q, sql, table, cells));
        } else if constexpr (std::is_same_v<T, FunnelQuery>) {
          return Wrap(RunFunnel(q, sql, table, cells));
        } else if constexpr (std::is_same_v<T, StickinessQuery>) {
          return Wrap(RunStickiness(q, sql, table, cells));
        } else {
          static_assert(std::is_same_v<T, ExperimentQuery>);
          return Wrap(RunExperiment(q, sql, table, cells));
        }
      },
      query);
}

absl::StatusOr<ActorsPage> DrillDown(const Query& query, CellRef cell, const std::string& after,
                                     int limit, SqlExecutor& sql, const std::string& table) {
  if (absl::Status st = CheckPageLimit(limit); !st.ok()) return st;
  CellActorsRequest cells(NormalizedCell(query, cell), after, limit);
  absl::StatusOr<Result> result = Execute(query, sql, table, &cells);
  if (!result.ok()) return result.status();
  if (!ResultHasCell(query, *result, cells.cell())) return NoSuchCellError(cell);
  return cells.page();
}

}  // namespace cohort::analytics::clickhouse
