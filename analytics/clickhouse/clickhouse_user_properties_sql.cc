#include "analytics/clickhouse/clickhouse_user_properties_sql.h"

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "analytics/clickhouse/clickhouse_event_row.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {
namespace {

// The event columns carried through the actor's array, in tuple order (1-based in SQL).
constexpr const char* kEventColumns[] = {
    "time_ms",    "insert_id", "device_id",  "user_id",      "event_type",   "has_session",
    "session_id", "prop_keys", "prop_kinds", "prop_strings", "prop_numbers", "uop_clear",
    "uop_keys",   "uop_codes", "uop_kinds",  "uop_strings",  "uop_numbers",  "uop_adds"};
constexpr int kEventType = 5, kUopClear = 12, kUopKeys = 13, kUopCodes = 14, kUopKinds = 15,
              kUopStrings = 16, kUopNumbers = 17, kUopAdds = 18;

// `$N` in `pattern` → the N-th argument (at most 9; one pass, so arguments are not rescanned).
std::string Fill(absl::string_view pattern, const std::vector<std::string>& args) {
  std::vector<std::pair<std::string, std::string>> replacements;
  for (size_t i = 0; i < args.size(); ++i) {
    replacements.emplace_back(absl::StrCat("$", i + 1), args[i]);
  }
  return absl::StrReplaceAll(pattern, replacements);
}

// Per key, over the actor's sorted events `evs` (level 1): x = per event (1 the key's index in
// uop_keys, 2 code, 3 kind, 4 text, 5 number, 6 add, 7 is $identify, 8 uop_clear).
std::string EntriesSql(const std::string& key) {
  return Fill(
      "arrayMap(e -> arrayMap(k -> tuple(k, tupleElement(e, $2)[k], tupleElement(e, $3)[k], "
      "tupleElement(e, $4)[k], tupleElement(e, $5)[k], tupleElement(e, $6)[k], "
      "tupleElement(e, $7) = '$identify', tupleElement(e, $8)), "
      "[indexOf(tupleElement(e, $9), $1)])[1], evs)",
      {SqlString(key), absl::StrCat(kUopCodes), absl::StrCat(kUopKinds), absl::StrCat(kUopStrings),
       absl::StrCat(kUopNumbers), absl::StrCat(kUopAdds), absl::StrCat(kEventType),
       absl::StrCat(kUopClear), absl::StrCat(kUopKeys)});
}

// An $identify event that touches the key (an entry, or $clearAll).
constexpr char kRelevant[] =
    "(tupleElement(x, 7) AND (tupleElement(x, 1) > 0 OR tupleElement(x, 8)))";

// Level 2: c = per event, how many relevant $identify events are at or before it; r = per
// relevant event (1 reset: 0 none, 1 unset, 2 set; 2 $setOnce; 3 $add; 4 kind, 5 text, 6 number,
// 7 the $add's number).
std::string CountsSql(const std::string& x) {
  return absl::StrCat("arrayCumSum(arrayMap(x -> ", kRelevant, ", ", x, "))");
}
std::string RelevantSql(const std::string& x) {
  return Fill(
      "arrayMap(x -> tuple(if(tupleElement(x, 2) % 4 = $1, toUInt8(2), "
      "if(tupleElement(x, 2) % 4 = $2 OR tupleElement(x, 8), toUInt8(1), toUInt8(0))), "
      "bitAnd(tupleElement(x, 2), $3) > 0, bitAnd(tupleElement(x, 2), $4) > 0, tupleElement(x, 3), "
      "tupleElement(x, 4), tupleElement(x, 5), tupleElement(x, 6)), arrayFilter(x -> $5, $6))",
      {absl::StrCat(kUserSet), absl::StrCat(kUserUnset), absl::StrCat(kUserSetOnce),
       absl::StrCat(kUserAdd), kRelevant, x});
}

// Level 3, over r: e = per entry the resets so far; rp = the resets' positions; pf = per entry
// whether it may make the key present ($setOnce or $add); cp = their running count; pp = their
// positions.
constexpr char kPresence[] = "(tupleElement(q, 2) OR tupleElement(q, 3))";
std::vector<std::string> IndexesSql(const std::string& r) {
  return {
      absl::StrCat("arrayCumSum(arrayMap(q -> tupleElement(q, 1) > 0, ", r, "))"),
      absl::StrCat("arrayFilter((i, q) -> tupleElement(q, 1) > 0, arrayEnumerate(", r, "), ", r,
                   ")"),
      absl::StrCat("arrayMap(q -> ", kPresence, ", ", r, ")"),
      absl::StrCat("arrayCumSum(arrayMap(q -> ", kPresence, ", ", r, "))"),
      absl::StrCat("arrayFilter((i, q) -> ", kPresence, ", arrayEnumerate(", r, "), ", r, ")"),
  };
}

// Level 4: per relevant entry t, the state after it: (1 set, 2 kind, 3 text, 4 number). s = where
// the last reset is (1 without one); b = where the key became present (0: absent); the adds from
// b to t summed in order from b's number value (0 when b's value is not a number).
std::string TimelineSql(const std::vector<std::string>& in) {
  return Fill(
      "arrayMap((R, E, RP, PF, CP, PP) -> arrayMap(t -> arrayMap(b -> arrayMap(adds -> "
      "if(b = 0, tuple(toUInt8(0), toUInt8(0), '', toFloat64(0)), "
      "if(length(adds) = 0, tuple(toUInt8(1), tupleElement(R[b], 4), tupleElement(R[b], 5), "
      "tupleElement(R[b], 6)), tuple(toUInt8(1), toUInt8($7), '', arrayCumSum(arrayConcat("
      "[if(tupleElement(R[b], 4) = $7, tupleElement(R[b], 6), toFloat64(0))], adds))"
      "[length(adds) + 1]))), "
      "[arrayMap(q -> tupleElement(q, 7), arrayFilter(q -> tupleElement(q, 3), "
      "arraySlice(R, b, t - b + 1)))])[1], "
      "[arrayMap(s -> if(E[t] > 0 AND tupleElement(R[s], 1) = 2, s, "
      "arrayMap(n -> if(n + 1 <= length(PP) AND PP[n + 1] <= t, PP[n + 1], 0), "
      "[CP[s] - PF[s]])[1]), [if(E[t] = 0, 1, RP[E[t]])])[1]])[1], arrayEnumerate(R)), "
      "[$1], [$2], [$3], [$4], [$5], [$6])[1]",
      {in[0], in[1], in[2], in[3], in[4], in[5],
       absl::StrCat(static_cast<int>(PropKind::kNumber))});
}

// Level 5: per event, the state it sees: its own value for the key (not $identify), else the
// state after the last relevant $identify at or before it.
std::string StatesSql(const std::string& x, const std::string& c, const std::string& t) {
  return Fill(
      "arrayMap((X, C, T) -> arrayMap((x, c) -> if(tupleElement(x, 7) = 0 AND tupleElement(x, 1) "
      "> 0, tuple(toUInt8(1), tupleElement(x, 3), tupleElement(x, 4), tupleElement(x, 5)), "
      "if(c = 0, tuple(toUInt8(0), toUInt8(0), '', toFloat64(0)), T[c])), X, C), "
      "[$1], [$2], [$3])[1]",
      {x, c, t});
}

}  // namespace

UserPropertyColumns UserPropertyColumnsOf(const std::string& key) {
  const std::string base = absl::StrCat("up_", absl::BytesToHexString(key));
  return {absl::StrCat(base, "_set"), absl::StrCat(base, "_kind"), absl::StrCat(base, "_text"),
          absl::StrCat(base, "_number")};
}

std::vector<std::string> UserPropertyKeys(const std::vector<const EventSelector*>& selectors,
                                          const std::optional<PropertyRef>& group_by) {
  std::set<std::string> keys;
  for (const EventSelector* selector : selectors) {
    for (const PropertyFilter& filter : selector->filters) {
      if (filter.property.scope == PropertyRef::Scope::kUser) keys.insert(filter.property.key);
    }
  }
  if (group_by && group_by->scope == PropertyRef::Scope::kUser) keys.insert(group_by->key);
  return {keys.begin(), keys.end()};
}

std::string WithUserPropertiesSql(const std::string& events, const std::vector<std::string>& keys) {
  // Levels, innermost first; each binds what its lambdas read with [column] arguments, so 18.16
  // never sees a column read only inside a lambda (it would drop it from the subquery).
  std::vector<std::string> tuple_items;
  for (const char* c : kEventColumns) tuple_items.push_back(c);
  std::string sql =
      absl::StrCat("(SELECT actor, arraySort(groupArray(tuple(", absl::StrJoin(tuple_items, ", "),
                   "))) AS evs FROM ", events, " AS up_events GROUP BY actor)");
  auto name = [](const char* what, size_t i) { return absl::StrCat("up_", what, i); };
  auto level = [&](std::vector<std::string> columns) {
    sql = absl::StrCat("(SELECT actor, evs, ", absl::StrJoin(columns, ", "), " FROM ", sql, ")");
  };
  std::vector<std::string> columns;
  for (size_t i = 0; i < keys.size(); ++i) {
    columns.push_back(absl::StrCat(EntriesSql(keys[i]), " AS ", name("x", i)));
  }
  level(columns);
  columns.clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    columns.push_back(name("x", i));
    columns.push_back(absl::StrCat(CountsSql(name("x", i)), " AS ", name("c", i)));
    columns.push_back(absl::StrCat(RelevantSql(name("x", i)), " AS ", name("r", i)));
  }
  level(columns);
  columns.clear();
  static constexpr const char* kIndexes[] = {"e", "rp", "pf", "cp", "pp"};
  for (size_t i = 0; i < keys.size(); ++i) {
    for (const char* keep : {"x", "c", "r"}) columns.push_back(name(keep, i));
    std::vector<std::string> indexes = IndexesSql(name("r", i));
    for (size_t k = 0; k < indexes.size(); ++k) {
      columns.push_back(absl::StrCat(indexes[k], " AS ", name(kIndexes[k], i)));
    }
  }
  level(columns);
  columns.clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    for (const char* keep : {"x", "c"}) columns.push_back(name(keep, i));
    std::vector<std::string> in = {name("r", i)};
    for (const char* index : kIndexes) in.push_back(name(index, i));
    columns.push_back(absl::StrCat(TimelineSql(in), " AS ", name("t", i)));
  }
  level(columns);
  columns.clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    columns.push_back(
        absl::StrCat(StatesSql(name("x", i), name("c", i), name("t", i)), " AS ", name("s", i)));
  }
  level(columns);
  // Unroll: one row per event again.
  std::vector<std::string> out = {"actor"};
  for (size_t c = 0; c < std::size(kEventColumns); ++c) {
    if (c + 1 >= kUopClear) break;  // the uop_* columns stay inside
    out.push_back(absl::StrCat("tupleElement(up_ev, ", c + 1, ") AS ", kEventColumns[c]));
  }
  std::vector<std::string> joins = {"evs AS up_ev"};
  for (size_t i = 0; i < keys.size(); ++i) {
    const UserPropertyColumns u = UserPropertyColumnsOf(keys[i]);
    const std::string st = name("st", i);
    joins.push_back(absl::StrCat(name("s", i), " AS ", st));
    out.push_back(absl::StrCat("tupleElement(", st, ", 1) AS ", u.set));
    out.push_back(absl::StrCat("tupleElement(", st, ", 2) AS ", u.kind));
    out.push_back(absl::StrCat("tupleElement(", st, ", 3) AS ", u.text));
    out.push_back(absl::StrCat("tupleElement(", st, ", 4) AS ", u.number));
  }
  return absl::StrCat("(SELECT ", absl::StrJoin(out, ", "), " FROM ", sql, " ARRAY JOIN ",
                      absl::StrJoin(joins, ", "), ")");
}

}  // namespace cohort::analytics::clickhouse
