#include "analytics/reference/sessions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analytics/reference/reference_engine.h"
#include "analytics/reference/test_events.h"

namespace cohort::analytics {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::CellActors;
using ::cohort::analytics::testing::Ev;
using ::cohort::analytics::testing::RunAs;
using ::cohort::analytics::testing::Scope;
using ::testing::ElementsAre;

Event InSession(Event e, int64_t session_id) {
  e.session_id = session_id;
  return e;
}

// Jan 1 2026 (UTC), timeout 30 min:
//   u1 implicit 10:00, 10:30 (gap exactly the timeout: one session, 1800 s), 11:00:00.001 (new: 0
//   s) u1 explicit 7: 12:00, 12:00:10 (10 s) u1 implicit 13:00, 13:20 around explicit 9 at 13:10
//   (1200 s and 0 s) u1 session_id -1 at 14:00 (no session); u2 $identify 15:00 (not activity) u2
//   implicit 23:50 → Jan 2 00:10 (starts in Jan 1: 1200 s, counted in full) u3 implicit Dec 31
//   23:50 → Jan 1 00:10 (starts before the range: left out)
ReferenceEngine Data() {
  return ReferenceEngine({
      Ev("a", At(2026, 1, 1, 10), "u1"),
      Ev("a", At(2026, 1, 1, 10, 30), "u1"),
      Ev("a", At(2026, 1, 1, 11) + 1, "u1"),
      InSession(Ev("a", At(2026, 1, 1, 12), "u1"), 7),
      InSession(Ev("a", At(2026, 1, 1, 12, 0, 10), "u1"), 7),
      Ev("a", At(2026, 1, 1, 13), "u1"),
      InSession(Ev("a", At(2026, 1, 1, 13, 10), "u1"), 9),
      Ev("a", At(2026, 1, 1, 13, 20), "u1"),
      InSession(Ev("a", At(2026, 1, 1, 14), "u1"), kNoSessionId),
      Ev("$identify", At(2026, 1, 1, 15), "u2"),
      Ev("a", At(2026, 1, 1, 23, 50), "u2"),
      Ev("a", At(2026, 1, 2, 0, 10), "u2"),
      Ev("a", At(2025, 12, 31, 23, 50), "u3"),
      Ev("a", At(2026, 1, 1, 0, 10), "u3"),
  });
}

TEST(SessionsTest, CountsLengthsAndHistogramPerBucketOfTheSessionStart) {
  ReferenceEngine engine = Data();
  SessionsQuery query;
  query.scope = Scope(At(2026, 1, 1), At(2026, 1, 3));
  auto result = RunAs<SessionsResult>(engine, query);
  EXPECT_THAT(result.buckets, ElementsAre(At(2026, 1, 1), At(2026, 1, 2)));
  // Lengths: 1800, 0, 10, 1200, 0, 1200 seconds.
  EXPECT_THAT(result.counts, ElementsAre(6, 0));
  EXPECT_THAT(result.average_length_s, ElementsAre(4210.0 / 6, std::nullopt));
  // Bounds 0, 10, 30, 60, 180, 600, 1800, 3600 and the rest.
  EXPECT_THAT(result.histogram, ElementsAre(ElementsAre(2, 1, 0, 0, 0, 0, 3, 0, 0),
                                            ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0)));
  EXPECT_EQ(result.total_count, 6);
  EXPECT_EQ(result.total_average_length_s, 4210.0 / 6);
  EXPECT_THAT(CellActors(engine, query, {-1, 0}), ElementsAre("u1", "u2"));
  EXPECT_THAT(CellActors(engine, query, {-1, 1}), ElementsAre());
}

TEST(SessionsTest, AShorterTimeoutSplitsTheImplicitSessions) {
  SessionsQuery query;
  query.scope = Scope(At(2026, 1, 1), At(2026, 1, 2));
  query.timeout_ms = 20 * 60'000;  // the 13:00–13:20 gap is exactly 20 min: still one
  query.length_buckets_s = {100};
  auto result = RunAs<SessionsResult>(Data(), query);
  // u1: 10:00, 10:30, 11:00:00.001, explicit 7 (10 s), 13:00–13:20 (1200 s), explicit 9;
  // u2: 23:50, 00:10 (1200 s).
  EXPECT_THAT(result.counts, ElementsAre(7));
  EXPECT_THAT(result.histogram, ElementsAre(ElementsAre(5, 2)));
  EXPECT_EQ(result.total_average_length_s, 2410.0 / 7);
}

TEST(SessionsTest, ExplicitSessionsMergeAcrossTheDevicesOfOneActor) {
  ReferenceEngine engine({
      InSession(Ev("a", At(2026, 1, 1, 10), "", "d"), 5),
      InSession(Ev("login", At(2026, 1, 1, 10, 1), "u", "d"), 5),
      InSession(Ev("a", At(2026, 1, 1, 10, 2), "u"), 5),
  });
  SessionsQuery query;
  query.scope = Scope(At(2026, 1, 1), At(2026, 1, 2));
  auto merged = RunAs<SessionsResult>(engine, query);
  EXPECT_EQ(merged.total_count, 1);
  EXPECT_EQ(merged.total_average_length_s, 120.0);
  query.scope.identity = IdentityMerge::kNone;
  auto apart = RunAs<SessionsResult>(engine, query);
  EXPECT_EQ(apart.total_count, 2);  // device:d (0 s) and u (60 s)
  EXPECT_EQ(apart.total_average_length_s, 30.0);
}

}  // namespace
}  // namespace cohort::analytics
