#include "analytics/reference/segmentation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analytics/reference/reference_engine.h"
#include "analytics/reference/test_events.h"

namespace cohort::analytics {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::CellActors;
using ::cohort::analytics::testing::Ev;
using ::cohort::analytics::testing::RunAs;
using ::cohort::analytics::testing::Scope;
using ::cohort::analytics::testing::With;
using ::testing::ElementsAre;

Event Click(int64_t t, const std::string& user, const char* button = nullptr) {
  Event e = Ev("click", t, user);
  return button ? With(std::move(e), "button", PropertyValue::String(button)) : e;
}

// Four UTC days, Jan 1..4 2026. Clicks: Jan 1 u1 ×2 (buy), u2 (buy); Jan 2 u1 (sell); Jan 3 u3
// (no button). Views: Jan 1 u2, Jan 2 u3, Jan 3 u3. Outside: a click just before and one at the
// range end.
ReferenceEngine Data() {
  return ReferenceEngine({
      Click(At(2026, 1, 1, 10), "u1", "buy"),
      Click(At(2026, 1, 1, 11), "u1", "buy"),
      Click(At(2026, 1, 1, 12), "u2", "buy"),
      Ev("view", At(2026, 1, 1, 13), "u2"),
      Click(At(2026, 1, 2, 9), "u1", "sell"),
      Ev("view", At(2026, 1, 2, 9), "u3"),
      Ev("view", At(2026, 1, 3, 9), "u3"),
      Click(At(2026, 1, 3, 23, 59, 59), "u3"),
      Click(At(2026, 1, 1) - 1, "u1", "buy"),
      Click(At(2026, 1, 5), "u4", "buy"),
  });
}

SegmentationQuery SegQuery(SeriesMetric metric, std::vector<std::string> types) {
  SegmentationQuery query;
  query.scope = Scope(At(2026, 1, 1), At(2026, 1, 5));
  for (std::string& type : types) query.events.push_back({std::move(type), {}});
  query.metric = metric;
  return query;
}

TEST(SegmentationTest, TotalsAndUniquesPerDayAndOverTheRange) {
  ReferenceEngine engine = Data();
  auto totals =
      RunAs<SegmentationResult>(engine, SegQuery(SeriesMetric::kTotals, {"click", "view"}));
  EXPECT_THAT(totals.buckets,
              ElementsAre(At(2026, 1, 1), At(2026, 1, 2), At(2026, 1, 3), At(2026, 1, 4)));
  ASSERT_EQ(totals.series.size(), 2u);
  EXPECT_EQ(totals.series[0], (Series{"A", "", {3, 1, 1, 0}, 5}));
  EXPECT_EQ(totals.series[1], (Series{"B", "", {1, 1, 1, 0}, 3}));

  auto uniques =
      RunAs<SegmentationResult>(engine, SegQuery(SeriesMetric::kUniques, {"click", "view"}));
  EXPECT_EQ(uniques.series[0], (Series{"A", "", {2, 1, 1, 0}, 3}));
  EXPECT_EQ(uniques.series[1], (Series{"B", "", {1, 1, 1, 0}, 2}));
}

TEST(SegmentationTest, FormulasUseIndependentCountsAndDivisionByZeroIsNull) {
  SegmentationQuery query = SegQuery(SeriesMetric::kTotals, {"click", "view"});
  query.formulas = {"UNIQUES(A)/UNIQUES(B)", "TOTALS(A) - 2 * TOTALS(B)"};
  auto result = RunAs<SegmentationResult>(Data(), query);
  ASSERT_EQ(result.series.size(), 4u);
  EXPECT_EQ(result.series[2],
            (Series{"UNIQUES(A)/UNIQUES(B)", "", {2.0, 1.0, 1.0, std::nullopt}, 1.5}));
  EXPECT_EQ(result.series[3], (Series{"TOTALS(A) - 2 * TOTALS(B)", "", {1, -1, -1, 0}, -1}));

  query.formulas = {"UNIQUES(C)"};
  absl::StatusOr<Result> bad = Data().Run(query);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::StartsWith("formulas[0]"));
}

TEST(SegmentationTest, GroupByKeepsTheTopGroupsAndMergesTheRestIntoOther) {
  SegmentationQuery query = SegQuery(SeriesMetric::kTotals, {"click"});
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "button"};
  query.limit = 1;
  auto totals = RunAs<SegmentationResult>(Data(), query);
  EXPECT_THAT(totals.series, ElementsAre(Series{"A", "buy", {3, 0, 0, 0}, 3},
                                         Series{"A", "(other)", {0, 1, 1, 0}, 2}));

  // sell and (none) tie at 1: the label bytes decide, "(" < "s".
  query.limit = 2;
  totals = RunAs<SegmentationResult>(Data(), query);
  EXPECT_THAT(totals.series, ElementsAre(Series{"A", "buy", {3, 0, 0, 0}, 3},
                                         Series{"A", "(none)", {0, 0, 1, 0}, 1},
                                         Series{"A", "(other)", {0, 1, 0, 0}, 1}));

  // Uniques: "(other)" counts distinct actors over the merged groups (u1 sold, u3 had none).
  query.metric = SeriesMetric::kUniques;
  query.limit = 1;
  auto uniques = RunAs<SegmentationResult>(Data(), query);
  EXPECT_THAT(uniques.series, ElementsAre(Series{"A", "buy", {2, 0, 0, 0}, 2},
                                          Series{"A", "(other)", {0, 1, 1, 0}, 2}));

  // No "(other)" when every label fits.
  query.limit = 10;
  uniques = RunAs<SegmentationResult>(Data(), query);
  ASSERT_EQ(uniques.series.size(), 3u);
  EXPECT_EQ(uniques.series[2].group, "sell");
}

TEST(SegmentationTest, FormulaSeriesCarryTheQuerysGroups) {
  // Labels over both series: (none) 1 click + 3 views = 4, buy 3, sell 1.
  SegmentationQuery query = SegQuery(SeriesMetric::kTotals, {"click", "view"});
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "button"};
  query.limit = 2;
  query.formulas = {"TOTALS(A)/TOTALS(B)"};
  auto result = RunAs<SegmentationResult>(Data(), query);
  ASSERT_EQ(result.series.size(), 9u);
  std::vector<std::string> groups;
  for (const Series& s : result.series) groups.push_back(s.name + "/" + s.group);
  EXPECT_THAT(groups, ElementsAre("A/(none)", "A/buy", "A/(other)", "B/(none)", "B/buy",
                                  "B/(other)", "TOTALS(A)/TOTALS(B)/(none)",
                                  "TOTALS(A)/TOTALS(B)/buy", "TOTALS(A)/TOTALS(B)/(other)"));
  EXPECT_EQ(result.series[3], (Series{"B", "(none)", {1, 1, 1, 0}, 3}));
  EXPECT_EQ(result.series[4], (Series{"B", "buy", {0, 0, 0, 0}, 0}));
  EXPECT_EQ(result.series[6],
            (Series{"TOTALS(A)/TOTALS(B)", "(none)", {0.0, 0.0, 1.0, std::nullopt}, 1.0 / 3}));
  EXPECT_EQ(result.series[7], (Series{"TOTALS(A)/TOTALS(B)",
                                      "buy",
                                      {std::nullopt, std::nullopt, std::nullopt, std::nullopt},
                                      std::nullopt}));
}

TEST(SegmentationTest, UserPropertyFiltersReadTheStateAsOfTheEvent) {
  Event identify = Ev("$identify", At(2026, 1, 2), "u1");
  identify.user_properties["$set"] = PropertyValue::Json(R"({"plan":"pro"})");
  ReferenceEngine engine({Click(At(2026, 1, 1, 10), "u1"), identify,
                          Click(At(2026, 1, 2, 10), "u1"), Click(At(2026, 1, 3, 10), "u2")});
  SegmentationQuery query = SegQuery(SeriesMetric::kTotals, {"click"});
  query.events[0].filters = {
      {{PropertyRef::Scope::kUser, "plan"}, FilterOp::kEquals, {PropertyValue::String("pro")}}};
  auto result = RunAs<SegmentationResult>(engine, query);
  EXPECT_EQ(result.series[0], (Series{"A", "", {0, 1, 0, 0}, 1}));
}

TEST(SegmentationTest, DrillDownListsTheActorsOfEachCellInPages) {
  ReferenceEngine engine = Data();
  SegmentationQuery query = SegQuery(SeriesMetric::kTotals, {"click", "view"});
  EXPECT_THAT(CellActors(engine, query, {0, 0}), ElementsAre("u1", "u2"));
  EXPECT_THAT(CellActors(engine, query, {0, -1}, 1), ElementsAre("u1", "u2", "u3"));
  EXPECT_THAT(CellActors(engine, query, {1, 2}), ElementsAre("u3"));
  EXPECT_THAT(CellActors(engine, query, {1, 3}), ElementsAre());

  absl::StatusOr<ActorsPage> page = engine.Actors(query, {0, -1}, "", 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (ActorsPage{{"u1", "u2"}, true}));
  page = engine.Actors(query, {0, -1}, "u2", 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (ActorsPage{{"u3"}, false}));

  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "button"};
  query.limit = 1;
  query.formulas = {"UNIQUES(A)"};
  // Rows: A/(none), A/(other), B/(none), B/(other); formulas have no actors.
  EXPECT_THAT(CellActors(engine, query, {1, -1}), ElementsAre("u1", "u2"));
  absl::StatusOr<ActorsPage> formula = engine.Actors(query, {4, 0}, "", 10);
  EXPECT_EQ(formula.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::analytics
