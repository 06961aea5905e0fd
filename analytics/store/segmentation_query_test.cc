// The embedded store's event segmentation against the brute-force reference on randomized
// datasets (issue 6, "Correctness"): the same events, appended in several batches so actors span
// segments and duplicates cross them, must give identical results for random series (event
// types, `_active`, `_all`, event and user property filters), both metrics, intervals, time
// zones, identity modes, group-bys with small limits (so "(other)" appears) and formulas. Plus
// hand-checked cases for "(other)" uniques, formulas dividing by zero and user-scope group-by.
#include "analytics/store/segmentation_query.h"

#include <gtest/gtest.h>

#include <iostream>
#include <random>
#include <sstream>

#include "analytics/reference/reference_engine.h"
#include "analytics/store/testing/stored_events_test_base.h"
#include "analytics/testing/describe.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::store {
namespace {

using ::cohort::analytics::testing::Describe;
using ::cohort::analytics::testing::MakeFilter;

using SegmentationQueryTest = StoredEventsTest;

TEST_F(SegmentationQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0, nonzero = 0, with_other = 0, with_null = 0;
  int drilled = 0;           // drill-down cells that exist, compared with the reference
  int drilled_by_index = 0;  // nonempty cells the type index drilled into, compared
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    std::mt19937 rng(seed);
    testing::RandomEventsOptions options;
    std::vector<Event> events = testing::RandomEvents(seed, options);
    Snapshot snapshot = Store(events, 1 + static_cast<int>(rng() % 4), static_cast<int>(seed));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      for (int q = 0; q < 8; ++q) {
        SegmentationQuery query = testing::RandomSegmentationQuery(rng, options, identity);
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<SegmentationResult>(*expected);
        // Every way of reaching the events gives the reference's answer (kAuto: the segments in
        // storage order unless user properties are read).
        for (EventAccess access :
             {EventAccess::kAuto, EventAccess::kTimeline, EventAccess::kTypeIndex}) {
          absl::StatusOr<SegmentationResult> embedded =
              RunSegmentation(query, view, nullptr, access);
          ASSERT_TRUE(embedded.ok()) << embedded.status();
          ASSERT_EQ(*embedded, want)
              << "seed " << seed << " query " << q << " access " << static_cast<int>(access) << "\n"
              << Describe(query) << "store:\n"
              << Describe(*embedded) << "reference:\n"
              << Describe(want);
        }
        drilled += ExpectDrillDownsAgree(query, view, reference, rng);
        // The drill-down also: the type index must report the same actors as the timeline.
        for (int c = 0; c < 3 && !want.series.empty(); ++c) {
          const CellRef cell{static_cast<int>(rng() % want.series.size()),
                             static_cast<int>(rng() % (want.buckets.size() + 1)) - 1};
          CellCollector by_timeline(cell), by_index(cell);
          ASSERT_TRUE(RunSegmentation(query, view, &by_timeline, EventAccess::kTimeline).ok());
          ASSERT_TRUE(RunSegmentation(query, view, &by_index, EventAccess::kTypeIndex).ok());
          EXPECT_EQ(by_timeline.Actors(), by_index.Actors()) << "seed " << seed << " query " << q;
          drilled_by_index += by_index.Actors().empty() ? 0 : 1;
        }
        ++compared;
        for (const Series& s : want.series) {
          if (s.total && *s.total > 0) ++nonzero;
          if (s.group == kOtherGroup) ++with_other;
          if (!s.total) ++with_null;
        }
      }
    }
  }
  EXPECT_EQ(compared, 30 * 2 * 8);
  EXPECT_GT(drilled, compared / 5);
  EXPECT_GT(drilled_by_index, compared / 2);
  // The random queries reach the interesting cases.
  EXPECT_GT(nonzero, compared);
  EXPECT_GT(with_other, 50);
  EXPECT_GT(with_null, 5);
  std::cout << compared << " queries, " << nonzero << " nonzero series, " << with_other
            << " (other) series, " << with_null << " null totals\n";
}

Event MakeEvent(std::string user, std::string device, int64_t t, std::string id, std::string type,
                Properties event_properties = {}, Properties user_properties = {}) {
  Event e;
  e.project = "p";
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.time_ms = t;
  e.insert_id = std::move(id);
  e.event_type = std::move(type);
  e.event_properties = std::move(event_properties);
  e.user_properties = std::move(user_properties);
  return e;
}

constexpr int64_t kDay1 = 1'772'841'600'000;  // 2026-03-07 UTC
constexpr int64_t kDay2 = kDay1 + 86'400'000;

TEST_F(SegmentationQueryTest, HandCheckedGroupsOtherUniquesAndFormulas) {
  auto button = [](const char* b) { return Properties{{"button", PropertyValue::String(b)}}; };
  // u1: click x (day 1), click y, click y (day 2); u2: click y (day 1), click z (day 2);
  // u3: click z, view, click x (day 2). Labels by events: y 3, x 2, z 2, the view's (none) 1.
  Snapshot snapshot = Store({MakeEvent("u1", "", kDay1 + 1, "a", "click", button("x")),
                             MakeEvent("u1", "", kDay2 + 1, "b", "click", button("y")),
                             MakeEvent("u1", "", kDay2 + 2, "c", "click", button("y")),
                             MakeEvent("u2", "", kDay1 + 5, "d", "click", button("y")),
                             MakeEvent("u2", "", kDay2 + 5, "e", "click", button("z")),
                             MakeEvent("u3", "", kDay2 + 7, "f", "click", button("z")),
                             MakeEvent("u3", "", kDay2 + 8, "g", "view"),
                             MakeEvent("u3", "", kDay2 + 9, "h", "click", button("x"))},
                            3, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  SegmentationQuery query;
  query.scope.project = "p";
  query.scope.from_ms = kDay1;
  query.scope.to_ms = kDay2 + 86'400'000;
  query.events = {EventSelector{"click", {}}, EventSelector{"view", {}}};
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "button"};
  query.limit = 1;
  query.formulas = {"TOTALS(A)/UNIQUES(B)"};
  absl::StatusOr<SegmentationResult> r = RunSegmentation(query, view);
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
  r = RunSegmentation(query, view);
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
  r = RunSegmentation(query, view);
  ASSERT_TRUE(r.ok()) << r.status();
  want = {{"A", "", {2.0, 3.0}, 3.0}, {"B", "", {0.0, 1.0}, 1.0}};
  EXPECT_EQ(r->series, want) << Describe(*r);

  // A range starting inside the first bucket leaves out the bucket's earlier events (u1's x).
  query.scope.from_ms = kDay1 + 2;
  r = RunSegmentation(query, view);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->buckets, (std::vector<int64_t>{kDay1, kDay2}));
  want = {{"A", "", {1.0, 3.0}, 3.0}, {"B", "", {0.0, 1.0}, 1.0}};
  EXPECT_EQ(r->series, want) << Describe(*r);
  query.scope.from_ms = kDay1;

  query.formulas = {"UNIQUES(C)"};
  EXPECT_EQ(RunSegmentation(query, view).status().code(), absl::StatusCode::kInvalidArgument);
  query.formulas = {};
  query.scope.time_zone = "Mars/Olympus";
  EXPECT_EQ(RunSegmentation(query, view).status().code(), absl::StatusCode::kInvalidArgument);
}

// Uniques of "view" events of project "p" in [from, to), daily, UTC.
SegmentationQuery ViewQuery(int64_t from, int64_t to) {
  SegmentationQuery query;
  query.scope.project = "p";
  query.scope.from_ms = from;
  query.scope.to_ms = to;
  query.events = {EventSelector{"view", {}}};
  return query;
}

TEST_F(SegmentationQueryTest, HandCheckedUserScopeGroupByAsOfTheEvent) {
  auto set_plan = [](const char* plan) {
    return Properties{{"$set", PropertyValue::Json(std::string(R"({"plan":")") + plan + "\"}")}};
  };
  // d1 views anonymously (no plan yet), then logs in as u1 and sets plan "pro", views again;
  // its own user_properties override the state on the last view.
  Snapshot snapshot =
      Store({MakeEvent("", "d1", kDay1 + 1, "a", "view"),
             MakeEvent("u1", "d1", kDay1 + 2, "b", "$identify", {}, set_plan("pro")),
             MakeEvent("u1", "d1", kDay1 + 3, "c", "view"),
             MakeEvent("u1", "", kDay1 + 4, "d", "view", {},
                       Properties{{"plan", PropertyValue::String("free")}})},
            2, 0);
  SegmentationQuery query = ViewQuery(kDay1, kDay1 + 86'400'000);
  query.group_by = PropertyRef{PropertyRef::Scope::kUser, "plan"};
  ActorView merged = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  absl::StatusOr<SegmentationResult> r = RunSegmentation(query, merged);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<Series> want = {
      {"A", "(none)", {1.0}, 1.0}, {"A", "free", {1.0}, 1.0}, {"A", "pro", {1.0}, 1.0}};
  EXPECT_EQ(r->series, want) << Describe(*r);
}

TEST_F(SegmentationQueryTest, EventsAtBucketEdgesWhateverTheScanOrder) {
  // In storage order u2's event, a millisecond before day 2, comes after u1's at day 2: the
  // bucket found last must not capture it. Each actor's events straddle the edge too.
  Snapshot snapshot =
      Store({MakeEvent("u1", "", kDay2, "a", "view"), MakeEvent("u1", "", kDay2 - 1, "b", "view"),
             MakeEvent("u2", "", kDay2 - 1, "c", "view"), MakeEvent("u3", "", kDay2, "d", "view"),
             MakeEvent("u3", "", kDay2 + 86'400'000 - 1, "e", "view")},
            1, 0);
  SegmentationQuery query = ViewQuery(kDay1, kDay2 + 86'400'000);
  query.metric = SeriesMetric::kTotals;
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  for (EventAccess access : {EventAccess::kAuto, EventAccess::kTimeline, EventAccess::kTypeIndex}) {
    absl::StatusOr<SegmentationResult> r = RunSegmentation(query, view, nullptr, access);
    ASSERT_TRUE(r.ok()) << r.status();
    const std::vector<Series> want = {{"A", "", {2.0, 3.0}, 5.0}};
    EXPECT_EQ(r->series, want) << Describe(*r) << "access " << static_cast<int>(access);
  }
}

}  // namespace
}  // namespace cohort::analytics::store
