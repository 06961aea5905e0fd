#include "analytics/model/funnel_progress.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Event {
  int64_t time;
  uint32_t steps;
  bool active = false;
  int32_t label = -1;
};

FunnelQuery Query(FunnelOrder order, size_t steps) {
  FunnelQuery query;
  query.scope.from_ms = 0;
  query.scope.to_ms = 1000;
  query.window_ms = 100;
  query.order = order;
  query.steps.resize(steps);
  return query;
}

FunnelProgress Best(const FunnelQuery& query, const std::vector<Event>& list) {
  FunnelActorEvents events;
  for (const Event& e : list) {
    events.time.push_back(e.time);
    events.steps.push_back(e.steps);
    events.active.push_back(e.active);
    events.label.push_back(e.label);
  }
  FunnelProgressScan scan(query);
  return scan.Best(events);
}

TEST(FunnelProgressTest, OrderedFollowsTheStepsInOrderWithinTheWindow) {
  FunnelQuery query = Query(FunnelOrder::kOrdered, 3);
  EXPECT_THAT(Best(query, {{10, 1}, {20, 2}, {30, 4}}).times, ElementsAre(10, 20, 30));
  EXPECT_THAT(Best(query, {{10, 1}, {20, 2}, {200, 4}}).times, ElementsAre(10, 20));
  EXPECT_THAT(Best(query, {{10, 2}, {20, 1}, {30, 4}}).times, ElementsAre(20));
  EXPECT_THAT(Best(query, {}).times, IsEmpty());
}

TEST(FunnelProgressTest, StepOneMustFallInTheQueryRange) {
  FunnelQuery query = Query(FunnelOrder::kOrdered, 2);
  EXPECT_THAT(Best(query, {{-5, 1}, {10, 2}}).times, IsEmpty());
  EXPECT_THAT(Best(query, {{990, 1}, {1010, 2}}).times, ElementsAre(990, 1010));
  EXPECT_THAT(Best(query, {{1000, 1}, {1010, 2}}).times, IsEmpty());
}

TEST(FunnelProgressTest, TheEarliestCandidateReachingFurthestGivesTheLabel) {
  FunnelQuery query = Query(FunnelOrder::kOrdered, 3);
  FunnelProgress progress = Best(query, {{10, 1, false, 7}, {20, 1, false, 8}, {25, 2}, {115, 4}});
  EXPECT_THAT(progress.times, ElementsAre(20, 25, 115));
  EXPECT_EQ(progress.label, 8);
  progress = Best(query, {{10, 1, false, 7}, {20, 1, false, 8}, {25, 2}});
  EXPECT_THAT(progress.times, ElementsAre(10, 25));
  EXPECT_EQ(progress.label, 7);
}

TEST(FunnelProgressTest, StrictStopsAtAnActiveEventBetweenSteps) {
  std::vector<Event> events = {{10, 1}, {15, 0, true}, {20, 2}};
  EXPECT_THAT(Best(Query(FunnelOrder::kStrict, 2), events).times, ElementsAre(10));
  EXPECT_THAT(Best(Query(FunnelOrder::kOrdered, 2), events).times, ElementsAre(10, 20));
  // An active event that is itself the next step does not break the chain.
  EXPECT_THAT(Best(Query(FunnelOrder::kStrict, 2), {{10, 1}, {20, 2, true}}).times,
              ElementsAre(10, 20));
}

TEST(FunnelProgressTest, UnorderedTakesDistinctEventsInAnyOrder) {
  FunnelQuery query = Query(FunnelOrder::kUnordered, 3);
  FunnelProgress progress = Best(query, {{10, 2, false, 3}, {20, 1, false, 5}, {30, 4}});
  EXPECT_THAT(progress.times, ElementsAre(10, 20, 30));
  EXPECT_EQ(progress.label, 5);  // the event taking step 1
  // One event matching two steps serves only one of them.
  EXPECT_THAT(Best(query, {{10, 3}}).times, ElementsAre(10));
  EXPECT_THAT(Best(query, {{10, 3}, {20, 1}}).times, ElementsAre(10, 20));
  EXPECT_THAT(Best(query, {{10, 3}, {20, 1}, {200, 4}}).times, ElementsAre(10, 20));
  // Reach counts steps 1..reach: step 3 alone does not make step 2 reached.
  EXPECT_THAT(Best(query, {{10, 1}, {20, 4}}).times, ElementsAre(10));
}

TEST(FunnelProgressTest, GroupCountsConversionsAndTimes) {
  std::vector<int64_t> gaps = {5, 7, 9};
  FunnelEntry a{0, 3, 0, -1}, b{1, 2, 2, -1}, c{2, 1, 3, -1};
  FunnelGroup group = BuildFunnelGroup("g", {&a, &b, &c}, gaps, 3);
  EXPECT_EQ(group.group, "g");
  ASSERT_EQ(group.steps.size(), 3u);
  EXPECT_EQ(group.steps[0].actors, 3);
  EXPECT_EQ(group.steps[0].conversion_from_first, 1.0);
  EXPECT_FALSE(group.steps[0].average_time_ms.has_value());
  EXPECT_EQ(group.steps[1].actors, 2);
  EXPECT_DOUBLE_EQ(*group.steps[1].conversion_from_first, 2.0 / 3);
  EXPECT_DOUBLE_EQ(*group.steps[1].average_time_ms, 7.0);
  EXPECT_EQ(group.steps[1].median_time_ms, 5);
  EXPECT_EQ(group.steps[2].actors, 1);
  EXPECT_DOUBLE_EQ(*group.steps[2].conversion_from_previous, 0.5);
  EXPECT_EQ(group.steps[2].median_time_ms, 7);
  EXPECT_EQ(BuildFunnelGroup("", {}, gaps, 2).steps[1].conversion_from_first, std::nullopt);
}

TEST(FunnelProgressTest, ResultRanksGroupsAndFoldsTheRestIntoOther) {
  FunnelQuery query = Query(FunnelOrder::kOrdered, 2);
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "button"};
  query.limit = 1;
  // Labels: 0 "b" (one actor), 1 "a" (two), 2 "c" (one, reaching step 2 after 4 ms).
  std::vector<FunnelEntry> entries = {{10, 1, 0, 0}, {11, 1, 0, 1}, {12, 1, 0, 1}, {13, 2, 0, 2}};
  std::vector<int64_t> gaps = {4};
  std::vector<std::pair<int, size_t>> rows;
  FunnelResult result =
      BuildFunnelResult(query, entries, gaps, {"b", "a", "c"},
                        [&](int row, const std::vector<const FunnelEntry*>& members) {
                          rows.emplace_back(row, members.size());
                        });
  EXPECT_EQ(result.all.steps[0].actors, 4);
  EXPECT_EQ(result.all.steps[1].actors, 1);
  ASSERT_EQ(result.groups.size(), 2u);
  EXPECT_EQ(result.groups[0].group, "a");
  EXPECT_EQ(result.groups[0].steps[0].actors, 2);
  EXPECT_EQ(result.groups[1].group, kOtherGroup);
  EXPECT_EQ(result.groups[1].steps[0].actors, 2);
  EXPECT_EQ(result.groups[1].steps[1].median_time_ms, 4);
  EXPECT_THAT(rows, ElementsAre(std::pair<int, size_t>{-1, 4}, std::pair<int, size_t>{0, 2},
                                std::pair<int, size_t>{1, 2}));
  query.group_by.reset();
  EXPECT_THAT(BuildFunnelResult(query, entries, gaps, {}).groups, IsEmpty());
}

}  // namespace
}  // namespace cohort::analytics
