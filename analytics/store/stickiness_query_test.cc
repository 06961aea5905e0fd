// Stickiness on the embedded store against the brute-force reference on randomized data, and a
// hand-checked case.
#include "analytics/store/stickiness_query.h"

#include <gtest/gtest.h>

#include <random>

#include "analytics/reference/reference_engine.h"
#include "analytics/store/testing/stored_events_test_base.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::store {
namespace {

using StickinessQueryTest = StoredEventsTest;

constexpr int64_t kDay = 86'400'000;

TEST_F(StickinessQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0, with_ratios = 0, with_weeks = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    std::mt19937 rng(seed);
    testing::RandomEventsOptions options;
    std::vector<Event> events = testing::StickinessEvents(seed, options);
    Snapshot snapshot = Store(events, 1 + static_cast<int>(rng() % 4), static_cast<int>(seed));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      for (int q = 0; q < 6; ++q) {
        StickinessQuery query = testing::RandomStickinessQuery(rng, options, identity);
        absl::StatusOr<StickinessResult> embedded = RunStickiness(query, view);
        ASSERT_TRUE(embedded.ok()) << embedded.status();
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        ASSERT_EQ(*embedded, std::get<StickinessResult>(*expected))
            << "seed " << seed << " query " << q << " zone " << query.scope.time_zone;
        drilled += ExpectDrillDownsAgree(query, view, reference, rng);
        ++compared;
        with_ratios += embedded->mean_dau_over_mau.has_value();
        for (const auto& week : embedded->days_active_per_week) {
          with_weeks += week[1] + week[2] + week[3] > 0;
        }
      }
    }
  }
  EXPECT_EQ(compared, 30 * 2 * 6);
  EXPECT_GT(drilled, compared / 5);
  EXPECT_GT(with_ratios, compared / 2);  // the data exercises the ratios and the week counts
  EXPECT_GT(with_weeks, 10);
}

TEST_F(StickinessQueryTest, HandChecked) {
  // 2026-03-02 is a Monday. u1 is active on Mon and Tue, u2 on Tue only.
  int64_t monday = 1'772'409'600'000;
  auto make = [](std::string user, int64_t t, std::string id) {
    Event e;
    e.project = "p";
    e.user_id = std::move(user);
    e.time_ms = t;
    e.insert_id = std::move(id);
    e.event_type = "view";
    return e;
  };
  Snapshot snapshot = Store({make("u1", monday + 10, "a"), make("u1", monday + kDay + 10, "b"),
                             make("u2", monday + kDay + 20, "c")},
                            2, 0);
  StickinessQuery query;
  query.scope.project = "p";
  query.scope.from_ms = monday;
  query.scope.to_ms = monday + 3 * kDay;
  absl::StatusOr<StickinessResult> r =
      RunStickiness(query, ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->days.size(), 3u);
  // Mon 1/1, Tue 2/2, Wed 0/2.
  EXPECT_EQ(r->dau_over_mau, (std::vector<Number>{1.0, 1.0, 0.0}));
  EXPECT_EQ(r->mean_dau_over_mau, 2.0 / 3);
  ASSERT_EQ(r->weeks, std::vector<int64_t>{monday});
  EXPECT_EQ(r->days_active_per_week[0], (std::vector<int64_t>{1, 1, 0, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace cohort::analytics::store
