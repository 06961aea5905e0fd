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
#include "analytics/stats/bonferroni.h"
#include "analytics/stats/msprt.h"
#include "analytics/stats/proportion_ztest.h"
#include "analytics/stats/sample_moments.h"
#include "analytics/stats/sample_ratio.h"
#include "analytics/stats/welch_ttest.h"
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
      DedupedEventsSql(table, scope), " AS x_e WHERE time_ms >= ", SqlInt(scope.from_ms),
      " AND time_ms < ", SqlInt(scope.to_ms),
      " AND (x_exposure = 1 OR x_goal = 1)) AS x_in GROUP BY x_actor) AS x_g "
      "WHERE x_first > 0) AS x_a ARRAY JOIN x_variants AS x_variant");
}

// One exposed actor.
struct Outcome {
  std::set<std::string> variants;  // labels
  bool converted = false;
  double value = 0;  // Σ goal values in total order
};

struct Arm {
  std::string name;
  int64_t exposed = 0;
  int64_t converted = 0;
  double sum = 0;
  double sum_of_squares = 0;
};

absl::Status Named(const char* field, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", std::string(status.message())));
}

// As the reference (analytics/reference/experiments.cc) and the embedded store.
stats::SampleMoments MomentsOf(const Arm& arm, bool mean_metric) {
  const int64_t n = arm.exposed;
  const double sum = mean_metric ? arm.sum : static_cast<double>(arm.converted);
  const double squares = mean_metric ? arm.sum_of_squares : sum;  // 0² = 0, 1² = 1
  stats::SampleMoments moments{n, n > 0 ? sum / static_cast<double>(n) : 0, 0};
  if (n >= 2) {
    absl::StatusOr<stats::SampleMoments> exact = stats::SampleMomentsFromSums(n, sum, squares);
    if (exact.ok()) moments = *exact;
  }
  return moments;
}

template <typename Test>
void FillComparison(const Test& test, VariantResult* out) {
  out->p_value = test.p_value;
  out->degenerate = test.degenerate;
  out->difference = test.difference;
  out->difference_low = test.difference_ci.lower;
  out->difference_high = test.difference_ci.upper;
  if (test.relative_lift) {
    out->lift = *test.relative_lift;
    out->lift_low = test.relative_lift_ci->lower;
    out->lift_high = test.relative_lift_ci->upper;
  }
}

// `arm` against `control` into `out`: the metric's test, Bonferroni over `comparisons`, mSPRT.
absl::Status Compare(const ExperimentQuery& query, bool mean_metric, int64_t comparisons,
                     const Arm& control, const Arm& arm, const stats::SampleMoments& moments,
                     VariantResult* out) {
  std::optional<stats::DifferenceEstimate> estimate;
  if (!mean_metric) {
    const stats::ProportionCounts x1{arm.converted, arm.exposed};
    const stats::ProportionCounts x0{control.converted, control.exposed};
    if (x0.n > 0) {
      absl::StatusOr<stats::ProportionTestResult> test =
          stats::TwoProportionZTest(x0, x1, query.confidence);
      if (!test.ok()) return Named("confidence", test.status());
      FillComparison(*test, out);
      absl::StatusOr<stats::DifferenceEstimate> d = stats::DifferenceOfProportions(x0, x1);
      if (d.ok()) estimate = *d;
    }
  } else {
    const stats::SampleMoments m0 = MomentsOf(control, mean_metric);
    if (m0.n >= 2 && moments.n >= 2) {
      absl::StatusOr<stats::WelchTestResult> test =
          stats::WelchTTest(m0, moments, query.confidence);
      if (!test.ok()) return Named("confidence", test.status());
      FillComparison(*test, out);
      absl::StatusOr<stats::DifferenceEstimate> d = stats::DifferenceOfMeans(m0, moments);
      if (d.ok()) estimate = *d;
    }
  }
  if (out->p_value && comparisons > 1) {
    absl::StatusOr<double> adjusted = stats::BonferroniAdjust(*out->p_value, comparisons);
    if (adjusted.ok()) out->p_value_adjusted = *adjusted;
  }
  if (query.msprt_tau2 && estimate) {
    absl::StatusOr<stats::MixtureSprtLook> look = stats::MixtureSprt(*estimate, *query.msprt_tau2);
    if (!look.ok()) return Named("msprt_tau2", look.status());
    out->always_valid_p_value = look->p_value;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExperimentResult> RunExperiment(const ExperimentQuery& query, SqlExecutor& executor,
                                               const std::string& table) {
  absl::StatusOr<Calendar> calendar = Calendar::Load(query.scope.time_zone);
  if (!calendar.ok()) return Named("time_zone", calendar.status());
  absl::Status supported = CheckSelectorSupported(query.goal, "goal");
  if (!supported.ok()) return supported;
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
  std::map<std::string, Arm> arms;  // by name
  for (const auto& [actor, outcome] : outcomes) {
    if (outcome.variants.size() > 1) {
      ++result.multiple_exposures;
      continue;
    }
    Arm& arm = arms[*outcome.variants.begin()];
    arm.name = *outcome.variants.begin();
    ++arm.exposed;
    arm.converted += outcome.converted;
    arm.sum += outcome.value;
    arm.sum_of_squares += outcome.value * outcome.value;
  }

  // The control first, then by name.
  std::vector<const Arm*> ordered;
  auto control_it = arms.find(query.control);
  const Arm* control = control_it == arms.end() ? nullptr : &control_it->second;
  if (control != nullptr) ordered.push_back(control);
  for (const auto& [name, arm] : arms) {
    if (&arm != control) ordered.push_back(&arm);
  }
  const int64_t comparisons = static_cast<int64_t>(ordered.size()) - 1;
  for (const Arm* arm : ordered) {
    VariantResult variant;
    variant.variant = arm->name;
    variant.actors = arm->exposed;
    variant.conversions = arm->converted;
    const stats::SampleMoments moments = MomentsOf(*arm, mean_metric);
    variant.mean = moments.mean;
    variant.variance = moments.variance;
    if (control != nullptr && arm != control) {
      absl::Status compared =
          Compare(query, mean_metric, comparisons, *control, *arm, moments, &variant);
      if (!compared.ok()) return compared;
    }
    result.variants.push_back(std::move(variant));
  }

  if (arms.size() >= 2) {
    std::vector<int64_t> observed;
    for (const auto& [name, arm] : arms) observed.push_back(arm.exposed);
    absl::StatusOr<stats::SampleRatioResult> srm =
        stats::SampleRatioMismatch(observed, query.expected_split);
    if (!srm.ok()) return Named("expected_split", srm.status());
    result.srm_chi_squared = srm->chi_squared;
    result.srm_p_value = srm->p_value;
    result.sample_ratio_mismatch = srm->mismatch;
  }
  return result;
}

}  // namespace cohort::analytics::clickhouse
