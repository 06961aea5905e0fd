#include "analytics/clickhouse/clickhouse_segmentation_query.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"
#include "analytics/clickhouse/clickhouse_query_rows.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/clickhouse/clickhouse_user_properties_sql.h"
#include "analytics/model/formula.h"

namespace cohort::analytics::clickhouse {
namespace {

struct Cell {
  int64_t count = 0;
  int64_t uniques = 0;
  int64_t Value(SeriesMetric metric) const {
    return metric == SeriesMetric::kTotals ? count : uniques;
  }
};

struct GroupCells {
  std::vector<Cell> buckets;
  Cell total;
  explicit GroupCells(size_t bucket_count) : buckets(bucket_count) {}
};

std::string SeriesName(size_t index) { return std::string(1, static_cast<char>('A' + index)); }

// The group-by value of an event as one string: "<kind>:<text>", the kind 255 when the property
// is missing, the text the number's bits in hex for numbers (exact; reinterpretAsString drops
// trailing zero bytes) and prop_strings otherwise.
std::string ValueKeySql(const PropertyRef& property) {
  const ValueSql value =
      PropertyValueSql(property, absl::StrCat("indexOf(prop_keys, ", SqlString(property.key), ")"));
  return absl::StrCat("concat(toString(", value.kind, "), ':', if(", value.kind,
                      " = 2, hex(reinterpretAsString(", value.number, ")), ", value.text, "))");
}

// The label of a value key of ValueKeySql.
absl::StatusOr<std::string> LabelOfValueKey(const std::string& value_key) {
  size_t colon = value_key.find(':');
  int kind = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(value_key.substr(0, colon), &kind)) {
    return absl::InternalError(absl::StrCat("segmentation: bad value key ", value_key));
  }
  std::string rest = value_key.substr(colon + 1);
  switch (kind) {
    case 255:
      return std::string(kNoneGroup);
    case 0:
      return PropertyValue::Null().Label();
    case 2: {
      if (rest.size() > 16 || rest.size() % 2 != 0) break;
      unsigned char bytes[8] = {};  // little-endian, trailing zero bytes dropped
      for (size_t i = 0; i < rest.size(); i += 2) {
        int byte = 0;
        if (!absl::SimpleHexAtoi(rest.substr(i, 2), &byte)) {
          return absl::InternalError(absl::StrCat("segmentation: bad number bits ", rest));
        }
        bytes[i / 2] = static_cast<unsigned char>(byte);
      }
      uint64_t bits = 0;
      for (int i = 7; i >= 0; --i) bits = (bits << 8) | bytes[i];
      double number = 0;
      std::memcpy(&number, &bits, sizeof(number));
      return PropertyValue::Number(number).Label();
    }
    case 1:  // "true" / "false"
    case 3:
    case 4:
      return rest;
    default:
      break;
  }
  return absl::InternalError(absl::StrCat("segmentation: bad value key ", value_key));
}

struct Labels {
  std::vector<std::string> labels;  // label index i + 1 → labels[i]
  std::string label_sql;            // the event's label index (0: a value not listed)
};

// Without group-by, one label "" for every event; with it, the labels of the values the
// matching events of the range hold (a first query), and the value → label index mapping.
absl::StatusOr<Labels> ListLabels(const SegmentationQuery& query, SqlExecutor& sql,
                                  const std::string& events, const std::string& where) {
  Labels result;
  if (!query.group_by) {
    result.labels = {""};
    result.label_sql = "toUInt32(1)";
    return result;
  }
  const std::string value_key = ValueKeySql(*query.group_by);
  absl::StatusOr<std::string> tsv =
      sql.Query(absl::StrCat("SELECT DISTINCT ", value_key, " AS value_key FROM ", events,
                             " AS e WHERE ", where),
                Format::kTabSeparated);
  if (!tsv.ok()) return tsv.status();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseTsvRows(*tsv, 1);
  if (!rows.ok()) return rows.status();
  std::map<std::string, uint32_t> index_of_label;
  std::vector<std::string> keys, indexes;
  for (const std::vector<std::string>& row : *rows) {
    absl::StatusOr<std::string> label = LabelOfValueKey(row[0]);
    if (!label.ok()) return label.status();
    auto [it, inserted] =
        index_of_label.try_emplace(*label, static_cast<uint32_t>(result.labels.size() + 1));
    if (inserted) result.labels.push_back(*label);
    keys.push_back(SqlString(row[0]));
    indexes.push_back(absl::StrCat(it->second));
  }
  if (keys.empty()) {
    result.label_sql = "toUInt32(0)";
  } else {
    result.label_sql =
        absl::StrCat("transform(", value_key, ", [", absl::StrJoin(keys, ", "), "], CAST([",
                     absl::StrJoin(indexes, ", "), "] AS Array(UInt32)), toUInt32(0))");
  }
  return result;
}

}  // namespace

absl::StatusOr<SegmentationResult> RunSegmentation(const SegmentationQuery& query, SqlExecutor& sql,
                                                   const std::string& table,
                                                   CellActorsRequest* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = ScopeCalendar(scope);
  if (!calendar.ok()) return calendar.status();
  absl::StatusOr<std::vector<Formula>> parsed =
      ParseFormulas(query.formulas, static_cast<int>(query.events.size()));
  if (!parsed.ok()) return parsed.status();
  const std::vector<Formula>& formulas = *parsed;

  SegmentationResult result;
  std::vector<int64_t>& buckets = result.buckets;
  buckets = calendar->BucketStarts(scope.from_ms, scope.to_ms, query.interval);
  const size_t series_count = query.events.size();

  std::vector<const EventSelector*> series;
  for (const EventSelector& selector : query.events) series.push_back(&selector);
  const std::string events =
      DedupedEventsSql(table, scope, UserPropertyKeys(series, query.group_by));
  std::vector<std::string> selectors, matched;
  for (size_t s = 0; s < series_count; ++s) {
    selectors.push_back(SelectorSql(query.events[s], scope));
    matched.push_back(absl::StrCat("if(", selectors.back(), ", ", s + 1, ", 0)"));
  }
  const std::string where =
      absl::StrCat(InRangeSql(scope, "time_ms"), " AND (",
                   selectors.empty() ? "0" : absl::StrJoin(selectors, " OR "), ")");

  // Per series: label index → cells.
  std::vector<std::map<uint32_t, GroupCells>> by_label(series_count);
  Labels labels;
  // Per event of the range that some series matches: (actor, series, label, bucket), and the
  // bucket 0 for the range total. (18.16 resolves no column inside an ARRAY JOIN expression:
  // the arrays are made a level below.)
  auto cells_sql = [&](const std::string& label_sql) {
    std::string rows = absl::StrCat("SELECT actor, arrayFilter(x -> x > 0, [",
                                    absl::StrJoin(matched, ", "), "]) AS matched, ", label_sql,
                                    " AS label, [", BucketIndexSql(buckets, "time_ms"),
                                    ", 0] AS cells FROM ", events, " AS e WHERE ", where);
    return absl::StrCat("(SELECT actor, series, label, cells FROM (", rows,
                        ") AS matching ARRAY JOIN matched AS series)");
  };
  if (!buckets.empty() && series_count > 0) {
    absl::StatusOr<Labels> listed = ListLabels(query, sql, events, where);
    if (!listed.ok()) return listed.status();
    labels = *std::move(listed);
    absl::StatusOr<std::string> tsv = sql.Query(
        absl::StrCat("SELECT series, label, cell, count(), uniqExact(actor) FROM ",
                     cells_sql(labels.label_sql),
                     " AS per_series ARRAY JOIN cells AS cell GROUP BY series, label, cell"),
        Format::kTabSeparated);
    if (!tsv.ok()) return tsv.status();
    absl::StatusOr<std::vector<std::vector<int64_t>>> rows = ParseIntRows(*tsv, 5);
    if (!rows.ok()) return rows.status();
    for (const std::vector<int64_t>& row : *rows) {
      const int64_t s = row[0], label = row[1], b = row[2];
      if (s < 1 || s > static_cast<int64_t>(series_count) || b < 0 ||
          b > static_cast<int64_t>(buckets.size())) {
        return absl::InternalError(
            absl::StrCat("segmentation: ClickHouse answered series ", s, " bucket ", b));
      }
      if (label < 1 || label > static_cast<int64_t>(labels.labels.size())) {
        // A value that was not there when the labels were listed: events arrived in between.
        return absl::UnavailableError(
            "segmentation: the data changed while the query ran; run it again");
      }
      GroupCells& cells =
          by_label[s - 1].try_emplace(static_cast<uint32_t>(label), buckets.size()).first->second;
      (b == 0 ? cells.total : cells.buckets[b - 1]) = Cell{row[3], row[4]};
    }
  }

  // The groups: labels ranked over all series (by value, then label bytes).
  std::vector<uint32_t> groups;  // label indexes
  bool has_other = false;
  if (!query.group_by) {
    groups.push_back(1);
    if (labels.labels.empty()) labels.labels = {""};
  } else {
    std::map<uint32_t, int64_t> score;
    for (const auto& series : by_label) {
      for (const auto& [label, cells] : series) score[label] += cells.total.Value(query.metric);
    }
    std::vector<std::pair<int64_t, const std::string*>> ranked;
    std::map<const std::string*, uint32_t> index_of;
    for (const auto& [label, value] : score) {
      ranked.emplace_back(-value, &labels.labels[label - 1]);
      index_of[&labels.labels[label - 1]] = label;
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
    });
    const size_t limit = static_cast<size_t>(std::max(query.limit, 0));
    for (size_t i = 0; i < ranked.size() && i < limit; ++i) {
      groups.push_back(index_of[ranked[i].second]);
    }
    has_other = ranked.size() > limit;
  }

  // Per series, per output group (groups, then "(other)"): the cells.
  std::vector<std::vector<GroupCells>> grouped(series_count);
  for (size_t s = 0; s < series_count; ++s) {
    for (uint32_t group : groups) {
      auto it = by_label[s].find(group);
      grouped[s].push_back(it != by_label[s].end() ? it->second : GroupCells(buckets.size()));
    }
  }
  if (has_other) {
    // Totals add up; the distinct actors of the merged labels need their own count.
    std::vector<GroupCells> other(series_count, GroupCells(buckets.size()));
    for (size_t s = 0; s < series_count; ++s) {
      for (const auto& [label, cells] : by_label[s]) {
        if (std::find(groups.begin(), groups.end(), label) != groups.end()) continue;
        for (size_t b = 0; b < buckets.size(); ++b)
          other[s].buckets[b].count += cells.buckets[b].count;
        other[s].total.count += cells.total.count;
      }
    }
    std::vector<std::string> top;
    for (uint32_t group : groups) top.push_back(absl::StrCat(group));
    absl::StatusOr<std::string> tsv = sql.Query(
        absl::StrCat(
            "SELECT series, cell, uniqExact(actor) FROM ", cells_sql(labels.label_sql),
            " AS per_series ARRAY JOIN cells AS cell WHERE ",
            top.empty() ? "1" : absl::StrCat("label NOT IN (", absl::StrJoin(top, ", "), ")"),
            " GROUP BY series, cell"),
        Format::kTabSeparated);
    if (!tsv.ok()) return tsv.status();
    absl::StatusOr<std::vector<std::vector<int64_t>>> rows = ParseIntRows(*tsv, 3);
    if (!rows.ok()) return rows.status();
    for (const std::vector<int64_t>& row : *rows) {
      const int64_t s = row[0], b = row[1];
      if (s < 1 || s > static_cast<int64_t>(series_count) || b < 0 ||
          b > static_cast<int64_t>(buckets.size())) {
        return absl::InternalError(
            absl::StrCat("segmentation: ClickHouse answered series ", s, " bucket ", b));
      }
      (b == 0 ? other[s - 1].total : other[s - 1].buckets[b - 1]).uniques = row[2];
    }
    for (size_t s = 0; s < series_count; ++s) grouped[s].push_back(std::move(other[s]));
  }
  std::vector<std::string> names;
  for (uint32_t group : groups) names.push_back(labels.labels[group - 1]);
  if (has_other) names.push_back(kOtherGroup);

  // Drill-down: row = series × group (groups, then "(other)": the labels of no group).
  if (cells != nullptr && !buckets.empty() && series_count > 0 && cells->cell().row >= 0 &&
      static_cast<size_t>(cells->cell().row) < series_count * names.size()) {
    const size_t s = static_cast<size_t>(cells->cell().row) / names.size();
    const size_t g = static_cast<size_t>(cells->cell().row) % names.size();
    std::string label_condition;
    if (g < groups.size()) {
      label_condition = absl::StrCat("label = ", groups[g]);
    } else {
      std::vector<std::string> top;
      for (uint32_t group : groups) top.push_back(absl::StrCat(group));
      label_condition =
          top.empty() ? "1" : absl::StrCat("label NOT IN (", absl::StrJoin(top, ", "), ")");
    }
    absl::Status st = cells->FetchPage(
        sql, absl::StrCat("SELECT actor FROM ", cells_sql(labels.label_sql),
                          " AS per_series ARRAY JOIN cells AS cell WHERE series = ", s + 1, " AND ",
                          label_condition, " AND cell = ", cells->cell().column + 1));
    if (!st.ok()) return st;
  }

  auto value = [&](const Cell& cell) -> Number {
    return static_cast<double>(cell.Value(query.metric));
  };
  for (size_t s = 0; s < series_count; ++s) {
    for (size_t g = 0; g < names.size(); ++g) {
      const GroupCells& cells = grouped[s][g];
      Series series{SeriesName(s), names[g], {}, value(cells.total)};
      for (size_t b = 0; b < buckets.size(); ++b) series.values.push_back(value(cells.buckets[b]));
      result.series.push_back(std::move(series));
    }
  }
  for (size_t f = 0; f < formulas.size(); ++f) {
    for (size_t g = 0; g < names.size(); ++g) {
      auto evaluate = [&](int b) {
        return formulas[f].Evaluate([&](int s, Formula::Aggregate aggregate) -> Number {
          const GroupCells& cells = grouped[s][g];
          const Cell& cell = b < 0 ? cells.total : cells.buckets[b];
          return static_cast<double>(aggregate == Formula::Aggregate::kTotals ? cell.count
                                                                              : cell.uniques);
        });
      };
      Series series{query.formulas[f], names[g], {}, evaluate(-1)};
      for (size_t b = 0; b < buckets.size(); ++b) {
        series.values.push_back(evaluate(static_cast<int>(b)));
      }
      result.series.push_back(std::move(series));
    }
  }
  return result;
}

}  // namespace cohort::analytics::clickhouse
