// The ClickHouse retention against the brute-force reference on randomized datasets (issue 6,
// "Correctness"), on Debian's 18.16 or on chdb (testing/query_test_base.h): every mode (N-day,
// unbounded, brackets), rolling and calendar days in several zones, both identity modes, as-of
// instants inside the data, at day starts and at return times. Queries with user-property filters
// must be refused (kUnimplemented); their event-only reduction is compared instead.
#include "analytics/clickhouse/clickhouse_retention_query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/random_events.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::clickhouse {
namespace {

constexpr int64_t kDayMs = 86'400'000;

using ClickHouseRetentionQueryTest = testing::ClickHouseQueryTest;

PropertyFilter RandomFilter(std::mt19937& rng) {
  using S = PropertyRef::Scope;
  using analytics::testing::MakeFilter;
  switch (rng() % 6) {
    case 0:
      return MakeFilter(S::kEvent, "button", FilterOp::kEquals, {PropertyValue::String("buy")});
    case 1:
      return MakeFilter(S::kEvent, "button", FilterOp::kNotEquals, {PropertyValue::String("sell")});
    case 2:
      return MakeFilter(S::kEvent, "price", FilterOp::kGreaterOrEqual, {PropertyValue::Number(2)});
    case 3:
      return MakeFilter(S::kUser, "plan", FilterOp::kEquals, {PropertyValue::String("pro")});
    case 4:
      return MakeFilter(S::kEvent, "price", FilterOp::kLess, {PropertyValue::Number(3)});
    default:
      return MakeFilter(S::kUser, "country", FilterOp::kIsSet, {});
  }
}

EventSelector RandomSelector(std::mt19937& rng, bool start) {
  static const char* kStartTypes[] = {kAnyActiveEvent, kNewUserEvent, kNewUserEvent, "signup",
                                      "view",          "click",       kAnyEvent};
  static const char* kReturnTypes[] = {kAnyActiveEvent, kAnyActiveEvent, "view",
                                       "purchase",      "dify.message",  kAnyEvent};
  EventSelector selector;
  selector.event_type = start ? kStartTypes[rng() % std::size(kStartTypes)]
                              : kReturnTypes[rng() % std::size(kReturnTypes)];
  if (rng() % 3 == 0) {
    selector.filters.push_back(RandomFilter(rng));
    if (rng() % 3 == 0) selector.filters.push_back(RandomFilter(rng));
  }
  return selector;
}

// Whether the selector filters on a user property; then drops those filters.
bool StripUserFilters(EventSelector& selector) {
  return std::erase_if(selector.filters, [](const PropertyFilter& filter) {
           return filter.property.scope == PropertyRef::Scope::kUser;
         }) > 0;
}

TEST_F(ClickHouseRetentionQueryTest, AgreesWithTheReferenceOnRandomData) {
  const char* kZones[] = {"UTC", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe",
                          "Asia/Kolkata"};
  constexpr uint32_t kSeeds = 10;
  constexpr int kQueries = 10;
  int compared = 0, refused = 0;
  int64_t retained = 0, complete = 0, incomplete_cells = 0, cohorts = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 rng(seed);
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("retention-", seed);
    std::vector<Event> events = analytics::testing::RandomEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < kQueries; ++q) {
        RetentionQuery query;
        query.scope.project = options.project;
        query.scope.identity = identity;
        query.scope.time_zone = kZones[rng() % std::size(kZones)];
        query.scope.from_ms = options.start_ms + static_cast<int64_t>(rng() % 5) * kDayMs +
                              static_cast<int64_t>(rng() % kDayMs);
        query.scope.to_ms = query.scope.from_ms + 3'600'000 +
                            static_cast<int64_t>(rng() % (5 * static_cast<uint64_t>(kDayMs)));
        if (rng() % 3 == 0) query.scope.inactive_event_types = {"view"};
        query.start = RandomSelector(rng, /*start=*/true);
        query.returned = RandomSelector(rng, /*start=*/false);
        query.mode = static_cast<RetentionMode>(rng() % 3);
        query.days = rng() % 2 ? RetentionDays::kRolling : RetentionDays::kCalendar;
        query.max_day = 1 + static_cast<int>(rng() % 10);
        if (query.mode == RetentionMode::kBracket) {
          int day = 1 + static_cast<int>(rng() % 3);
          for (int b = 1 + static_cast<int>(rng() % 4); b > 0 && day <= 10; --b) {
            int last = day + static_cast<int>(rng() % 3);
            query.brackets.emplace_back(day, last);
            day = last + 1 + static_cast<int>(rng() % 2);
          }
        }
        // As of: well after the data; inside it at a random instant; at a calendar day start
        // (where calendar days end); or an event's time plus whole days (where rolling days end,
        // and a return exactly at as-of).
        switch (rng() % 4) {
          case 0:
            query.as_of_ms = options.start_ms + options.span_ms + 15 * kDayMs;
            break;
          case 1:
            query.as_of_ms = query.scope.from_ms +
                             static_cast<int64_t>(rng() % (12 * static_cast<uint64_t>(kDayMs)));
            break;
          case 2: {
            Calendar calendar = *Calendar::Load(query.scope.time_zone);
            query.as_of_ms = calendar.DayStart(calendar.Day(query.scope.from_ms) +
                                               static_cast<int64_t>(rng() % 12));
            break;
          }
          default:
            query.as_of_ms =
                events[rng() % events.size()].time_ms + static_cast<int64_t>(rng() % 4) * kDayMs;
        }
        RetentionQuery reduced = query;
        bool stripped = StripUserFilters(reduced.start);
        stripped |= StripUserFilters(reduced.returned);
        if (stripped) {
          absl::StatusOr<RetentionResult> refusal = RunRetention(query, Sql(), Table());
          ASSERT_EQ(refusal.status().code(), absl::StatusCode::kUnimplemented) << refusal.status();
          ++refused;
        }
        absl::StatusOr<RetentionResult> got = RunRetention(reduced, Sql(), Table());
        ASSERT_TRUE(got.ok()) << got.status();
        absl::StatusOr<Result> expected = reference.Run(reduced);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<RetentionResult>(*expected);
        ASSERT_EQ(*got, want) << EngineName() << " seed " << seed << " query " << q << " zone "
                              << reduced.scope.time_zone << " start " << reduced.start.event_type
                              << " return " << reduced.returned.event_type << " mode "
                              << static_cast<int>(reduced.mode) << " days "
                              << static_cast<int>(reduced.days) << " identity "
                              << static_cast<int>(identity);
        ++compared;
        cohorts += want.total.size;
        for (const RetentionCell& cell : want.total.cells) {
          retained += cell.count;
          complete += cell.out_of;
          incomplete_cells += cell.incomplete;
        }
      }
    }
  }
  std::printf(
      "%s: %d compared (%d refused first), %lld cohort actors, %lld retained of %lld "
      "complete, %lld incomplete cells\n",
      EngineName(), compared, refused, static_cast<long long>(cohorts),
      static_cast<long long>(retained), static_cast<long long>(complete),
      static_cast<long long>(incomplete_cells));
  EXPECT_EQ(compared, static_cast<int>(kSeeds) * 2 * kQueries);
  EXPECT_GT(refused, 30);
  EXPECT_GT(cohorts, 1000);
  EXPECT_GT(retained, 700);
  EXPECT_GT(complete, 2 * retained);
  EXPECT_GT(incomplete_cells, 100);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
