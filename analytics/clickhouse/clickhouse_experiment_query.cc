#include "analytics/clickhouse/clickhouse_experiment_query.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"
#include "analytics/clickhouse/clickhouse_query_rows.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/clickhouse/clickhouse_user_properties_sql.h"
#include "analytics/model/experiment_arms.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::clickhouse {
namespace {

// One row per (exposed actor, distinct variant value): actor, converted, the goal values
// ("1.5,0,2"; mean metric only), and the value's kind, text and number.
std::string ExperimentSql(const ExperimentQuery& query, const std::string& table) {
  const QueryScope& scope = query.scope;
  const bool mean_metric = query.sum_property.has_value();
  std::string value = "toFloat64(0)";
  if (mean_metric) {
    value = absl::StrCat(
        "if(x_si = 0 OR isNaN(prop_numbers[x_si]), toFloat64(0), "
        "prop_numbers[x_si])");
  }
  return absl::StrCat(
      "SELECT x_actor, x_converted, x_values, tupleElement(x_variant, 1) AS x_k, "
      "tupleElement(x_variant, 2) AS x_s, tupleElement(x_variant, 3) AS x_n FROM ("
      "SELECT x_actor, arrayFirstIndex(x -> tupleElement(x, 5) = 1, x_ev) AS x_first, "
      "tupleElement(x_ev[x_first], 1) + ",
      SqlInt(query.window_ms),
      " AS x_deadline, arrayFilter((x, i) -> i > x_first AND tupleElement(x, 1) <= x_deadline AND "
      "tupleElement(x, 9) = 1, x_ev, arrayEnumerate(x_ev)) AS x_goals, "
      "length(x_goals) > 0 AS x_converted, "
      "arrayStringConcat(arrayMap(x -> toString(tupleElement(x, 10)), x_goals), ',') AS x_values, "
      "arrayDistinct(arrayMap(x -> (tupleElement(x, 6), tupleElement(x, 7), tupleElement(x, 8)), "
      "arrayFilter(x -> tupleElement(x, 5) = 1, x_ev))) AS x_variants "
      "FROM (SELECT x_actor, arraySort(groupArray((x_t, x_id, x_dev, x_user, x_exposure, x_vk, "
      "x_vs, x_vn, x_goal, x_value))) AS x_ev FROM (SELECT actor AS x_actor, time_ms AS x_t, "
      "insert_id AS x_id, device_id AS x_dev, user_id AS x_user, indexOf(prop_keys, ",
      SqlString(query.variant_property), ") AS x_vi, indexOf(prop_keys, ",
      SqlString(query.sum_property.value_or("")),
      ") AS x_si, toUInt8(if(event_type = ", SqlString(query.exposure_event),
      " AND x_vi > 0, 1, 0)) AS x_exposure, ", PropertyKindSql("x_vi"), " AS x_vk, ",
      PropertyStringSql("x_vi"), " AS x_vs, ", PropertyNumberSql("x_vi"), " AS x_vn, toUInt8(if(",
      SelectorSql(query.goal, scope), ", 1, 0)) AS x_goal, ", value, " AS x_value FROM ",
      DedupedEventsSql(table, scope, UserPropertyKeys({&query.goal}, std::nullopt)),
      " AS x_e WHERE time_ms >= ", SqlInt(scope.from_ms), " AND time_ms < ", SqlInt(scope.to_ms),
      " AND (x_exposure = 1 OR x_goal = 1)) AS x_in GROUP BY x_actor) AS x_g "
      "WHERE x_first > 0) AS x_a ARRAY JOIN x_variants AS x_variant");
}

// One exposed actor.
struct Outcome {
  std::set<std::string> variants;  // labels
  bool converted = false;
  double value = 0;  // Σ goal values in total order
};

absl::Status Named(const char* field, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", std::string(status.message())));
}

}  // namespace

absl::StatusOr<ExperimentResult> RunExperiment(const ExperimentQuery& query, SqlExecutor& executor,
                                               const std::string& table, CellActorsRequest* cells) {
  absl::StatusOr<Calendar> calendar = Calendar::Load(query.scope.time_zone);
  if (!calendar.ok()) return Named("time_zone", calendar.status());
  const bool mean_metric = query.sum_property.has_value();

  absl::StatusOr<std::string> answer =
      executor.Query(ExperimentSql(query, table), Format::kTabSeparated);
  if (!answer.ok()) return answer.status();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseTsvRows(*answer, 6);
  if (!rows.ok()) return rows.status();
  // std::map: actor-id (byte) order, the order the arms' sums run in.
  std::map<std::string, Outcome> outcomes;
  for (const std::vector<std::string>& row : *rows) {
    auto [it, inserted] = outcomes.try_emplace(row[0]);
    Outcome& outcome = it->second;
    absl::StatusOr<std::string> label = LabelFromColumns(row[3], row[4], row[5]);
    if (!label.ok()) return label.status();
    outcome.variants.insert(*std::move(label));
    if (!inserted) continue;  // the other columns repeat per variant value
    outcome.converted = row[1] == "1";
    if (!mean_metric || row[2].empty()) continue;
    size_t start = 0;
    for (size_t end = 0; end <= row[2].size(); ++end) {
      if (end < row[2].size() && row[2][end] != ',') continue;
      absl::StatusOr<double> value =
          ParseDouble(std::string_view(row[2]).substr(start, end - start));
      if (!value.ok()) return value.status();
      outcome.value += *value;
      start = end + 1;
    }
  }

  ExperimentResult result;
  std::map<std::string, ExperimentArm> arms;  // by name
  for (const auto& [actor, outcome] : outcomes) {
    if (outcome.variants.size() > 1) {
      ++result.multiple_exposures;
      continue;
    }
    ExperimentArm& arm = arms[*outcome.variants.begin()];
    arm.name = *outcome.variants.begin();
    ++arm.actors;
    arm.conversions += outcome.converted;
    arm.sum += outcome.value;
    arm.sum_of_squares += outcome.value * outcome.value;
  }

  std::vector<const ExperimentArm*> by_name;
  for (const auto& [name, arm] : arms) by_name.push_back(&arm);
  absl::Status summarized = SummarizeExperimentArms(query, by_name, &result);
  if (!summarized.ok()) return summarized;
  if (cells != nullptr) {
    // A variant's exposed actors (column 0) or those of them who converted (column 1); actors
    // exposed to several variants belong to none.
    const CellRef target = cells->cell();
    std::vector<std::string> actors;
    if (target.row >= 0 && static_cast<size_t>(target.row) < result.variants.size()) {
      const std::string& variant = result.variants[target.row].variant;
      for (const auto& [actor, outcome] : outcomes) {
        if (outcome.variants.size() == 1 && *outcome.variants.begin() == variant &&
            (target.column == 0 || (target.column == 1 && outcome.converted))) {
          actors.push_back(actor);
        }
      }
    }
    cells->TakeActors(std::move(actors));
  }
  return result;
}

}  // namespace cohort::analytics::clickhouse
