// The embedded store's funnels against the brute-force reference on randomized datasets (issue 6,
// "Correctness"): the same events, appended in several batches so actors span segments and
// duplicates cross them, must give identical results for ordered, strict and unordered funnels of
// 2-4 steps (with filters and group-bys) in both identity modes; plus hand-checked cases of each
// rule.
#include "analytics/store/funnel_query.h"

#include <gtest/gtest.h>

#include <random>

#include "analytics/reference/reference_engine.h"
#include "analytics/store/testing/stored_events_test_base.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::store {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1'772'841'600'000;  // 2026-03-07 UTC

using FunnelQueryTest = StoredEventsTest;

TEST_F(FunnelQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0;
  // How much the comparisons exercised, so the test cannot pass on empty funnels.
  int completed = 0, partial = 0, with_other = 0, with_gaps = 0;
  int per_order_completed[3] = {0, 0, 0};
  int drilled = 0;           // drill-down cells that exist, compared with the reference
  int drilled_by_index = 0;  // nonempty cells the type index drilled into, compared
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    std::mt19937 rng(seed);
    testing::RandomEventsOptions options;
    std::vector<Event> events = testing::FunnelEvents(seed, options);
    Snapshot snapshot = Store(events, 1 + static_cast<int>(rng() % 4), static_cast<int>(seed));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      for (int q = 0; q < 12; ++q) {
        const FunnelOrder kOrders[] = {FunnelOrder::kOrdered, FunnelOrder::kStrict,
                                       FunnelOrder::kUnordered};
        FunnelQuery query = testing::RandomFunnelQuery(rng, options, identity, kOrders[q % 3]);
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<FunnelResult>(*expected);
        // Every way of reaching the events gives the reference's answer.
        for (EventAccess access : {EventAccess::kTimeline, EventAccess::kTypeIndex}) {
          absl::StatusOr<FunnelResult> embedded = RunFunnel(query, view, nullptr, access);
          ASSERT_TRUE(embedded.ok()) << embedded.status();
          ASSERT_EQ(*embedded, want)
              << "seed " << seed << " query " << q << " order " << static_cast<int>(query.order)
              << " steps " << query.steps.size() << " window " << query.window_ms << " identity "
              << static_cast<int>(identity) << " access " << static_cast<int>(access);
        }
        drilled += ExpectDrillDownsAgree(query, view, reference, rng);
        // The drill-down also: the type index must report the same actors as the timeline.
        for (int c = 0; c < 2; ++c) {
          const CellRef cell{-1, static_cast<int>(rng() % query.steps.size())};
          CellCollector by_timeline(cell), by_index(cell);
          ASSERT_TRUE(RunFunnel(query, view, &by_timeline, EventAccess::kTimeline).ok());
          ASSERT_TRUE(RunFunnel(query, view, &by_index, EventAccess::kTypeIndex).ok());
          EXPECT_EQ(by_timeline.Actors(), by_index.Actors()) << "seed " << seed << " query " << q;
          drilled_by_index += by_index.Actors().empty() ? 0 : 1;
        }
        ++compared;
        const std::vector<FunnelStep>& steps = want.all.steps;
        if (steps.back().actors > 0) {
          ++completed;
          ++per_order_completed[q % 3];
        }
        if (steps[1].actors > 0 && steps[1].actors < steps[0].actors) ++partial;
        if (steps[1].median_time_ms.value_or(0) > 0) ++with_gaps;
        if (!want.groups.empty() && want.groups.back().group == kOtherGroup) ++with_other;
      }
    }
  }
  EXPECT_EQ(compared, 30 * 2 * 12);
  EXPECT_GT(drilled, compared / 5);
  EXPECT_GT(drilled_by_index, compared / 2);
  EXPECT_GT(completed, 150);
  EXPECT_GT(partial, 250);
  EXPECT_GT(with_gaps, 250);
  EXPECT_GT(with_other, 50);
  for (int completed_in_order : per_order_completed) EXPECT_GT(completed_in_order, 30);
}

Event Make(std::string user, std::string type, int64_t time, std::string id) {
  Event e;
  e.project = "p";
  e.user_id = std::move(user);
  e.event_type = std::move(type);
  e.time_ms = time;
  e.insert_id = std::move(id);
  return e;
}

FunnelQuery Query(std::vector<std::string> types, int64_t from, int64_t to, int64_t window,
                  FunnelOrder order) {
  FunnelQuery query;
  query.scope.project = "p";
  query.scope.from_ms = from;
  query.scope.to_ms = to;
  for (std::string& type : types) query.steps.push_back(EventSelector{std::move(type), {}});
  query.window_ms = window;
  query.order = order;
  return query;
}

FunnelStep Step(int64_t actors, Number from_first, Number from_previous, Number average,
                std::optional<int64_t> median) {
  return FunnelStep{actors, from_first, from_previous, average, median};
}

TEST_F(FunnelQueryTest, OrderedTakesTheFurthestCandidateAndCompletesAfterTheRange) {
  // u1: the second view reaches the purchase within its window, the first does not; the
  // purchase lies after the range end. u2 stops at the click; u3 stops at its view, which its
  // same-millisecond click precedes in the total order.
  Snapshot snapshot = Store(
      {Make("u1", "view", kT0, "a"), Make("u1", "view", kT0 + kMinute, "b"),
       Make("u1", "click", kT0 + 2 * kMinute, "c"), Make("u1", "purchase", kT0 + 20 * kMinute, "d"),
       Make("u2", "view", kT0, "e"), Make("u2", "click", kT0 + 3 * kMinute, "f"),
       Make("u3", "click", kT0 + kMinute, "g"), Make("u3", "click", kT0 + 2 * kMinute, "h"),
       Make("u3", "view", kT0 + 2 * kMinute, "i")},
      2, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  FunnelQuery query = Query({"view", "click", "purchase"}, kT0, kT0 + 5 * kMinute,
                            19 * kMinute + 30'000, FunnelOrder::kOrdered);
  absl::StatusOr<FunnelResult> result = RunFunnel(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->all.steps,
            (std::vector<FunnelStep>{Step(3, 1, 1, std::nullopt, std::nullopt),
                                     Step(2, 2.0 / 3, 2.0 / 3, 2 * kMinute, kMinute),
                                     Step(1, 1.0 / 3, 0.5, 18 * kMinute, 18 * kMinute)}));
  // A shorter window: both u1 candidates stop at the click; the earliest (gap 2 min) wins.
  query.window_ms = 10 * kMinute;
  EXPECT_EQ(RunFunnel(query, view)->all.steps[1],
            Step(2, 2.0 / 3, 2.0 / 3, 2.5 * kMinute, 2 * kMinute));
}

TEST_F(FunnelQueryTest, StrictStopsAtAnActiveEventBetweenSteps) {
  Event identify = Make("u1", "$identify", kT0 + 30'000, "b");
  identify.user_properties["$set"] = PropertyValue::Json(R"({"plan":"pro"})");
  Snapshot snapshot =
      Store({Make("u1", "view", kT0, "a"), identify,
             Make("u1", "dify.generate_conversation_name", kT0 + 40'000, "c"),
             Make("u1", "click", kT0 + kMinute, "d"), Make("u1", "signup", kT0 + 2 * kMinute, "e"),
             Make("u1", "purchase", kT0 + 3 * kMinute, "f")},
            1, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  FunnelQuery query =
      Query({"view", "click", "purchase"}, kT0, kT0 + kHour, kHour, FunnelOrder::kStrict);
  // Inactive events ($identify, the default inactive type) do not interrupt; the signup does.
  EXPECT_EQ(RunFunnel(query, view)->all.steps[1].actors, 1);
  EXPECT_EQ(RunFunnel(query, view)->all.steps[2].actors, 0);
  query.order = FunnelOrder::kOrdered;
  EXPECT_EQ(RunFunnel(query, view)->all.steps[2].actors, 1);
  query.order = FunnelOrder::kStrict;
  query.scope.inactive_event_types = {"signup", "dify.generate_conversation_name"};
  EXPECT_EQ(RunFunnel(query, view)->all.steps[2].actors, 1);
}

TEST_F(FunnelQueryTest, UnorderedAssignsDistinctEventsAndGroupsByStepOne) {
  // u1's only in-range event is the purchase: it anchors, the view and click follow in the
  // window. u2 has one view, which cannot fill both view steps.
  Event v1 = Make("u1", "view", kT0 + 2 * kMinute, "c");
  v1.event_properties["button"] = PropertyValue::String("buy");
  Event v2 = Make("u2", "view", kT0, "d");
  v2.event_properties["button"] = PropertyValue::String("sell");
  Snapshot snapshot =
      Store({Make("u1", "purchase", kT0, "a"), Make("u1", "click", kT0 + kMinute, "b"), v1, v2,
             Make("u2", "purchase", kT0 + kMinute, "e")},
            2, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  FunnelQuery query =
      Query({"view", "click", "purchase"}, kT0, kT0 + 30'000, 5 * kMinute, FunnelOrder::kUnordered);
  query.group_by = PropertyRef{PropertyRef::Scope::kEvent, "button"};
  absl::StatusOr<FunnelResult> result = RunFunnel(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  // Times are the gaps between consecutive matched events in total order: 1 min, 1 min.
  EXPECT_EQ(result->all.steps, (std::vector<FunnelStep>{Step(2, 1, 1, std::nullopt, std::nullopt),
                                                        Step(1, 0.5, 0.5, kMinute, kMinute),
                                                        Step(1, 0.5, 1, kMinute, kMinute)}));
  ASSERT_EQ(result->groups.size(), 2u);
  EXPECT_EQ(result->groups[0].group, "buy");  // tie at one actor: label order
  EXPECT_EQ(result->groups[0].steps[2].actors, 1);
  EXPECT_EQ(result->groups[1].group, "sell");
  EXPECT_EQ(result->groups[1].steps[1].actors, 0);
  query.limit = 1;
  result = RunFunnel(query, view);
  ASSERT_EQ(result->groups.size(), 2u);
  EXPECT_EQ(result->groups[1].group, kOtherGroup);
  // The same step twice needs two events.
  query = Query({"view", "view"}, kT0, kT0 + kHour, kHour, FunnelOrder::kUnordered);
  EXPECT_EQ(RunFunnel(query, view)->all.steps[1].actors, 0);
  query.order = FunnelOrder::kOrdered;
  EXPECT_EQ(RunFunnel(query, view)->all.steps[1].actors, 0);
}

TEST_F(FunnelQueryTest, EmptyAndInvalid) {
  Snapshot snapshot = Store({Make("u1", "view", kT0, "a")}, 1, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  FunnelQuery query = Query({"click", "view"}, kT0, kT0 + kHour, kHour, FunnelOrder::kOrdered);
  EXPECT_EQ(
      RunFunnel(query, view)->all.steps,
      (std::vector<FunnelStep>{Step(0, std::nullopt, std::nullopt, std::nullopt, std::nullopt),
                               Step(0, std::nullopt, std::nullopt, std::nullopt, std::nullopt)}));
  query.scope.time_zone = "Mars/Olympus";
  EXPECT_EQ(RunFunnel(query, view).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::analytics::store
