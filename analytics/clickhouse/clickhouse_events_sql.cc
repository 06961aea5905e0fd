#include "analytics/clickhouse/clickhouse_events_sql.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/clickhouse/clickhouse_user_properties_sql.h"

namespace cohort::analytics::clickhouse {
namespace {

// Property kinds as the schema stores them (prop_kinds).
constexpr int kKindNull = 0;
constexpr int kKindBool = 1;
constexpr int kKindNumber = 2;
constexpr int kKindString = 3;

// The user properties' columns (clickhouse_event_row.h).
constexpr const char* kUopColumns[] = {"uop_clear",   "uop_keys",    "uop_codes", "uop_kinds",
                                       "uop_strings", "uop_numbers", "uop_adds"};

// The deduplicated events without actor: the first copy in arrival order of each
// (group_is_user, group_id, insert_id). Aliases differ from the column names so that no alias
// shadows a column inside another aggregate.
std::string DedupSql(const std::string& table, const std::string& project, bool user_operations) {
  std::vector<std::string> columns = {"user_id",      "device_id",   "time_ms",   "event_type",
                                      "has_session",  "session_id",  "prop_keys", "prop_kinds",
                                      "prop_strings", "prop_numbers"};
  if (user_operations)
    columns.insert(columns.end(), std::begin(kUopColumns), std::end(kUopColumns));
  std::vector<std::string> inner;
  std::vector<std::string> outer;
  for (const std::string& c : columns) {
    inner.push_back(absl::StrCat("argMin(", c, ", arrival) AS first_", c));
    outer.push_back(absl::StrCat("first_", c, " AS ", c));
  }
  return absl::StrCat("(SELECT insert_id, ", absl::StrJoin(outer, ", "),
                      " FROM (SELECT insert_id, ", absl::StrJoin(inner, ", "), " FROM ", table,
                      " WHERE project = ", SqlString(project),
                      " GROUP BY group_is_user, group_id, insert_id))");
}

// An event property's index in prop_keys (0: missing) and its typed parts (ClickHouse answers the
// default value for index 0, so the parts are safe to read for a missing key); or a user
// property's columns of WithUserPropertiesSql, "set" standing for the index.
struct Prop {
  std::string index;
  std::string kind;
  std::string text;
  std::string number;
};

Prop PropOf(const PropertyRef& property) {
  if (property.scope == PropertyRef::Scope::kUser) {
    UserPropertyColumns u = UserPropertyColumnsOf(property.key);
    return {u.set, u.kind, u.text, u.number};
  }
  const std::string& key = property.key;
  std::string index = absl::StrCat("indexOf(prop_keys, ", SqlString(key), ")");
  return {index, absl::StrCat("prop_kinds[", index, "]"), absl::StrCat("prop_strings[", index, "]"),
          absl::StrCat("prop_numbers[", index, "]")};
}

// Equal(value, v) of filter.cc for a present value.
std::string EqualSql(const Prop& p, const PropertyValue& v) {
  switch (v.kind()) {
    case PropertyValue::Kind::kNull:
      return absl::StrCat("(", p.kind, " = ", kKindNull, ")");
    case PropertyValue::Kind::kBool:
      return absl::StrCat("(", p.kind, " = ", kKindBool, " AND ", p.text, " = ",
                          SqlString(v.boolean() ? "true" : "false"), ")");
    case PropertyValue::Kind::kNumber:
      if (!std::isfinite(v.number())) return "0";
      return absl::StrCat("(", p.kind, " = ", kKindNumber, " AND ", p.number, " = ",
                          SqlDouble(v.number()), ")");
    case PropertyValue::Kind::kString:
      return absl::StrCat("(", p.kind, " = ", kKindString, " AND ", p.text, " = ",
                          SqlString(v.text()), ")");
    case PropertyValue::Kind::kJson:
      return "0";  // objects and arrays are opaque to filters
  }
  return "0";
}

std::string EqualsAnySql(const Prop& p, const std::vector<PropertyValue>& values) {
  if (values.empty()) return "0";
  std::vector<std::string> terms;
  for (const PropertyValue& v : values) terms.push_back(EqualSql(p, v));
  return absl::StrCat("(", absl::StrJoin(terms, " OR "), ")");
}

std::string FilterSql(const PropertyFilter& filter) {
  const Prop p = PropOf(filter.property);
  const std::string present = absl::StrCat("(", p.index, " > 0)");
  switch (filter.op) {
    case FilterOp::kIsSet:
      return present;
    case FilterOp::kIsNotSet:
      return absl::StrCat("(", p.index, " = 0)");
    case FilterOp::kEquals:
      return absl::StrCat("(", present, " AND ", EqualsAnySql(p, filter.values), ")");
    case FilterOp::kNotEquals:
      return absl::StrCat("(", p.index, " = 0 OR NOT ", EqualsAnySql(p, filter.values), ")");
    case FilterOp::kLess:
    case FilterOp::kLessOrEqual:
    case FilterOp::kGreater:
    case FilterOp::kGreaterOrEqual: {
      if (filter.values.empty()) return "0";
      std::optional<double> right = NumericValue(filter.values[0]);
      if (!right || std::isnan(*right)) return "0";
      const char* op = filter.op == FilterOp::kLess          ? "<"
                       : filter.op == FilterOp::kLessOrEqual ? "<="
                       : filter.op == FilterOp::kGreater     ? ">"
                                                             : ">=";
      // prop_numbers holds the NumericValue of a string, nan when it has none: nan compares
      // false, as NumericValue's nullopt does.
      return absl::StrCat("(", present, " AND (", p.kind, " = ", kKindNumber, " OR ", p.kind, " = ",
                          kKindString, ") AND ", p.number, " ", op, " ", SqlDouble(*right), ")");
    }
    case FilterOp::kContains:
    case FilterOp::kNotContains: {
      if (filter.values.empty() || filter.values[0].kind() != PropertyValue::Kind::kString) {
        return "0";
      }
      const std::string& needle = filter.values[0].text();
      // position(h, '') is 1, as std::string::find("") is 0: contained.
      std::string contained =
          needle.empty() ? "1"
                         : absl::StrCat("position(", p.text, ", ", SqlString(needle), ") > 0");
      return absl::StrCat("(", present, " AND ", p.kind, " = ", kKindString, " AND ",
                          filter.op == FilterOp::kContains ? "" : "NOT ", "(", contained, "))");
    }
  }
  return "0";
}

// DedupedEventsSql without user properties; with `user_operations` also the uop_* columns.
std::string EventsWithActorSql(const std::string& table, const QueryScope& scope,
                               bool user_operations) {
  const std::string dedup = DedupSql(table, scope.project, user_operations);
  std::string columns =
      "user_id, device_id, insert_id, event_type, time_ms, has_session, session_id, prop_keys, "
      "prop_kinds, prop_strings, prop_numbers";
  if (user_operations) absl::StrAppend(&columns, ", ", absl::StrJoin(kUopColumns, ", "));
  if (scope.identity == IdentityMerge::kNone) {
    return absl::StrCat(
        "(SELECT if(user_id != '', user_id, concat('device:', device_id)) AS actor, ", columns,
        " FROM ", dedup, " AS deduped)");
  }
  // device_id → the user of its earliest event with both ids; tuples compare element-wise and
  // strings by bytes, as the reference's std::tie does.
  std::string devices = absl::StrCat(
      "(SELECT device_id, argMin(user_id, tuple(time_ms, insert_id, user_id)) AS mapped_user "
      "FROM ",
      dedup, " AS with_both WHERE user_id != '' AND device_id != '' GROUP BY device_id)");
  return absl::StrCat(
      "(SELECT if(user_id != '', user_id, if(mapped_user != '', mapped_user, "
      "concat('device:', device_id))) AS actor, ",
      columns, " FROM ", dedup, " AS deduped ANY LEFT JOIN ", devices,
      " AS devices USING device_id)");
}

}  // namespace

std::string SqlDouble(double v) {
  // 17 significant digits round-trip; ClickHouse parses float literals with strtod.
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  return absl::StrCat("toFloat64(", buffer, ")");
}

std::string SqlInt64Array(const std::vector<int64_t>& values) {
  if (values.empty()) return "emptyArrayInt64()";
  // One literal array cast once: an array of toInt64() calls takes 18.16 seconds to analyse
  // when it is long (minute buckets). 18.16 finds no common type for a negative literal and one
  // above UInt32, so arrays with a negative value are written as strings (CAST parses them).
  bool negative = std::any_of(values.begin(), values.end(), [](int64_t v) { return v < 0; });
  std::vector<std::string> items;
  for (int64_t v : values) {
    items.push_back(negative ? absl::StrCat("'", v, "'") : absl::StrCat(v));
  }
  return absl::StrCat("CAST([", absl::StrJoin(items, ", "), "] AS Array(Int64))");
}

std::string DedupedEventsSql(const std::string& table, const QueryScope& scope,
                             const std::vector<std::string>& user_keys) {
  if (user_keys.empty()) return EventsWithActorSql(table, scope, /*user_operations=*/false);
  return WithUserPropertiesSql(EventsWithActorSql(table, scope, /*user_operations=*/true),
                               user_keys);
}

std::string ActiveSql(const QueryScope& scope) {
  std::vector<std::string> inactive = {SqlString("$identify"), SqlString("$groupidentify")};
  for (const std::string& t : scope.inactive_event_types) inactive.push_back(SqlString(t));
  return absl::StrCat("(event_type NOT IN (", absl::StrJoin(inactive, ", "), "))");
}

std::string SelectorSql(const EventSelector& selector, const QueryScope& scope) {
  std::vector<std::string> terms;
  if (selector.event_type == kAnyActiveEvent) {
    terms.push_back(ActiveSql(scope));
  } else if (selector.event_type != kAnyEvent) {
    terms.push_back(absl::StrCat("(event_type = ", SqlString(selector.event_type), ")"));
  }
  for (const PropertyFilter& filter : selector.filters) terms.push_back(FilterSql(filter));
  if (terms.empty()) return "1";
  return absl::StrCat("(", absl::StrJoin(terms, " AND "), ")");
}

std::string InRangeSql(const QueryScope& scope, std::string_view time_column) {
  const std::string column(time_column);
  return absl::StrCat("(", column, " >= ", SqlInt(scope.from_ms), " AND ", column, " < ",
                      SqlInt(scope.to_ms), ")");
}

std::string BucketIndexSql(const std::vector<int64_t>& starts, std::string_view time_column) {
  return absl::StrCat("arrayCount(bucket_start -> bucket_start <= ", std::string(time_column), ", ",
                      SqlInt64Array(starts), ")");
}

absl::StatusOr<Calendar> ScopeCalendar(const QueryScope& scope) {
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("time_zone: ", std::string(calendar.status().message())));
  }
  return calendar;
}

absl::StatusOr<std::vector<std::vector<int64_t>>> ParseIntRows(std::string_view tsv,
                                                               size_t columns) {
  std::vector<std::vector<int64_t>> rows;
  for (absl::string_view line : absl::StrSplit(std::string(tsv), '\n', absl::SkipEmpty())) {
    std::vector<int64_t> row;
    for (absl::string_view field : absl::StrSplit(line, '\t')) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(field, &v)) {
        return absl::InternalError(
            absl::StrCat("ClickHouse answered a non-integer field: ", std::string(line)));
      }
      row.push_back(v);
    }
    if (row.size() != columns) {
      return absl::InternalError(absl::StrCat("ClickHouse answered ", row.size(), " fields where ",
                                              columns, " were expected: ", std::string(line)));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace cohort::analytics::clickhouse
