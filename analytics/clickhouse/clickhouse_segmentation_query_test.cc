// RunSegmentation on a real engine (18.16, or chdb: query_test_base.h) against the brute-force
// reference on randomized datasets: random series (event types, `_active`, `_all`, event property
// filters), both metrics, intervals, time zones, identity modes, group-bys with small limits (so
// "(other)" appears; "price" holds numbers and numeric strings, so labels like "3" merge two
// values) and formulas, user-property filters and group-bys. Plus hand-checked cases.
#include "analytics/clickhouse/clickhouse_segmentation_query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/describe.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::clickhouse {
namespace {

using ::cohort::analytics::testing::Describe;
using ::cohort::analytics::testing::MakeFilter;

using SegmentationQueryTest = testing::ClickHouseQueryTest;

TEST_F(SegmentationQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0, nonzero = 0, with_other = 0, with_null = 0, with_user = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    std::mt19937 drill_rng(seed + 1000);  // cells drawn apart, so the queries stay the same
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("segmentation", seed);
    std::vector<Event> events = analytics::testing::RandomEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < 4; ++q) {
        SegmentationQuery query =
            analytics::testing::RandomSegmentationQuery(rng, options, identity);
        SegmentationQuery reduced = query;
        if (analytics::testing::StripUserProperties(reduced)) ++with_user;
        absl::StatusOr<SegmentationResult> got = RunSegmentation(query, Sql(), Table());
        ASSERT_TRUE(got.ok()) << got.status();
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<SegmentationResult>(*expected);
        ASSERT_EQ(*got, want) << "seed " << seed << " query " << q << " on " << EngineName() << "\n"
                              << Describe(query) << "clickhouse:\n"
                              << Describe(*got) << "reference:\n"
                              << Describe(want);
        drilled += ExpectDrillDownAgrees(query, reference, drill_rng);
        ++compared;
        for (const Series& s : want.series) {
          if (s.total && *s.total > 0) ++nonzero;
          if (s.group == kOtherGroup) ++with_other;
          if (!s.total) ++with_null;
        }
      }
    }
  }
  EXPECT_EQ(compared, 10 * 2 * 4);
  std::printf("%s: %d drill-down cells compared\n", EngineName(), drilled);
  EXPECT_GT(drilled, 0);
  // The random queries reach the interesting cases.
  EXPECT_GT(nonzero, compared);
  EXPECT_GT(with_other, 10);
  EXPECT_GT(with_user, 10);  // queries filtering or grouping by user properties
  std::cout << compared << " queries (" << with_user << " with user properties), " << nonzero
            << " nonzero series, " << with_other << " (other) series, " << with_null
            << " null totals\n";
}

Event MakeEvent(std::string project, std::string user, int64_t t, std::string id, std::string type,
                Properties event_properties = {}) {
  Event e;
  e.project = std::move(project);
  e.user_id = std::move(user);
  e.time_ms = t;
  e.insert_id = std::move(id);
  e.event_type = std::move(type);
  e.event_properties = std::move(event_properties);
  return e;
}

constexpr int64_t kDay1 = 1'772'841'600'000;  // 2026-03-07 UTC
constexpr int64_t kDay2 = kDay1 + 86'400'000;

TEST_F(SegmentationQueryTest, HandCheckedGroupsOtherUniquesAndFormulas) {
  auto button = [](const char* b) { return Properties{{"button", PropertyValue::String(b)}}; };
  const std::string p = "segmentation-hand";
  // u1: click x (day 1), click y, click y (day 2); u2: click y (day 1), click z (day 2);
  // u3: click z, view, click x (day 2). Labels by events: y 3, x 2, z 2, the view's (none) 1.
  Insert({MakeEvent(p, "u1", kDay1 + 1, "a", "click", button("x")),
          MakeEvent(p, "u1", kDay2 + 1, "b", "click", button("y")),
          MakeEvent(p, "u1", kDay2 + 2, "c", "click", button("y")),
          MakeEvent(p, "u2", kDay1 + 5, "d", "click", button("y")),
          MakeEvent(p, "u2", kDay2 + 5, "e", "click", button("z")),
          MakeEvent(p, "u3", kDay2 + 7, "f", "click", button("z")),
          MakeEvent(p, "u3", kDay2 + 8, "g", "view"),
          MakeEvent(p, "u3", kDay2 + 9, "h", "click", button("x"))},
         3);
  SegmentationQuery query;
  query.scope.project = p;
  query.scope.from_ms = kDay1;
  query.scope.to_ms = kDay2 + 86'400'000;
  query.events = {EventSelector{"click", {}}, EventSelector{"view", {}}};
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "button"};
  query.limit = 1;
  query.formulas = {"TOTALS(A)/UNIQUES(B)"};
  absl::StatusOr<SegmentationResult> r = RunSegmentation(query, Sql(), Table());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->buckets, (std::vector<int64_t>{kDay1, kDay2}));
  // Totals: "y" first (3 events), then "(other)" = x, z and the view's "(none)".
  std::vector<Series> want = {
      {"A", "y", {1.0, 2.0}, 3.0},
      {"A", "(other)", {1.0, 3.0}, 4.0},
      {"B", "y", {0.0, 0.0}, 0.0},
      {"B", "(other)", {0.0, 1.0}, 1.0},
      {"TOTALS(A)/UNIQUES(B)", "y", {std::nullopt, std::nullopt}, std::nullopt},
      {"TOTALS(A)/UNIQUES(B)", "(other)", {std::nullopt, 3.0}, 4.0},
  };
  EXPECT_EQ(r->series, want) << Describe(*r);

  // Uniques: x has u1, u3; y has u1, u2; z has u2, u3: a tie that "x" wins by bytes. "(other)"
  // (y, z, none) counts u1, u2, u3 once each: 3 over the range, not 2 + 2.
  query.metric = SeriesMetric::kUniques;
  query.formulas = {};
  r = RunSegmentation(query, Sql(), Table());
  ASSERT_TRUE(r.ok()) << r.status();
  want = {
      {"A", "x", {1.0, 1.0}, 2.0},
      {"A", "(other)", {1.0, 3.0}, 3.0},
      {"B", "x", {0.0, 0.0}, 0.0},
      {"B", "(other)", {0.0, 1.0}, 1.0},
  };
  EXPECT_EQ(r->series, want) << Describe(*r);

  // Without group-by.
  query.group_by.reset();
  r = RunSegmentation(query, Sql(), Table());
  ASSERT_TRUE(r.ok()) << r.status();
  want = {{"A", "", {2.0, 3.0}, 3.0}, {"B", "", {0.0, 1.0}, 1.0}};
  EXPECT_EQ(r->series, want) << Describe(*r);

  // A range starting inside the first bucket leaves out the bucket's earlier events (u1's x).
  query.scope.from_ms = kDay1 + 2;
  r = RunSegmentation(query, Sql(), Table());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->buckets, (std::vector<int64_t>{kDay1, kDay2}));
  want = {{"A", "", {1.0, 3.0}, 3.0}, {"B", "", {0.0, 1.0}, 1.0}};
  EXPECT_EQ(r->series, want) << Describe(*r);
  query.scope.from_ms = kDay1;

  query.formulas = {"UNIQUES(C)"};
  EXPECT_EQ(RunSegmentation(query, Sql(), Table()).status().code(),
            absl::StatusCode::kInvalidArgument);
  query.formulas = {};
  query.scope.time_zone = "Mars/Olympus";
  EXPECT_EQ(RunSegmentation(query, Sql(), Table()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SegmentationQueryTest, ValuesWithOneLabelAreOneGroup) {
  // "3" and 3, "true" and true, "null" and null, '[1]' and [1], "(none)" and a missing value:
  // one label each, so one group, whose uniques count u1 once. Numbers are labelled as
  // PropertyValue::Label writes them: 1e5 is "1e+05", another group than the string "100000".
  const std::string p = "segmentation-labels";
  const std::vector<std::pair<PropertyValue, PropertyValue>> kPairs = {
      {PropertyValue::String("3"), PropertyValue::Number(3)},
      {PropertyValue::String("true"), PropertyValue::Bool(true)},
      {PropertyValue::String("null"), PropertyValue::Null()},
      {PropertyValue::String("[1]"), PropertyValue::Json("[1]")},
      {PropertyValue::String("1e+21"), PropertyValue::Number(1e21)},
      {PropertyValue::String("-0"), PropertyValue::Number(-0.0)},
      {PropertyValue::String("100000"), PropertyValue::Number(1e5)},
  };
  std::vector<Event> events;
  int id = 0;
  for (const auto& [a, b] : kPairs) {
    events.push_back(MakeEvent(p, "u1", kDay1 + id, absl::StrCat(id), "click", {{"v", a}}));
    ++id;
    events.push_back(MakeEvent(p, "u1", kDay1 + id, absl::StrCat(id), "click", {{"v", b}}));
    ++id;
  }
  events.push_back(MakeEvent(p, "u1", kDay1 + id++, "none1", "click"));
  events.push_back(
      MakeEvent(p, "u2", kDay1 + id++, "none2", "click", {{"v", PropertyValue::String("(none)")}}));
  events.push_back(
      MakeEvent(p, "u2", kDay1 + id++, "zero", "click", {{"v", PropertyValue::Number(0)}}));
  events.push_back(
      MakeEvent(p, "u2", kDay1 + id++, "tenth", "click", {{"v", PropertyValue::Number(0.1)}}));
  Insert(events, 2);
  SegmentationQuery query;
  query.scope.project = p;
  query.scope.from_ms = kDay1;
  query.scope.to_ms = kDay2;
  query.events = {EventSelector{"click", {}}};
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "v"};
  query.limit = 100;
  ReferenceEngine reference(events);
  for (SeriesMetric metric : {SeriesMetric::kUniques, SeriesMetric::kTotals}) {
    query.metric = metric;
    absl::StatusOr<SegmentationResult> r = RunSegmentation(query, Sql(), Table());
    ASSERT_TRUE(r.ok()) << r.status();
    absl::StatusOr<Result> expected = reference.Run(query);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const auto& want = std::get<SegmentationResult>(*expected);
    EXPECT_EQ(*r, want) << "clickhouse:\n" << Describe(*r) << "reference:\n" << Describe(want);
    // One group per pair but 1e5 (labelled "1e+05", not "100000"), then (none), 0, 0.1.
    EXPECT_EQ(r->series.size(), kPairs.size() + 1 + 3);
  }
  query.limit = 2;  // "(other)" merges labels whose values differ
  absl::StatusOr<SegmentationResult> r = RunSegmentation(query, Sql(), Table());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, std::get<SegmentationResult>(*reference.Run(query))) << Describe(*r);
}

// User properties as of each event: a device's $identify merged into its user, $add summed in
// order (0.1 + 0.2), an event's own value over the state, $clearAll then $setOnce.
TEST_F(SegmentationQueryTest, UserPropertiesAsOfEachEvent) {
  const std::string p = "segmentation-user";
  auto identify = [&](std::string user, std::string device, int64_t t, std::string id,
                      const char* operations) {
    Event e = MakeEvent(p, std::move(user), t, std::move(id), "$identify");
    e.device_id = std::move(device);
    absl::StatusOr<Properties> ops = ParseProperties(operations);
    EXPECT_TRUE(ops.ok()) << ops.status();
    if (ops.ok()) e.user_properties = *ops;
    return e;
  };
  std::vector<Event> events = {
      identify("", "d1", kDay1 + 1, "a", R"({"$set":{"plan":"free"},"$add":{"credits":0.1}})"),
      MakeEvent(p, "u1", kDay1 + 2, "b", "click"),
      identify("u1", "", kDay1 + 3, "c", R"({"$add":{"credits":0.2}})"),
      MakeEvent(p, "u1", kDay1 + 4, "d", "click"),
      identify("u1", "", kDay1 + 5, "e", R"({"$clearAll":true,"$setOnce":{"plan":"trial"}})"),
      MakeEvent(p, "u1", kDay1 + 6, "f", "click"),
  };
  events[1].device_id = "d1";                                            // d1 logs in as u1
  events[3].user_properties = {{"plan", PropertyValue::String("pro")}};  // its own value
  Insert(events, 2);
  ReferenceEngine reference(events);
  SegmentationQuery query;
  query.scope.project = p;
  query.scope.from_ms = kDay1;
  query.scope.to_ms = kDay2;
  query.metric = SeriesMetric::kTotals;
  query.events = {EventSelector{"click", {}}};
  query.limit = 10;
  const std::vector<std::pair<std::string, std::vector<std::string>>> kWant = {
      {"credits", {"(none)", "0.1", "0.30000000000000004"}}, {"plan", {"free", "pro", "trial"}}};
  for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
    query.scope.identity = identity;
    for (const auto& [key, labels] : kWant) {
      query.group_by = PropertyRef{PropertyRef::Scope::kUser, key};
      absl::StatusOr<SegmentationResult> r = RunSegmentation(query, Sql(), Table());
      ASSERT_TRUE(r.ok()) << r.status();
      absl::StatusOr<Result> expected = reference.Run(query);
      ASSERT_TRUE(expected.ok()) << expected.status();
      EXPECT_EQ(*r, std::get<SegmentationResult>(*expected)) << key << "\n" << Describe(*r);
      if (identity == IdentityMerge::kDeviceToUser) {
        std::vector<std::string> got;
        for (const Series& s : r->series) got.push_back(s.group);
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, labels) << key;
      }
    }
  }
  // A filter reads the same state: credits > 0.25 holds for the second click only.
  query.scope.identity = IdentityMerge::kDeviceToUser;
  query.group_by.reset();
  query.events[0].filters = {analytics::testing::MakeFilter(
      PropertyRef::Scope::kUser, "credits", FilterOp::kGreater, {PropertyValue::Number(0.25)})};
  absl::StatusOr<SegmentationResult> r = RunSegmentation(query, Sql(), Table());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].total, 1.0);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
