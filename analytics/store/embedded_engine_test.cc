// EmbeddedEngine's freshness: exact answers by default; with max_staleness, answers from the
// previous view only within the bound while the builder thread catches up, and views kept warm.
#include "analytics/store/embedded_engine.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "analytics/store/segment_store.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::store {
namespace {

constexpr int64_t kDay = 86'400'000;

Event Click(const std::string& user, int64_t time, int n) {
  Event e;
  e.project = "p";
  e.user_id = user;
  e.time_ms = time;
  e.insert_id = absl::StrCat("i", n);
  e.event_type = "click";
  return e;
}

class EmbeddedEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/embedded_engine_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    absl::StatusOr<std::unique_ptr<SegmentStore>> store = SegmentStore::Open(
        SegmentStoreOptions{.dir = dir_, .merge_below_events = 100, .merge_fan_in = 2});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Append(int n) {
    ASSERT_TRUE(store_->Append({Click(absl::StrCat("u", n), 10 * kDay + n, n)}).ok());
  }

  static Query ActiveUsers() {
    ActiveUsersQuery q;
    q.scope.project = std::string("p");  // (GCC 12's -Wrestrict misfires on an assigned literal)
    q.scope.from_ms = 10 * kDay;
    q.scope.to_ms = 11 * kDay;
    return q;
  }

  // (active users, data version) of a run.
  static std::pair<int64_t, uint64_t> Run(EmbeddedEngine& engine) {
    absl::StatusOr<EngineAnswer> answer = engine.Run(ActiveUsers());
    EXPECT_TRUE(answer.ok()) << answer.status();
    if (!answer.ok()) return {-1, 0};
    const auto& values = std::get<ActiveUsersResult>(answer->result).values;
    return {std::accumulate(values.begin(), values.end(), int64_t{0}), answer->data_version};
  }

  static void AwaitBuilds(const EmbeddedEngine& engine, int64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (engine.background_builds() < n && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_GE(engine.background_builds(), n);
  }

  uint64_t Version() const { return store_->GetSnapshot("p").version; }

  std::string dir_;
  std::unique_ptr<SegmentStore> store_;
  SimulatedClock clock_;
};

TEST_F(EmbeddedEngineTest, ByDefaultEveryQuerySeesTheLatestEvents) {
  EmbeddedEngine engine(*store_);
  Append(1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{1}, Version()));
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{1}, Version()));
  EXPECT_EQ(engine.query_builds(), 1);  // the view is shared while the events stand
  Append(2);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, Version()));
  EXPECT_EQ(engine.query_builds(), 2);
  // A merge reorganises the same events: the version, and so cached answers, stay.
  const uint64_t before = Version();
  ASSERT_EQ(*store_->Merge(), 1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, before));
  EXPECT_EQ(engine.background_builds(), 0);
}

TEST_F(EmbeddedEngineTest, AWarmViewIsRebuiltInTheBackgroundWhenTheEventsChange) {
  EmbeddedEngine engine(
      *store_,
      {.max_staleness = absl::Seconds(1), .keep_warm = absl::Minutes(1), .clock = &clock_});
  Append(1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{1}, Version()));
  Append(2);  // the view was used just now: rebuilt without waiting for a query
  AwaitBuilds(engine, 1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, Version()));
  // A merge: the view is still exact; compacted from the merged segments in the background and
  // put in its place.
  const uint64_t before = Version();
  ASSERT_EQ(*store_->Merge(), 1);
  EXPECT_EQ(Run(engine).second, before);
  AwaitBuilds(engine, 2);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (engine.compactions() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(engine.compactions(), 1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, before));
  // Once compacted, the same segments ask for no further compaction.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, before));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(engine.compactions(), 1);
}

TEST_F(EmbeddedEngineTest, AStaleViewAnswersOnlyWithinTheBound) {
  EmbeddedEngine engine(
      *store_,
      {.max_staleness = absl::Seconds(1), .keep_warm = absl::Seconds(10), .clock = &clock_});
  Append(1);
  const uint64_t first = Version();
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{1}, first));

  // Not used for longer than keep_warm: nothing is rebuilt when the events change...
  clock_.Advance(absl::Seconds(11));
  Append(2);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(engine.background_builds(), 0);
  // ...and within the bound a query is answered from the previous events, saying so by their
  // version, while the builder catches up.
  clock_.Advance(absl::Milliseconds(900));
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{1}, first));
  AwaitBuilds(engine, 1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, Version()));

  // Past the bound the query builds the view itself: always the latest events.
  clock_.Advance(absl::Seconds(11));
  Append(3);
  clock_.Advance(absl::Milliseconds(1001));
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{3}, Version()));
}

TEST_F(EmbeddedEngineTest, AQueryPastTheBoundWaitsForTheBuilderRatherThanBuildingAgain) {
  absl::Notification release;
  std::atomic<int> started{0};
  // (No compaction: its catch-up would count as a background build.)
  EmbeddedEngine engine(*store_, {.max_staleness = absl::Seconds(1),
                                  .keep_warm = absl::Minutes(1),
                                  .clock = &clock_,
                                  .compact_after_fraction = 1e9,
                                  .on_background_build = [&] {
                                    ++started;
                                    release.WaitForNotification();
                                  }});
  Append(1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{1}, Version()));
  Append(2);  // the builder takes the new snapshot and is held in the hook
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (started.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(started.load(), 1);
  clock_.Advance(absl::Milliseconds(1500));  // past the bound: the old view will not do

  std::pair<int64_t, uint64_t> answer;
  std::thread query([&] { answer = Run(engine); });
  while (engine.query_waits() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(engine.query_waits(), 1);
  release.Notify();
  query.join();
  EXPECT_EQ(answer, std::make_pair(int64_t{2}, Version()));
  EXPECT_EQ(engine.background_builds(), 1);
  EXPECT_EQ(engine.query_builds(), 1);  // only the very first view
}

TEST_F(EmbeddedEngineTest, AppendsExtendTheViewAndADeletionBuildsItWhole) {
  EmbeddedEngine engine(*store_);
  Append(1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{1}, Version()));
  EXPECT_EQ(engine.extensions(), 0);  // the first view is built whole
  Append(2);
  Append(3);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{3}, Version()));
  EXPECT_EQ(engine.extensions(), 1);  // both appends at once
  ASSERT_EQ(*store_->DeleteUser("p", "u2"), 1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, Version()));
  EXPECT_EQ(engine.extensions(), 1);
  EXPECT_EQ(engine.query_builds(), 3);
}

TEST_F(EmbeddedEngineTest, ExtendedViewsAreCompactedInTheBackgroundAndStayExact) {
  EmbeddedEngine engine(*store_, {.max_staleness = absl::Seconds(1),
                                  .keep_warm = absl::Minutes(1),
                                  .clock = &clock_,
                                  .compact_after_segments = 2});
  // Many users per append, some seen again, so extensions touch existing actors too.
  int n = 0;
  for (int round = 0; round < 12; ++round) {
    std::vector<Event> batch;
    for (int i = 0; i < 5; ++i) {
      ++n;
      batch.push_back(Click(absl::StrCat("u", (n * 7) % 23), 10 * kDay + n, n));
    }
    ASSERT_TRUE(store_->Append(std::move(batch)).ok());
    if (round % 3 == 0) {
      ASSERT_TRUE(store_->Merge().ok());
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::pair<int64_t, uint64_t> answer = Run(engine);
    while (answer.second != Version() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
      answer = Run(engine);
    }
    ASSERT_EQ(answer.second, Version());
    EmbeddedEngine whole(*store_);  // a fresh engine builds the view whole
    EXPECT_EQ(answer, Run(whole)) << "round " << round;
  }
  EXPECT_GT(engine.extensions(), 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (engine.compactions() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_GT(engine.compactions(), 0);
}

TEST_F(EmbeddedEngineTest, AWholeBuiltViewIsCompactedAfterAMerge) {
  EmbeddedEngine engine(
      *store_,
      {.max_staleness = absl::Seconds(1), .keep_warm = absl::Minutes(1), .clock = &clock_});
  Append(1);
  Append(2);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, Version()));  // built whole by the query
  ASSERT_EQ(*store_->Merge(), 1);
  EXPECT_EQ(Run(engine).first, 2);  // asks for the compaction
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (engine.compactions() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(engine.compactions(), 1);
  EXPECT_EQ(Run(engine), std::make_pair(int64_t{2}, Version()));
}

}  // namespace
}  // namespace cohort::analytics::store
