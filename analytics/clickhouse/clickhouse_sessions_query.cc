#include "analytics/clickhouse/clickhouse_sessions_query.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {
namespace {

Number Average(int64_t sum_ms, int64_t count) {
  if (count == 0) return std::nullopt;
  return static_cast<double>(sum_ms) / (1000.0 * static_cast<double>(count));
}

// (actor, start_ms, end_ms) of every session of every actor, at any time.
std::string SessionsSql(const SessionsQuery& query, const std::string& table) {
  const std::string events = DedupedEventsSql(table, query.scope);
  const std::string active = ActiveSql(query.scope);
  std::string explicit_sessions =
      absl::StrCat("SELECT actor, min(time_ms) AS start_ms, max(time_ms) AS end_ms FROM ", events,
                   " AS e WHERE ", active,
                   " AND has_session = 1 AND session_id >= 0 GROUP BY actor, session_id");
  // Per actor: its times in order; a session starts at the first and after every gap over the
  // timeout, and ends where the next one starts.
  std::string times =
      absl::StrCat("SELECT actor, arraySort(groupArray(time_ms)) AS times FROM ", events,
                   " AS e WHERE ", active, " AND has_session = 0 GROUP BY actor");
  std::string starts = absl::StrCat(
      "SELECT actor, times, arrayMap((gap, i) -> i = 1 OR gap > ", SqlInt(query.timeout_ms),
      ", arrayDifference(times), arrayEnumerate(times)) AS is_start FROM (", times,
      ") AS actor_times");
  std::string bounds = absl::StrCat(
      "SELECT actor, arrayFilter((t, s) -> s, times, is_start) AS starts, arrayFilter((t, s) -> s, "
      "times, arrayPushBack(arrayPopFront(is_start), 1)) AS ends FROM (",
      starts, ") AS actor_starts");
  std::string implicit_sessions =
      absl::StrCat("SELECT actor, start_ms, end_ms FROM (", bounds,
                   ") AS actor_bounds ARRAY JOIN starts AS start_ms, ends AS end_ms");
  return absl::StrCat("(SELECT actor, start_ms, end_ms FROM (", explicit_sessions,
                      ") AS explicit_sessions UNION ALL ", implicit_sessions, ")");
}

}  // namespace

absl::StatusOr<SessionsResult> RunSessions(const SessionsQuery& query, SqlExecutor& sql,
                                           const std::string& table, CellActorsRequest* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = ScopeCalendar(scope);
  if (!calendar.ok()) return calendar.status();
  SessionsResult result;
  result.buckets = calendar->BucketStarts(scope.from_ms, scope.to_ms, query.interval);
  const size_t n = result.buckets.size();
  const size_t histogram_size = query.length_buckets_s.size() + 1;
  result.counts.assign(n, 0);
  result.histogram.assign(n, std::vector<int64_t>(histogram_size, 0));
  std::vector<int64_t> sum_ms(n, 0);
  int64_t total_sum_ms = 0;
  if (n > 0) {
    std::vector<std::string> limits;
    for (double s : query.length_buckets_s) limits.push_back(SqlDouble(s));
    // The histogram bucket: the number of limits below the length in seconds (the limits
    // ascend), as the reference's scan counts them.
    const std::string length_bucket =
        limits.empty() ? "toUInt64(0)"
                       : absl::StrCat("arrayCount(limit -> (end_ms - start_ms) / 1000 > limit, [",
                                      absl::StrJoin(limits, ", "), "])");
    std::string statement = absl::StrCat(
        "SELECT ", BucketIndexSql(result.buckets, "start_ms"), " AS bucket, ", length_bucket,
        " AS length_bucket, count(), sum(end_ms - start_ms) FROM ", SessionsSql(query, table),
        " AS sessions WHERE ", InRangeSql(scope, "start_ms"), " GROUP BY bucket, length_bucket");
    absl::StatusOr<std::string> tsv = sql.Query(statement, Format::kTabSeparated);
    if (!tsv.ok()) return tsv.status();
    absl::StatusOr<std::vector<std::vector<int64_t>>> rows = ParseIntRows(*tsv, 4);
    if (!rows.ok()) return rows.status();
    for (const std::vector<int64_t>& row : *rows) {
      if (row[0] < 1 || row[0] > static_cast<int64_t>(n) || row[1] < 0 ||
          row[1] >= static_cast<int64_t>(histogram_size)) {
        return absl::InternalError(absl::StrCat("sessions: ClickHouse answered bucket ", row[0],
                                                " length bucket ", row[1]));
      }
      const size_t b = static_cast<size_t>(row[0] - 1);
      result.counts[b] += row[2];
      result.histogram[b][static_cast<size_t>(row[1])] += row[2];
      sum_ms[b] += row[3];
    }
    // Drill-down: the actors whose sessions start in the bucket.
    if (cells != nullptr && cells->cell().column >= 0 &&
        static_cast<size_t>(cells->cell().column) < n) {
      absl::Status st =
          cells->FetchPage(sql, absl::StrCat("SELECT actor FROM ", SessionsSql(query, table),
                                             " AS sessions WHERE ", InRangeSql(scope, "start_ms"),
                                             " AND ", BucketIndexSql(result.buckets, "start_ms"),
                                             " = ", cells->cell().column + 1));
      if (!st.ok()) return st;
    }
  }
  for (size_t b = 0; b < n; ++b) {
    result.average_length_s.push_back(Average(sum_ms[b], result.counts[b]));
    result.total_count += result.counts[b];
    total_sum_ms += sum_ms[b];
  }
  result.total_average_length_s = Average(total_sum_ms, result.total_count);
  return result;
}

}  // namespace cohort::analytics::clickhouse
