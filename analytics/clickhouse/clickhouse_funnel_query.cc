#include "analytics/clickhouse/clickhouse_funnel_query.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"
#include "analytics/clickhouse/clickhouse_query_rows.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/clickhouse/clickhouse_user_properties_sql.h"
#include "analytics/model/funnel_progress.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::clickhouse {
namespace {

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
    return std::numeric_limits<int64_t>::max();
  }
  return a + b;
}

// The events of [from_ms, to_ms + window_ms) with their actor, total-order keys, step mask
// (bit s: matches step s), whether active, and the group-by value's typed columns (kind 255 and
// no value without a group-by). Only events matching a step (or active ones when `with_active`).
std::string EventsSql(const FunnelQuery& query, const std::string& table, bool with_active) {
  const QueryScope& scope = query.scope;
  std::vector<std::string> bits;
  for (size_t s = 0; s < query.steps.size(); ++s) {
    bits.push_back(
        absl::StrCat("if(", SelectorSql(query.steps[s], scope), ", ", uint32_t{1} << s, ", 0)"));
  }
  std::string group = "toUInt8(255) AS f_gkind, '' AS f_gstr, toFloat64(0) AS f_gnum";
  if (query.group_by) {
    const ValueSql value = PropertyValueSql(*query.group_by, "f_gi");
    group = absl::StrCat("indexOf(prop_keys, ", SqlString(query.group_by->key), ") AS f_gi, ",
                         value.kind, " AS f_gkind, ", value.text, " AS f_gstr, ", value.number,
                         " AS f_gnum");
  }
  std::vector<const EventSelector*> selectors;
  for (const EventSelector& step : query.steps) selectors.push_back(&step);
  return absl::StrCat(
      "SELECT actor AS f_actor, time_ms AS f_t, insert_id AS f_id, device_id AS f_dev, "
      "user_id AS f_user, toUInt32(",
      absl::StrJoin(bits, " + "), ") AS f_mask, toUInt8(if(", ActiveSql(scope),
      ", 1, 0)) AS f_active, ", group, " FROM ",
      DedupedEventsSql(table, scope, UserPropertyKeys(selectors, query.group_by)),
      " AS f_e WHERE time_ms >= ", SqlInt(scope.from_ms), " AND time_ms < ",
      SqlInt(SaturatingAdd(scope.to_ms, query.window_ms)),
      with_active ? " AND (f_mask != 0 OR f_active = 1)" : " AND f_mask != 0");
}

// Ordered and strict: one row per actor with a candidate: the reached steps' times ("t1,t2,..."),
// the best candidate's group-by columns, 0, and with `with_actor` the actor. One subquery level per
// step, each reading the previous one's positions as columns: chained aliases in one SELECT are
// expanded by current engines' analyzers into expressions exponential in the steps. Lambdas read
// the columns they capture also outside lambdas, up to the outermost SELECT (the select lists, and
// f_keep), or 18.16 drops them from the subqueries ("Unknown identifier").
std::string OrderedSql(const FunnelQuery& query, const std::string& table, bool with_actor) {
  const bool strict = query.order == FunnelOrder::kStrict;
  const size_t k = query.steps.size();
  constexpr char kCarried[] = "f_actor, f_ev, f_ts, f_ms, f_as, f_ix, f_p0";
  // Per actor: its events; the candidates' positions (f_p0) and each chain's times so far.
  std::string sql = absl::StrCat(
      "SELECT f_actor, f_ev, arrayMap(x -> tupleElement(x, 1), f_ev) AS f_ts, "
      "arrayMap(x -> tupleElement(x, 5), f_ev) AS f_ms, "
      "arrayMap(x -> tupleElement(x, 6), f_ev) AS f_as, arrayEnumerate(f_ev) AS f_ix, "
      "arrayFilter(i -> bitAnd(f_ms[i], 1) != 0 AND f_ts[i] >= ",
      SqlInt(query.scope.from_ms), " AND f_ts[i] < ", SqlInt(query.scope.to_ms),
      ", f_ix) AS f_p0, arrayMap(c -> [f_ts[c]], f_p0) AS f_tt0 "
      "FROM (SELECT f_actor, arraySort(groupArray((f_t, f_id, f_dev, f_user, f_mask, f_active, "
      "f_gkind, f_gstr, f_gnum))) AS f_ev FROM (",
      EventsSql(query, table, strict), ") AS f_in GROUP BY f_actor) AS f_g ");
  absl::StrAppend(&sql, "WHERE length(f_p0) > 0");
  for (size_t s = 1; s < k; ++s) {
    // Step s: the earliest event of the step after the chain's previous one (position p, 0 once
    // the chain stopped), taken when inside the candidate's window (and, strict, with no active
    // event between); f is bound once through a one-element arrayMap.
    const std::string p = absl::StrCat("f_p", s - 1), tt = absl::StrCat("f_tt", s - 1);
    sql = absl::StrCat(
        "SELECT ", kCarried, s > 1 ? absl::StrCat(", ", p) : "", ", ", tt,
        ", arrayMap((c, p) -> if(p = 0, 0, arrayMap(f -> if(f = 0 OR f_ts[f] > f_ts[c] + ",
        SqlInt(query.window_ms),
        strict ? " OR arrayExists((a, i) -> a = 1 AND i > p AND i < f, f_as, f_ix)" : "",
        ", 0, f), [arrayFirstIndex((m, i) -> i > p AND bitAnd(m, ", uint32_t{1} << s,
        ") != 0, f_ms, f_ix)])[1]), f_p0, ", p, ") AS f_p", s,
        ", arrayMap((t, q) -> if(q = 0, t, "
        "arrayPushBack(t, f_ts[q])), ",
        tt, ", f_p", s, ") AS f_tt", s, " FROM (", sql, ") AS f_s", s);
  }
  // The earliest candidate reaching furthest.
  return absl::StrCat(
      "SELECT arrayStringConcat(arrayMap(t -> toString(t), ", "f_tt", k - 1,
      "[f_b]), ',') AS f_times, tupleElement(f_ev[f_p0[f_b]], 7) AS f_k, "
      "tupleElement(f_ev[f_p0[f_b]], 8) AS f_s, tupleElement(f_ev[f_p0[f_b]], 9) AS f_n, "
      "ignore(f_ts, f_ms, f_as, f_ix) AS f_keep",
      with_actor ? ", f_actor" : "", " FROM (SELECT ", kCarried, ", f_tt", k - 1,
      ", arrayMap(t -> length(t), f_tt", k - 1,
      ") AS f_len, arrayReduce('max', f_len) AS f_max, arrayFirstIndex(l -> l = f_max, f_len) AS "
      "f_b FROM (",
      sql, ") AS f_last) AS f_best");
}

// Unordered: the step-matching events, per actor in total order.
std::string UnorderedSql(const FunnelQuery& query, const std::string& table) {
  return absl::StrCat("SELECT f_actor, f_t, f_mask, f_gkind, f_gstr, f_gnum FROM (",
                      EventsSql(query, table, false),
                      ") AS f_in ORDER BY f_actor, f_t, f_id, f_dev, f_user");
}

// Group-by labels, numbered in order of appearance.
class Labels {
 public:
  absl::StatusOr<int32_t> Id(const std::string& kind, const std::string& text,
                             const std::string& number) {
    absl::StatusOr<std::string> label = LabelFromColumns(kind, text, number);
    if (!label.ok()) return label.status();
    auto [it, inserted] = ids_.try_emplace(*label, static_cast<int32_t>(labels_.size()));
    if (inserted) labels_.push_back(*label);
    return it->second;
  }
  const std::vector<std::string>& labels() const { return labels_; }

 private:
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<std::string> labels_;
};

}  // namespace

absl::StatusOr<FunnelResult> RunFunnel(const FunnelQuery& query, SqlExecutor& executor,
                                       const std::string& table, CellActorsRequest* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return calendar.status();
  const size_t k = query.steps.size();
  if (k == 0 || k > kMaxFunnelSteps) {
    return absl::InvalidArgumentError("steps: a funnel has 1 to 16 steps");
  }

  Labels labels;
  std::vector<FunnelEntry> entries;
  std::vector<int64_t> gaps;
  // With a drill-down, each entry's actor (FunnelEntry::actor indexes this).
  const bool drill = cells != nullptr;
  std::vector<std::string> actors;
  auto add = [&](const FunnelProgress& progress, const std::string& actor) {
    if (progress.times.empty()) return;
    uint32_t id = 0;
    if (drill) {
      id = static_cast<uint32_t>(actors.size());
      actors.push_back(actor);
    }
    entries.push_back({id, progress.times.size(), gaps.size(), progress.label});
    for (size_t j = 1; j < progress.times.size(); ++j) {
      gaps.push_back(progress.times[j] - progress.times[j - 1]);
    }
  };
  if (query.order == FunnelOrder::kUnordered) {
    absl::StatusOr<std::string> answer =
        executor.Query(UnorderedSql(query, table), Format::kTabSeparated);
    if (!answer.ok()) return answer.status();
    absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseTsvRows(*answer, 6);
    if (!rows.ok()) return rows.status();
    FunnelProgressScan unordered(query);
    FunnelActorEvents events;
    for (size_t r = 0; r < rows->size(); ++r) {
      const std::vector<std::string>& row = (*rows)[r];
      absl::StatusOr<int64_t> time = ParseInt(row[1]);
      absl::StatusOr<int64_t> mask = ParseInt(row[2]);
      if (!time.ok()) return time.status();
      if (!mask.ok()) return mask.status();
      int32_t label = -1;
      if (query.group_by && (*mask & 1)) {
        absl::StatusOr<int32_t> id = labels.Id(row[3], row[4], row[5]);
        if (!id.ok()) return id.status();
        label = *id;
      }
      events.time.push_back(*time);
      events.steps.push_back(static_cast<uint32_t>(*mask));
      events.active.push_back(false);  // read by strict funnels only
      events.label.push_back(label);
      if (r + 1 == rows->size() || (*rows)[r + 1][0] != row[0]) {
        add(unordered.Best(events), row[0]);
        events.Clear();
      }
    }
  } else {
    absl::StatusOr<std::string> answer =
        executor.Query(OrderedSql(query, table, drill), Format::kTabSeparated);
    if (!answer.ok()) return answer.status();
    absl::StatusOr<std::vector<std::vector<std::string>>> rows =
        ParseTsvRows(*answer, drill ? 6 : 5);
    if (!rows.ok()) return rows.status();
    for (const std::vector<std::string>& row : *rows) {
      FunnelProgress progress;
      absl::StatusOr<std::vector<int64_t>> times = ParseIntList(row[0]);
      if (!times.ok()) return times.status();
      progress.times = std::move(*times);
      if (query.group_by) {
        absl::StatusOr<int32_t> id = labels.Id(row[1], row[2], row[3]);
        if (!id.ok()) return id.status();
        progress.label = *id;
      }
      add(progress, drill ? row[5] : std::string());
    }
  }

  if (!drill) return BuildFunnelResult(query, entries, gaps, labels.labels());
  // The actors of the target row that reached the target step.
  std::vector<std::string> reached;
  const CellRef target = cells->cell();
  FunnelResult result =
      BuildFunnelResult(query, entries, gaps, labels.labels(),
                        [&](int row, const std::vector<const FunnelEntry*>& members) {
                          if (row != target.row || target.column < 0) return;
                          for (const FunnelEntry* entry : members) {
                            if (entry->reach > static_cast<size_t>(target.column)) {
                              reached.push_back(actors[entry->actor]);
                            }
                          }
                        });
  cells->TakeActors(std::move(reached));
  return result;
}

}  // namespace cohort::analytics::clickhouse
