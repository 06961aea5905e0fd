#include "analytics/clickhouse/clickhouse_stickiness_query.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_active_users_query.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"

namespace cohort::analytics::clickhouse {

absl::StatusOr<StickinessResult> RunStickiness(const StickinessQuery& query, SqlExecutor& sql,
                                               const std::string& table, CellActorsRequest* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = ScopeCalendar(scope);
  if (!calendar.ok()) return calendar.status();
  StickinessResult result;
  result.days = calendar->BucketStarts(scope.from_ms, scope.to_ms, Interval::kDay);
  result.weeks = calendar->BucketStarts(scope.from_ms, scope.to_ms, Interval::kWeek);
  result.days_active_per_week.assign(result.weeks.size(), std::vector<int64_t>(7, 0));
  if (result.days.empty()) return result;

  // DAU: active actors per day clipped to the range; MAU: the 30 calendar days ending on it.
  // Drill-down into row -1: the day's active actors, DAU's bucket.
  const bool drill_day = cells != nullptr && cells->cell().row == -1;
  ActiveUsersQuery daily{scope, ActiveUsersMetric::kActive, Interval::kDay};
  absl::StatusOr<ActiveUsersResult> dau =
      RunActiveUsers(daily, sql, table, drill_day ? cells : nullptr);
  if (!dau.ok()) return dau.status();
  ActiveUsersQuery monthly{scope, ActiveUsersMetric::kRolling30, Interval::kDay};
  absl::StatusOr<ActiveUsersResult> mau = RunActiveUsers(monthly, sql, table);
  if (!mau.ok()) return mau.status();
  if (dau->values.size() != result.days.size() || mau->values.size() != result.days.size()) {
    return absl::InternalError("stickiness: day counts differ between queries");
  }
  double sum = 0;
  int defined = 0;
  for (size_t d = 0; d < result.days.size(); ++d) {
    Number ratio;
    if (mau->values[d] > 0) {
      ratio = static_cast<double>(dau->values[d]) / static_cast<double>(mau->values[d]);
      sum += *ratio;
      ++defined;
    }
    result.dau_over_mau.push_back(ratio);
  }
  if (defined > 0) result.mean_dau_over_mau = sum / defined;

  // Per (actor, week): its distinct active days in the range; then actors per (week, days).
  const std::string per_week = absl::StrCat(
      "SELECT actor, ", BucketIndexSql(result.weeks, "time_ms"), " AS week, uniqExact(",
      BucketIndexSql(result.days, "time_ms"), ") AS days FROM ", DedupedEventsSql(table, scope),
      " AS e WHERE ", ActiveSql(scope), " AND ", InRangeSql(scope, "time_ms"),
      " GROUP BY actor, week");
  std::string statement = absl::StrCat("SELECT week, days, count() FROM (", per_week,
                                       ") AS per_week GROUP BY week, days");
  absl::StatusOr<std::string> tsv = sql.Query(statement, Format::kTabSeparated);
  if (!tsv.ok()) return tsv.status();
  absl::StatusOr<std::vector<std::vector<int64_t>>> rows = ParseIntRows(*tsv, 3);
  if (!rows.ok()) return rows.status();
  for (const std::vector<int64_t>& row : *rows) {
    const int64_t week = row[0], days = row[1];
    if (week < 1 || week > static_cast<int64_t>(result.weeks.size()) || days < 1 || days > 7) {
      return absl::InternalError(
          absl::StrCat("stickiness: ClickHouse answered week ", week, " with ", days, " days"));
    }
    result.days_active_per_week[week - 1][days - 1] = row[2];
  }
  if (cells != nullptr && !drill_day) {
    absl::Status st =
        cells->FetchPage(sql, absl::StrCat("SELECT actor FROM (", per_week,
                                           ") AS per_week WHERE week = ", cells->cell().row + 1,
                                           " AND days = ", cells->cell().column + 1));
    if (!st.ok()) return st;
  }
  return result;
}

}  // namespace cohort::analytics::clickhouse
