#include "analytics/clickhouse/clickhouse_retention_query.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"
#include "analytics/clickhouse/clickhouse_query_rows.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/clickhouse/clickhouse_user_properties_sql.h"
#include "analytics/model/retention_spans.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::clickhouse {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// Per cohort actor: t0 and its distinct return day numbers ("1,3"), each in 1..last_day + 1, and
// with `with_actor` the actor.
std::string RetentionSql(const RetentionQuery& query, const std::string& table,
                         const Calendar& calendar, int last_day, bool with_actor) {
  const QueryScope& scope = query.scope;
  const bool is_new = query.start.event_type == kNewUserEvent;
  EventSelector start = query.start;
  if (is_new) start.event_type = kAnyEvent;  // the filters; the first active event is found below
  std::string day_number;
  if (query.days == RetentionDays::kRolling) {
    day_number = absl::StrCat("intDiv(tupleElement(x, 1) - r_t0, ", SqlInt(kDayMs), ")");
  } else {
    // Day starts from the first in-range day to one past the last day a cell reads.
    absl::CivilDay first = calendar.Day(scope.from_ms);
    absl::CivilDay last = calendar.Day(std::max(scope.from_ms, scope.to_ms - 1)) + last_day + 1;
    std::vector<int64_t> starts;
    for (absl::CivilDay d = first; d <= last; ++d) starts.push_back(calendar.DayStart(d));
    const std::string bounds = SqlInt64Array(starts);
    day_number = absl::StrCat("toInt64(arrayCount(b -> b <= tupleElement(x, 1), ", bounds,
                              ")) - toInt64(arrayCount(b -> b <= r_t0, ", bounds, "))");
  }
  std::string start_index =
      is_new ? "if(r_first > 0 AND tupleElement(r_ev[r_first], 5) = 1, r_first, 0)"
             : "arrayFirstIndex(x -> tupleElement(x, 5) = 1, r_ev)";
  return absl::StrCat(
      "SELECT r_t0, arrayStringConcat(arrayMap(n -> toString(n), r_days), ',') AS r_list",
      with_actor ? ", r_actor" : "",
      " FROM (SELECT r_actor, r_ev, arrayFirstIndex(x -> tupleElement(x, 7) = 1, r_ev) AS "
      "r_first, ",
      start_index, " AS r_s, tupleElement(r_ev[r_s], 1) AS r_t0, ",
      "arrayDistinct(arrayFilter(n -> n >= 1, arrayMap((x, i) -> if(i = r_s OR "
      "tupleElement(x, 6) = 0 OR tupleElement(x, 1) < r_t0, toInt64(0), least(",
      day_number, ", ", SqlInt(last_day + 1),
      ")), r_ev, arrayEnumerate(r_ev)))) AS r_days "
      "FROM (SELECT r_actor, arraySort(groupArray((r_t, r_id, r_dev, r_user, r_start, r_ret, "
      "r_active))) AS r_ev FROM (SELECT actor AS r_actor, time_ms AS r_t, insert_id AS r_id, "
      "device_id AS r_dev, user_id AS r_user, toUInt8(if(time_ms >= ",
      SqlInt(scope.from_ms), " AND time_ms < ", SqlInt(scope.to_ms), " AND ",
      SelectorSql(start, scope), ", 1, 0)) AS r_start, toUInt8(if(time_ms < ",
      SqlInt(query.as_of_ms), " AND ", SelectorSql(query.returned, scope),
      ", 1, 0)) AS r_ret, toUInt8(if(", ActiveSql(scope), ", 1, 0)) AS r_active FROM ",
      DedupedEventsSql(table, scope, UserPropertyKeys({&start, &query.returned}, std::nullopt)),
      " AS r_e WHERE time_ms < ", SqlInt(std::max(scope.to_ms, query.as_of_ms)),
      " AND (r_start = 1 OR r_ret = 1", is_new ? " OR r_active = 1" : "",
      ")) AS r_in GROUP BY r_actor) AS r_g WHERE r_s > 0) AS r_c");
}

// Cells of one row (or the total) being summed.
struct RowCells {
  int64_t size = 0;
  std::vector<RetentionCell> cells;
};

}  // namespace

absl::StatusOr<RetentionResult> RunRetention(const RetentionQuery& query, SqlExecutor& executor,
                                             const std::string& table, CellActorsRequest* cells) {
  absl::StatusOr<Calendar> calendar = Calendar::Load(query.scope.time_zone);
  if (!calendar.ok()) return calendar.status();

  // The cells as inclusive day spans [first, last].
  const std::vector<std::pair<int, int>> spans = RetentionSpans(query);
  const int last_day = RetentionLastDay(spans);

  const bool drill = cells != nullptr;
  absl::StatusOr<std::string> answer =
      executor.Query(RetentionSql(query, table, *calendar, last_day, drill), Format::kTabSeparated);
  if (!answer.ok()) return answer.status();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseTsvRows(*answer, drill ? 3 : 2);
  if (!rows.ok()) return rows.status();
  // Drill-down: the target column's actors with their cohort day; the row is picked at the end.
  std::vector<std::pair<int64_t, std::string>> column_actors;

  std::map<int64_t, RowCells> by_day;  // cohort day start → cells
  RowCells total;
  total.cells.resize(spans.size());
  for (const std::vector<std::string>& row : *rows) {
    absl::StatusOr<int64_t> t0 = ParseInt(row[0]);
    if (!t0.ok()) return t0.status();
    absl::StatusOr<std::vector<int64_t>> days = ParseIntList(row[1]);
    if (!days.ok()) return days.status();
    const absl::CivilDay day0 = calendar->Day(*t0);
    // The end of day n (exclusive).
    auto day_end = [&](int n) {
      if (query.days == RetentionDays::kRolling) return *t0 + (n + 1) * kDayMs;
      return calendar->DayStart(day0 + n + 1);
    };
    const int64_t cohort_day = calendar->DayStart(day0);
    auto [it, inserted] = by_day.try_emplace(cohort_day);
    RowCells& cohort = it->second;
    if (inserted) cohort.cells.resize(spans.size());
    for (RowCells* sums : {&cohort, &total}) ++sums->size;
    if (drill && cells->cell().column == 0) column_actors.emplace_back(cohort_day, row[2]);
    for (size_t c = 0; c < spans.size(); ++c) {
      auto [first, last] = spans[c];
      const bool complete = day_end(last) <= query.as_of_ms;
      bool retained = false;
      for (int64_t n : *days) {
        retained |= n >= first && (query.mode == RetentionMode::kUnbounded || n <= last);
      }
      for (RowCells* sums : {&cohort, &total}) {
        RetentionCell& cell = sums->cells[c];
        if (!complete) {
          cell.incomplete = true;
          continue;
        }
        ++cell.out_of;
        cell.count += retained;
      }
      if (drill && complete && retained && cells->cell().column == static_cast<int>(c) + 1) {
        column_actors.emplace_back(cohort_day, row[2]);
      }
    }
  }

  RetentionResult result;
  for (auto& [cohort_day, cells] : by_day) {
    result.rows.push_back(RetentionRow{cohort_day, cells.size, std::move(cells.cells)});
  }
  result.total = RetentionRow{0, total.size, std::move(total.cells)};
  if (drill) {
    const int r = cells->cell().row;
    std::vector<std::string> actors;
    if (r == -1 || (r >= 0 && static_cast<size_t>(r) < result.rows.size())) {
      for (auto& [cohort_day, actor] : column_actors) {
        if (r == -1 || cohort_day == result.rows[r].cohort_day) actors.push_back(std::move(actor));
      }
    }
    cells->TakeActors(std::move(actors));
  }
  return result;
}

}  // namespace cohort::analytics::clickhouse
