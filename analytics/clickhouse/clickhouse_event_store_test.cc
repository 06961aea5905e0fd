// ClickHouseEventStore (the EventStore of `storage: clickhouse`) on a real engine — 18.16, and a
// current one through chdb: the schema appears on first use, appends deduplicate at query time,
// every query type answers as the reference does, the data version follows the data, deletion and
// retention remove events, and drill-down pages the actors behind a number.
#include "analytics/clickhouse/clickhouse_event_store.h"

#include <gtest/gtest.h>

#include <random>

#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/random_events.h"

namespace cohort::analytics::clickhouse {
namespace {

using ClickHouseEventStoreTest = testing::ClickHouseQueryTest;
constexpr int64_t kDay = 86'400'000;

QueryScope Scope(const analytics::testing::RandomEventsOptions& options) {
  QueryScope scope;
  scope.project = options.project;
  scope.from_ms = options.start_ms;
  scope.to_ms = options.start_ms + options.span_ms + kDay;
  scope.time_zone = "America/New_York";
  return scope;
}

// One query of each type, none reading user properties (not on this backend yet).
std::vector<Query> QueriesOf(const QueryScope& scope) {
  std::vector<Query> queries;
  queries.push_back(ActiveUsersQuery{.scope = scope});
  queries.push_back(StickinessQuery{.scope = scope});
  queries.push_back(SessionsQuery{.scope = scope});
  SegmentationQuery segmentation{.scope = scope};
  segmentation.events = {EventSelector{.event_type = "click"}, EventSelector{.event_type = "view"}};
  segmentation.metric = SeriesMetric::kUniques;
  segmentation.formulas = {"UNIQUES(A)/UNIQUES(B)"};
  queries.push_back(segmentation);
  RetentionQuery retention{.scope = scope};
  retention.start = EventSelector{.event_type = kNewUserEvent};
  retention.returned = EventSelector{.event_type = kAnyActiveEvent};
  retention.as_of_ms = scope.to_ms;
  queries.push_back(retention);
  FunnelQuery funnel{.scope = scope};
  funnel.steps = {EventSelector{.event_type = "view"}, EventSelector{.event_type = "click"}};
  queries.push_back(funnel);
  ExperimentQuery experiment{.scope = scope};
  experiment.goal = EventSelector{.event_type = "click"};
  queries.push_back(experiment);
  return queries;
}

TEST_F(ClickHouseEventStoreTest, AnswersAsTheReferenceAndFollowsTheData) {
  ClickHouseEventStoreOptions options;
  options.schema.database = "event_store_test";
  absl::StatusOr<std::unique_ptr<ClickHouseEventStore>> created =
      ClickHouseEventStore::Create(Sql(), options);
  ASSERT_TRUE(created.ok()) << created.status();
  ClickHouseEventStore& store = **created;

  analytics::testing::RandomEventsOptions data;
  data.project = "events";
  std::vector<Event> events = analytics::testing::RandomEvents(7, data);
  absl::StatusOr<uint64_t> empty = store.DataVersion(data.project);  // creates the schema
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, 0u);

  // Two appends, then the first half again (a WAL replay): nothing counts twice.
  const size_t half = events.size() / 2;
  ASSERT_TRUE(store.Append({events.begin(), events.begin() + half}).ok());
  ASSERT_TRUE(store.Append({events.begin() + half, events.end()}).ok());
  absl::StatusOr<uint64_t> version = store.DataVersion(data.project);
  ASSERT_TRUE(version.ok());
  EXPECT_NE(*version, 0u);
  absl::StatusOr<AppendCounts> replay = store.Append({events.begin(), events.begin() + half});
  ASSERT_TRUE(replay.ok()) << replay.status();
  absl::StatusOr<uint64_t> after_replay = store.DataVersion(data.project);
  ASSERT_TRUE(after_replay.ok());
  EXPECT_NE(*after_replay, *version);  // rows were added, though queries drop them
  EXPECT_EQ(*store.DataVersion(data.project), *after_replay);  // unchanged data, same version

  ReferenceEngine reference(events);
  int compared = 0;
  for (const Query& query : QueriesOf(Scope(data))) {
    absl::StatusOr<EngineAnswer> answer = store.Run(query);
    ASSERT_TRUE(answer.ok()) << answer.status() << " (query type " << query.index() << ")";
    absl::StatusOr<Result> want = reference.Run(query);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_TRUE(answer->result == *want)
        << "query type " << query.index() << " on " << EngineName();
    EXPECT_EQ(answer->data_version, *after_replay);
    ++compared;
  }
  EXPECT_EQ(compared, 7);

  // Drill-down through the store: the reference's actors behind a number.
  for (const Query& query : QueriesOf(Scope(data))) {
    for (CellRef cell : {CellRef{-1, 0}, CellRef{0, 0}}) {
      absl::StatusOr<ActorsPage> want = reference.Actors(query, cell, "", 1 << 30);
      absl::StatusOr<ActorsPage> got = store.Actors(query, cell, "", 1 << 30);
      ASSERT_EQ(got.ok(), want.ok())
          << "query type " << query.index() << ": " << got.status() << " vs " << want.status();
      if (want.ok()) {
        EXPECT_EQ(got->actors, want->actors) << "query type " << query.index();
      }
    }
  }

  // Deletion: a user's events leave the answers, as they leave the reference's data.
  std::string user;
  for (const Event& e : events) {
    if (!e.user_id.empty()) user = e.user_id;
  }
  ASSERT_FALSE(user.empty());
  absl::StatusOr<int64_t> deleted = store.DeleteUser(data.project, user);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_GT(*deleted, 0);
  EXPECT_NE(*store.DataVersion(data.project), *after_replay);

  // Retention: a cutoff past the data's last month drops every partition.
  ASSERT_TRUE(store.ExpireBefore(data.start_ms + 400 * kDay).ok());
  EXPECT_EQ(*store.DataVersion(data.project), 0u);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
