#include "analytics/reference/reference_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "analytics/reference/test_events.h"

namespace cohort::analytics {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::Ev;
using ::cohort::analytics::testing::kMinute;
using ::cohort::analytics::testing::RunAs;
using ::cohort::analytics::testing::Scope;
using ::testing::ElementsAre;

// One query of every type and mode over January 2026 in `zone`.
std::vector<Query> EveryQuery(const std::string& zone = "UTC") {
  QueryScope scope = Scope(At(2026, 1, 1), At(2026, 2, 1), zone);
  std::vector<Query> queries;
  SegmentationQuery segmentation{scope, {{"a", {}}, {kAnyActiveEvent, {}}}};
  segmentation.group_by = PropertyRef{PropertyRef::Scope::kEvent, "k"};
  segmentation.formulas = {"UNIQUES(A)/UNIQUES(B)"};
  queries.push_back(segmentation);
  for (ActiveUsersMetric metric : {ActiveUsersMetric::kActive, ActiveUsersMetric::kRolling7,
                                   ActiveUsersMetric::kRolling30, ActiveUsersMetric::kNew}) {
    queries.push_back(ActiveUsersQuery{scope, metric});
  }
  queries.push_back(StickinessQuery{scope});
  queries.push_back(SessionsQuery{scope});
  for (RetentionMode mode :
       {RetentionMode::kNDay, RetentionMode::kUnbounded, RetentionMode::kBracket}) {
    RetentionQuery retention{scope, {kNewUserEvent, {}}, {kAnyActiveEvent, {}}, mode};
    retention.brackets = {{1, 3}, {4, 7}};
    retention.as_of_ms = At(2026, 1, 20);
    queries.push_back(retention);
  }
  for (FunnelOrder order : {FunnelOrder::kOrdered, FunnelOrder::kStrict, FunnelOrder::kUnordered}) {
    FunnelQuery funnel{scope, {{"a", {}}, {"b", {}}, {"c", {}}}};
    funnel.order = order;
    funnel.group_by = PropertyRef{PropertyRef::Scope::kEvent, "k"};
    queries.push_back(funnel);
  }
  ExperimentQuery experiment{scope};
  experiment.goal = {"c", {}};
  queries.push_back(experiment);
  return queries;
}

TEST(ReferenceEngineTest, EmptyDataGivesWellFormedZeroResults) {
  ReferenceEngine engine({});
  for (const Query& query : EveryQuery("Asia/Shanghai")) {
    absl::StatusOr<Result> result = engine.Run(query);
    ASSERT_TRUE(result.ok()) << result.status();
  }
  ActiveUsersQuery active{Scope(At(2026, 1, 1), At(2026, 1, 4))};
  auto result = RunAs<ActiveUsersResult>(engine, active);
  EXPECT_THAT(result.values, ElementsAre(0, 0, 0));
  FunnelQuery funnel{Scope(At(2026, 1, 1), At(2026, 1, 4)), {{"a", {}}, {"b", {}}}};
  auto steps = RunAs<FunnelResult>(engine, funnel);
  EXPECT_EQ(steps.all.steps[1],
            (FunnelStep{0, std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
  RetentionQuery retention{Scope(At(2026, 1, 1), At(2026, 1, 4)), {"a", {}}, {"a", {}}};
  auto cohorts = RunAs<RetentionResult>(engine, retention);
  EXPECT_TRUE(cohorts.rows.empty());
  EXPECT_EQ(cohorts.total.cells.size(), 7u);
}

TEST(ReferenceEngineTest, AnUnknownTimeZoneIsAnInvalidArgumentForEveryQuery) {
  ReferenceEngine engine({Ev("a", At(2026, 1, 2), "u")});
  for (const Query& query : EveryQuery("Nowhere/Atlantis")) {
    absl::StatusOr<Result> result = engine.Run(query);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(result.status().message()), ::testing::StartsWith("time_zone"));
    EXPECT_EQ(engine.Actors(query, {}, "", 10).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ReferenceEngineTest, DuplicatesAreDroppedBeforeAnythingElse) {
  ReferenceEngine engine({Ev("a", At(2026, 1, 2), "u", "", "same"),
                          Ev("a", At(2026, 1, 3), "u", "", "same"),
                          Ev("a", At(2026, 1, 3), "v", "", "same")});
  SegmentationQuery query{Scope(At(2026, 1, 1), At(2026, 1, 4)), {{"a", {}}}};
  auto result = RunAs<SegmentationResult>(engine, query);
  EXPECT_EQ(result.series[0], (Series{"A", "", {0, 1, 1}, 2}));
}

TEST(ReferenceEngineTest, DrillDownRejectsMissingCellsAndBadLimits) {
  ReferenceEngine engine({Ev("a", At(2026, 1, 2), "u")});
  ActiveUsersQuery active{Scope(At(2026, 1, 1), At(2026, 1, 4))};
  EXPECT_EQ(engine.Actors(active, {-1, 3}, "", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine.Actors(active, {-1, 1}, "", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ActorsPage> page = engine.Actors(active, {-1, 1}, "", 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (ActorsPage{{"u"}, false}));
  page = engine.Actors(active, {-1, 1}, "u", 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (ActorsPage{{}, false}));
}

// ~5,000 events over 200 actors: every query type answers quickly (the reference is the oracle
// of thousands of randomized cases).
TEST(ReferenceEngineTest, AnswersEveryQueryTypeOnFiveThousandEventsQuickly) {
  std::mt19937_64 random(6);
  std::vector<Event> events;
  const char* types[] = {"a", "b", "c", "d", "$identify", "$exposure"};
  for (int i = 0; i < 5000; ++i) {
    int actor = static_cast<int>(random() % 200);
    bool anonymous = random() % 4 == 0;
    Event e = Ev(types[random() % 6],
                 At(2026, 1, 1) + static_cast<int64_t>(random() % (31 * 1440)) * kMinute,
                 anonymous ? "" : absl::StrCat("u", actor), absl::StrCat("d", actor % 150));
    e.event_properties["k"] = PropertyValue::String(absl::StrCat("k", random() % 15));
    e.event_properties["variant"] = PropertyValue::String(random() % 2 ? "control" : "test");
    events.push_back(std::move(e));
  }
  ReferenceEngine engine(std::move(events));
  for (const Query& query : EveryQuery("America/New_York")) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<Result> result = engine.Run(query);
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(result.ok()) << result.status();
    // Generous for unoptimized Debug and sanitizer builds; a release build takes far less.
    EXPECT_LT(elapsed, std::chrono::seconds(5)) << "query " << query.index();
    std::printf("query %zu: %lld ms\n", query.index(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
  }
}

}  // namespace
}  // namespace cohort::analytics
