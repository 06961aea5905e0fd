#include "analytics/clickhouse/clickhouse_active_users_query.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {
namespace {

// The rows (1-based bucket index, count) of `sql` into one value per bucket (0 when absent).
absl::StatusOr<std::vector<int64_t>> CountsPerBucket(SqlExecutor& sql, const std::string& query,
                                                     size_t buckets) {
  absl::StatusOr<std::string> tsv = sql.Query(query, Format::kTabSeparated);
  if (!tsv.ok()) return tsv.status();
  absl::StatusOr<std::vector<std::vector<int64_t>>> rows = ParseIntRows(*tsv, 2);
  if (!rows.ok()) return rows.status();
  std::vector<int64_t> values(buckets, 0);
  for (const std::vector<int64_t>& row : *rows) {
    if (row[0] < 1 || row[0] > static_cast<int64_t>(buckets)) {
      return absl::InternalError(
          absl::StrCat("ClickHouse answered bucket ", row[0], " of ", buckets));
    }
    values[row[0] - 1] = row[1];
  }
  return values;
}

}  // namespace

absl::StatusOr<ActiveUsersResult> RunActiveUsers(const ActiveUsersQuery& query, SqlExecutor& sql,
                                                 const std::string& table,
                                                 CellActorsRequest* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = ScopeCalendar(scope);
  if (!calendar.ok()) return calendar.status();
  const bool rolling =
      query.metric == ActiveUsersMetric::kRolling7 || query.metric == ActiveUsersMetric::kRolling30;
  const Interval interval = rolling ? Interval::kDay : query.interval;
  ActiveUsersResult result;
  result.buckets = calendar->BucketStarts(scope.from_ms, scope.to_ms, interval);
  if (result.buckets.empty()) return result;
  const std::string events = DedupedEventsSql(table, scope);
  const std::string active = ActiveSql(scope);
  // Per metric: the (bucket, actor) rows counted, and with a drill-down the bucket's actors.
  const size_t cell = cells != nullptr ? static_cast<size_t>(cells->cell().column) : 0;
  const bool drill = cells != nullptr && cell < result.buckets.size();
  std::string statement, cell_actors;
  switch (query.metric) {
    case ActiveUsersMetric::kActive: {
      // Buckets partition the range, each clipped to it.
      const std::string rows = absl::StrCat("SELECT ", BucketIndexSql(result.buckets, "time_ms"),
                                            " AS bucket, actor FROM ", events, " AS e WHERE ",
                                            active, " AND ", InRangeSql(scope, "time_ms"));
      statement =
          absl::StrCat("SELECT bucket, uniqExact(actor) FROM (", rows, ") AS b GROUP BY bucket");
      cell_actors = absl::StrCat("SELECT actor FROM (", rows, ") AS b WHERE bucket = ", cell + 1);
      break;
    }
    case ActiveUsersMetric::kNew: {
      const std::string rows =
          absl::StrCat("SELECT ", BucketIndexSql(result.buckets, "first_ms"),
                       " AS bucket, actor FROM (SELECT actor, min(time_ms) AS first_ms FROM ",
                       events, " AS e WHERE ", active, " GROUP BY actor) AS firsts WHERE ",
                       InRangeSql(scope, "first_ms"));
      statement = absl::StrCat("SELECT bucket, count() FROM (", rows, ") AS b GROUP BY bucket");
      cell_actors = absl::StrCat("SELECT actor FROM (", rows, ") AS b WHERE bucket = ", cell + 1);
      break;
    }
    case ActiveUsersMetric::kRolling7:
    case ActiveUsersMetric::kRolling30: {
      // Day i counts the actors active in [lows[i], highs[i]): the calendar days ending on it,
      // never past the range end.
      const int days = query.metric == ActiveUsersMetric::kRolling7 ? 7 : 30;
      std::vector<int64_t> lows, highs;
      for (int64_t day : result.buckets) {
        lows.push_back(calendar->DayStart(calendar->Day(day) - (days - 1)));
        highs.push_back(std::min(calendar->NextBucketStart(day, Interval::kDay), scope.to_ms));
      }
      // (18.16 resolves no column inside an ARRAY JOIN expression: the days are made first.)
      statement = absl::StrCat(
          "SELECT day, uniqExact(actor) FROM (SELECT actor, arrayFilter(i -> ", SqlInt64Array(lows),
          "[i] <= time_ms AND time_ms < ", SqlInt64Array(highs), "[i], arrayEnumerate(",
          SqlInt64Array(lows), ")) AS days FROM ", events, " AS e WHERE ", active,
          " AND time_ms >= ", SqlInt(lows.front()), " AND time_ms < ", SqlInt(scope.to_ms),
          ") AS recent ARRAY JOIN days AS day GROUP BY day");
      if (drill) {
        cell_actors = absl::StrCat("SELECT actor FROM ", events, " AS e WHERE ", active,
                                   " AND time_ms >= ", SqlInt(lows[cell]), " AND time_ms < ",
                                   SqlInt(highs[cell]));
      }
      break;
    }
  }
  absl::StatusOr<std::vector<int64_t>> values =
      CountsPerBucket(sql, statement, result.buckets.size());
  if (!values.ok()) return values.status();
  result.values = *std::move(values);
  if (drill) {
    if (absl::Status st = cells->FetchPage(sql, cell_actors); !st.ok()) return st;
  }
  return result;
}

}  // namespace cohort::analytics::clickhouse
