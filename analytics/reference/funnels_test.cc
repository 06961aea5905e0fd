#include "analytics/reference/funnels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analytics/reference/reference_engine.h"
#include "analytics/reference/test_events.h"

namespace cohort::analytics {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::CellActors;
using ::cohort::analytics::testing::Ev;
using ::cohort::analytics::testing::kHour;
using ::cohort::analytics::testing::kMinute;
using ::cohort::analytics::testing::RunAs;
using ::cohort::analytics::testing::Scope;
using ::cohort::analytics::testing::With;
using ::testing::ElementsAre;

int64_t T(int h, int mi, int d = 1) { return At(2026, 1, d, h, mi); }

Event A(int64_t t, const std::string& user, const char* src = nullptr) {
  Event e = Ev("a", t, user);
  return src ? With(std::move(e), "src", PropertyValue::String(src)) : e;
}

FunnelQuery Steps(std::vector<std::string> types, FunnelOrder order = FunnelOrder::kOrdered) {
  FunnelQuery query;
  query.scope = Scope(At(2026, 1, 1), At(2026, 1, 2));
  for (std::string& type : types) query.steps.push_back({std::move(type), {}});
  query.window_ms = kHour;
  query.order = order;
  return query;
}

// Range Jan 1 2026 (UTC), window 1 h, steps a → b → c.
//   u1 a 10:00, b 10:30, c 11:00 (exactly the window: in)              → 3
//   u2 a 10:00, b 10:30, c 11:00:00.001 (1 ms late)                      → 2
//   u3 a 10:00 (seo), a 12:00 (ad), b 12:10: the second candidate goes further → 2
//   u4 b 09:00, a 09:30                                                  → 1
//   u5 a Dec 31 23:30 (outside), b 00:10; a 23:59, b Jan 2 00:30 (after the range, in the window) →
//   2
ReferenceEngine Data() {
  return ReferenceEngine({
      A(T(10, 0), "u1", "ad"),
      Ev("b", T(10, 30), "u1"),
      Ev("c", T(11, 0), "u1"),
      A(T(10, 0), "u2", "ad"),
      Ev("b", T(10, 30), "u2"),
      Ev("c", T(11, 0) + 1, "u2"),
      A(T(10, 0), "u3", "seo"),
      A(T(12, 0), "u3", "ad"),
      Ev("b", T(12, 10), "u3"),
      Ev("b", T(9, 0), "u4"),
      A(T(9, 30), "u4", "seo"),
      A(At(2026, 1, 1) - 30 * kMinute, "u5"),
      Ev("b", T(0, 10), "u5"),
      A(T(23, 59), "u5"),
      Ev("b", T(0, 30, 2), "u5"),
  });
}

TEST(FunnelTest, OrderedStepsWithTheWindowEdgeAndTheFurthestCandidate) {
  ReferenceEngine engine = Data();
  FunnelQuery query = Steps({"a", "b", "c"});
  auto result = RunAs<FunnelResult>(engine, query);
  ASSERT_EQ(result.all.steps.size(), 3u);
  EXPECT_EQ(result.all.steps[0], (FunnelStep{5, 1.0, 1.0, std::nullopt, std::nullopt}));
  // a → b: u1 30 min, u2 30 min, u3 10 min, u5 31 min; the lower median is the second.
  EXPECT_EQ(result.all.steps[1], (FunnelStep{4, 0.8, 0.8, 6'060'000.0 / 4, 30 * kMinute}));
  EXPECT_EQ(result.all.steps[2], (FunnelStep{1, 0.2, 0.25, 1'800'000.0, 30 * kMinute}));
  EXPECT_TRUE(result.groups.empty());
  EXPECT_THAT(CellActors(engine, query, {-1, 1}), ElementsAre("u1", "u2", "u3", "u5"));
  EXPECT_THAT(CellActors(engine, query, {-1, 2}), ElementsAre("u1"));
}

TEST(FunnelTest, GroupByReadsTheChosenFirstStepEvent) {
  ReferenceEngine engine = Data();
  FunnelQuery query = Steps({"a", "b", "c"});
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "src"};
  query.limit = 1;
  auto result = RunAs<FunnelResult>(engine, query);
  ASSERT_EQ(result.groups.size(), 2u);
  // ad: u1, u2, u3 (its 12:00 candidate); seo (u4) and (none) (u5) tie at 1 and merge.
  EXPECT_EQ(result.groups[0].group, "ad");
  EXPECT_EQ(result.groups[0].steps[0].actors, 3);
  EXPECT_EQ(result.groups[0].steps[1], (FunnelStep{3, 1.0, 1.0, 4'200'000.0 / 3, 30 * kMinute}));
  EXPECT_EQ(result.groups[1].group, "(other)");
  EXPECT_EQ(result.groups[1].steps[1], (FunnelStep{1, 0.5, 0.5, 1'860'000.0, 31 * kMinute}));
  EXPECT_EQ(result.groups[1].steps[2], (FunnelStep{0, 0.0, 0.0, std::nullopt, std::nullopt}));
  EXPECT_THAT(CellActors(engine, query, {1, 0}), ElementsAre("u4", "u5"));
  EXPECT_THAT(CellActors(engine, query, {0, 2}), ElementsAre("u1"));

  query.limit = 3;
  result = RunAs<FunnelResult>(engine, query);
  std::vector<std::string> groups;
  for (const FunnelGroup& g : result.groups) groups.push_back(g.group);
  EXPECT_THAT(groups, ElementsAre("ad", "(none)", "seo"));
}

TEST(FunnelTest, SameMillisecondStepsAreOrderedByInsertId) {
  int64_t t = T(10, 0);
  ReferenceEngine engine({
      Ev("a", t, "before", "", "2"),
      Ev("b", t, "before", "", "1"),  // b sorts first
      Ev("a", t, "after", "", "1"),
      Ev("b", t, "after", "", "2"),
  });
  auto result = RunAs<FunnelResult>(engine, Steps({"a", "b"}));
  EXPECT_EQ(result.all.steps[1], (FunnelStep{1, 0.5, 0.5, 0.0, 0}));
  EXPECT_THAT(CellActors(engine, Steps({"a", "b"}), {-1, 1}), ElementsAre("after"));
}

TEST(FunnelTest, StrictAllowsNoOtherActiveEventBetweenSteps) {
  ReferenceEngine engine({
      Ev("a", T(10, 0), "u1"),
      Ev("x", T(10, 10), "u1"),
      Ev("b", T(10, 20), "u1"),
      Ev("a", T(10, 0), "u2"),
      Ev("$identify", T(10, 10), "u2"),
      Ev("b", T(10, 20), "u2"),
  });
  auto ordered = RunAs<FunnelResult>(engine, Steps({"a", "b"}));
  EXPECT_EQ(ordered.all.steps[1].actors, 2);
  auto strict = RunAs<FunnelResult>(engine, Steps({"a", "b"}, FunnelOrder::kStrict));
  EXPECT_EQ(strict.all.steps[1].actors, 1);
  EXPECT_THAT(CellActors(engine, Steps({"a", "b"}, FunnelOrder::kStrict), {-1, 1}),
              ElementsAre("u2"));
}

TEST(FunnelTest, UnorderedMatchesStepsInAnyOrderWithinTheWindowOfTheEarliest) {
  ReferenceEngine engine({
      // c, a, b within 25 min: all three; the gaps are between the 1st/2nd and 2nd/3rd events.
      Ev("c", T(10, 0), "u1"),
      Ev("a", T(10, 10), "u1"),
      Ev("b", T(10, 25), "u1"),
      // b then a 90 min later: only a (step 1) counts.
      Ev("b", T(10, 0), "u2"),
      Ev("a", T(11, 30), "u2"),
      // c alone reaches nothing.
      Ev("c", T(10, 0), "u3"),
      // b at 23:30 in the range and a after the range end: the earliest is in the range.
      Ev("b", T(23, 30), "u4"),
      Ev("a", T(0, 10, 2), "u4"),
  });
  FunnelQuery query = Steps({"a", "b", "c"}, FunnelOrder::kUnordered);
  auto result = RunAs<FunnelResult>(engine, query);
  EXPECT_EQ(result.all.steps[0], (FunnelStep{3, 1.0, 1.0, std::nullopt, std::nullopt}));
  // u1: 10 min; u4: 40 min.
  EXPECT_EQ(result.all.steps[1], (FunnelStep{2, 2.0 / 3, 2.0 / 3, 3'000'000.0 / 2, 10 * kMinute}));
  EXPECT_EQ(result.all.steps[2], (FunnelStep{1, 1.0 / 3, 0.5, 900'000.0, 15 * kMinute}));
  EXPECT_THAT(CellActors(engine, query, {-1, 0}), ElementsAre("u1", "u2", "u4"));

  // Ordered, u1's a → b but no c after; u4's b precedes a.
  auto ordered = RunAs<FunnelResult>(engine, Steps({"a", "b", "c"}));
  EXPECT_EQ(ordered.all.steps[1].actors, 1);
}

TEST(FunnelTest, AnonymousStepsBeforeLoginCountForTheUserOnlyUnderDeviceToUser) {
  ReferenceEngine engine({
      Ev("a", T(10, 0), "", "d"),
      Ev("b", T(10, 5), "u7", "d"),
  });
  FunnelQuery query = Steps({"a", "b"});
  auto merged = RunAs<FunnelResult>(engine, query);
  EXPECT_EQ(merged.all.steps[1].actors, 1);
  EXPECT_THAT(CellActors(engine, query, {-1, 1}), ElementsAre("u7"));
  query.scope.identity = IdentityMerge::kNone;
  auto apart = RunAs<FunnelResult>(engine, query);
  EXPECT_EQ(apart.all.steps[0].actors, 1);
  EXPECT_EQ(apart.all.steps[1].actors, 0);
  EXPECT_THAT(CellActors(engine, query, {-1, 0}), ElementsAre("device:d"));
}

}  // namespace
}  // namespace cohort::analytics
