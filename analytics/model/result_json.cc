#include "analytics/model/result_json.h"

#include <variant>

namespace cohort::analytics {
namespace {

using json = nlohmann::json;

json Num(const Number& n) { return n ? json(*n) : json(nullptr); }

json Nums(const std::vector<Number>& v) {
  json out = json::array();
  for (const Number& n : v) out.push_back(Num(n));
  return out;
}

json ToJson(const SegmentationResult& r) {
  json series = json::array();
  for (const Series& s : r.series) {
    json one = {{"name", s.name}, {"values", Nums(s.values)}, {"total", Num(s.total)}};
    if (!s.group.empty()) one["group"] = s.group;
    series.push_back(std::move(one));
  }
  return {{"type", "segmentation"}, {"buckets", r.buckets}, {"series", std::move(series)}};
}

json ToJson(const ActiveUsersResult& r) {
  return {{"type", "activeUsers"}, {"buckets", r.buckets}, {"values", r.values}};
}

json ToJson(const StickinessResult& r) {
  return {{"type", "stickiness"},
          {"days", r.days},
          {"dauOverMau", Nums(r.dau_over_mau)},
          {"meanDauOverMau", Num(r.mean_dau_over_mau)},
          {"weeks", r.weeks},
          {"daysActivePerWeek", r.days_active_per_week}};
}

json ToJson(const SessionsResult& r) {
  return {{"type", "sessions"},
          {"buckets", r.buckets},
          {"counts", r.counts},
          {"averageLengthSeconds", Nums(r.average_length_s)},
          {"histogram", r.histogram},
          {"totalCount", r.total_count},
          {"totalAverageLengthSeconds", Num(r.total_average_length_s)}};
}

json RowJson(const RetentionRow& row, bool with_day) {
  json cells = json::array();
  for (const RetentionCell& c : row.cells) {
    cells.push_back({{"count", c.count}, {"outOf", c.out_of}, {"incomplete", c.incomplete}});
  }
  json out = {{"size", row.size}, {"cells", std::move(cells)}};
  if (with_day) out["cohortDay"] = row.cohort_day;
  return out;
}

json ToJson(const RetentionResult& r) {
  json rows = json::array();
  for (const RetentionRow& row : r.rows) rows.push_back(RowJson(row, true));
  return {{"type", "retention"}, {"rows", std::move(rows)}, {"total", RowJson(r.total, false)}};
}

json GroupJson(const FunnelGroup& g) {
  json steps = json::array();
  for (const FunnelStep& s : g.steps) {
    steps.push_back({{"actors", s.actors},
                     {"conversionFromFirst", Num(s.conversion_from_first)},
                     {"conversionFromPrevious", Num(s.conversion_from_previous)},
                     {"averageTimeMs", Num(s.average_time_ms)},
                     {"medianTimeMs", s.median_time_ms ? json(*s.median_time_ms) : json(nullptr)}});
  }
  json out = {{"steps", std::move(steps)}};
  if (!g.group.empty()) out["group"] = g.group;
  return out;
}

json ToJson(const FunnelResult& r) {
  json groups = json::array();
  for (const FunnelGroup& g : r.groups) groups.push_back(GroupJson(g));
  return {{"type", "funnel"}, {"all", GroupJson(r.all)}, {"groups", std::move(groups)}};
}

json ToJson(const ExperimentResult& r) {
  json variants = json::array();
  for (const VariantResult& v : r.variants) {
    variants.push_back({{"variant", v.variant},
                        {"actors", v.actors},
                        {"conversions", v.conversions},
                        {"mean", v.mean},
                        {"variance", v.variance},
                        {"pValue", Num(v.p_value)},
                        {"pValueAdjusted", Num(v.p_value_adjusted)},
                        {"difference", Num(v.difference)},
                        {"differenceLow", Num(v.difference_low)},
                        {"differenceHigh", Num(v.difference_high)},
                        {"lift", Num(v.lift)},
                        {"liftLow", Num(v.lift_low)},
                        {"liftHigh", Num(v.lift_high)},
                        {"alwaysValidPValue", Num(v.always_valid_p_value)},
                        {"degenerate", v.degenerate}});
  }
  return {{"type", "experiment"},
          {"variants", std::move(variants)},
          {"multipleExposures", r.multiple_exposures},
          {"srmChiSquared", r.srm_chi_squared},
          {"srmPValue", r.srm_p_value},
          {"sampleRatioMismatch", r.sample_ratio_mismatch}};
}

}  // namespace

json ResultToJson(const Result& result) {
  return std::visit([](const auto& r) { return ToJson(r); }, result);
}

}  // namespace cohort::analytics
