#include "analytics/model/result_json.h"

#include <gtest/gtest.h>

namespace cohort::analytics {
namespace {

using json = nlohmann::json;

TEST(ResultJsonTest, ActiveUsersAndNullNumbers) {
  EXPECT_EQ(ResultToJson(ActiveUsersResult{{0, 86400000}, {3, 4}}),
            json::parse(R"({"type":"activeUsers","buckets":[0,86400000],"values":[3,4]})"));
  SegmentationResult s;
  s.buckets = {0};
  s.series.push_back(Series{"UNIQUES(B)/UNIQUES(A)", "", {std::nullopt}, 0.5});
  s.series.push_back(Series{"A", "buy", {2.0}, 2.0});
  EXPECT_EQ(ResultToJson(s), json::parse(R"J({"type":"segmentation","buckets":[0],"series":[
      {"name":"UNIQUES(B)/UNIQUES(A)","values":[null],"total":0.5},
      {"name":"A","group":"buy","values":[2.0],"total":2.0}]})J"));
}

TEST(ResultJsonTest, RetentionFunnelSessionsExperimentStickiness) {
  RetentionResult r;
  r.rows.push_back(RetentionRow{86400000, 10, {RetentionCell{4, 9, true}}});
  r.total = RetentionRow{0, 10, {RetentionCell{4, 9, true}}};
  EXPECT_EQ(ResultToJson(r), json::parse(R"({"type":"retention",
      "rows":[{"cohortDay":86400000,"size":10,"cells":[{"count":4,"outOf":9,"incomplete":true}]}],
      "total":{"size":10,"cells":[{"count":4,"outOf":9,"incomplete":true}]}})"));

  FunnelResult f;
  f.all.steps.push_back(FunnelStep{10, 1.0, 1.0, std::nullopt, std::nullopt});
  f.all.steps.push_back(FunnelStep{4, 0.4, 0.4, 1500.0, 1000});
  json fj = ResultToJson(f);
  EXPECT_EQ(fj["all"]["steps"][1]["medianTimeMs"], 1000);
  EXPECT_TRUE(fj["all"]["steps"][0]["averageTimeMs"].is_null());
  EXPECT_FALSE(fj["all"].contains("group"));
  EXPECT_EQ(fj["groups"], json::array());

  SessionsResult sr;
  sr.buckets = {0};
  sr.counts = {2};
  sr.average_length_s = {30.5};
  sr.histogram = {{1, 1}};
  sr.total_count = 2;
  sr.total_average_length_s = 30.5;
  EXPECT_EQ(ResultToJson(sr)["averageLengthSeconds"], json::parse("[30.5]"));

  ExperimentResult e;
  e.variants.push_back(VariantResult{.variant = "control", .actors = 100, .conversions = 10});
  e.srm_p_value = 0.5;
  json ej = ResultToJson(e);
  EXPECT_EQ(ej["variants"][0]["variant"], "control");
  EXPECT_TRUE(ej["variants"][0]["pValue"].is_null());
  EXPECT_EQ(ej["srmPValue"], 0.5);

  StickinessResult st;
  st.days = {0};
  st.dau_over_mau = {std::nullopt};
  st.weeks = {0};
  st.days_active_per_week = {{1, 0, 0, 0, 0, 0, 0}};
  EXPECT_EQ(ResultToJson(st)["daysActivePerWeek"][0][0], 1);
}

}  // namespace
}  // namespace cohort::analytics
