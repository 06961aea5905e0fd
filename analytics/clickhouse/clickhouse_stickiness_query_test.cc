// RunStickiness on a real engine (18.16, or chdb: query_test_base.h) against the brute-force
// reference on randomized datasets spanning more than the rolling month.
#include "analytics/clickhouse/clickhouse_stickiness_query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::clickhouse {
namespace {

using StickinessQueryTest = testing::ClickHouseQueryTest;

constexpr int64_t kDay = 86'400'000;

TEST_F(StickinessQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0, with_ratios = 0, with_weeks = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    std::mt19937 drill_rng(seed + 1000);  // cells drawn apart, so the queries stay the same
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("sticky", seed);
    std::vector<Event> events = analytics::testing::StickinessEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < 3; ++q) {
        StickinessQuery query = analytics::testing::RandomStickinessQuery(rng, options, identity);
        absl::StatusOr<StickinessResult> got = RunStickiness(query, Sql(), Table());
        ASSERT_TRUE(got.ok()) << got.status();
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        ASSERT_EQ(*got, std::get<StickinessResult>(*expected))
            << "seed " << seed << " query " << q << " zone " << query.scope.time_zone << " on "
            << EngineName();
        drilled += ExpectDrillDownAgrees(query, reference, drill_rng);
        ++compared;
        with_ratios += got->mean_dau_over_mau.has_value();
        for (const auto& week : got->days_active_per_week) {
          with_weeks += week[1] + week[2] + week[3] > 0;
        }
      }
    }
  }
  EXPECT_EQ(compared, 10 * 2 * 3);
  std::printf("%s: %d drill-down cells compared\n", EngineName(), drilled);
  EXPECT_GT(drilled, 0);
  EXPECT_GT(with_ratios, compared / 2);  // the data exercises the ratios and the week counts
  EXPECT_GT(with_weeks, 10);
}

TEST_F(StickinessQueryTest, HandChecked) {
  // 2026-03-02 is a Monday. u1 is active on Mon and Tue, u2 on Tue only.
  int64_t monday = 1'772'409'600'000;
  auto make = [](std::string user, int64_t t, std::string id) {
    Event e;
    e.project = "sticky-hand";
    e.user_id = std::move(user);
    e.time_ms = t;
    e.insert_id = std::move(id);
    e.event_type = "view";
    return e;
  };
  Insert({make("u1", monday + 10, "a"), make("u1", monday + kDay + 10, "b"),
          make("u2", monday + kDay + 20, "c")},
         2);
  StickinessQuery query;
  query.scope.project = "sticky-hand";
  query.scope.from_ms = monday;
  query.scope.to_ms = monday + 3 * kDay;
  absl::StatusOr<StickinessResult> r = RunStickiness(query, Sql(), Table());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->days.size(), 3u);
  // Mon 1/1, Tue 2/2, Wed 0/2.
  EXPECT_EQ(r->dau_over_mau, (std::vector<Number>{1.0, 1.0, 0.0}));
  EXPECT_EQ(r->mean_dau_over_mau, 2.0 / 3);
  ASSERT_EQ(r->weeks, std::vector<int64_t>{monday});
  EXPECT_EQ(r->days_active_per_week[0], (std::vector<int64_t>{1, 1, 0, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
