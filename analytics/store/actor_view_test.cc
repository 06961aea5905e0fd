// ActorView::Extend against ActorView::Build: extending a view with appended segments gives the
// view Build makes of all the segments — the same actors, runs, orders, timeline, indexes and
// hourly sets — under both identity modes, at every split of a randomized dataset, one segment
// at a time or several at once; and the cases that move events between actors: an anonymous
// device that logs in later, and a device whose first user changes when an earlier event arrives.
#include "analytics/store/actor_view.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analytics/store/testing/stored_events_test_base.h"
#include "analytics/testing/random_events.h"

namespace cohort::analytics::store {
namespace {

using ActorViewTest = StoredEventsTest;

std::vector<SegmentPtr> Slice(const std::vector<SegmentPtr>& s, size_t from, size_t to) {
  return std::vector<SegmentPtr>(s.begin() + static_cast<std::ptrdiff_t>(from),
                                 s.begin() + static_cast<std::ptrdiff_t>(to));
}

std::vector<std::string> ActorIds(const ActorView& view) {
  std::vector<std::string> ids;
  for (size_t a = 0; a < view.actor_count(); ++a) ids.push_back(view.actor_id(a));
  return ids;
}

Event Ev(std::string user, std::string device, int64_t t, std::string id) {
  Event e;
  e.project = "p";
  e.event_type = "click";
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.time_ms = t;
  e.insert_id = std::move(id);
  return e;
}

TEST_F(ActorViewTest, ExtendGivesTheViewBuildMakesAtEverySplit) {
  int compared = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    testing::RandomEventsOptions options;
    options.actors = 10 + static_cast<int>(seed % 5) * 15;
    options.events = 150 + static_cast<int>(seed % 7) * 60;
    const int batches = 2 + static_cast<int>(seed % 6);
    Snapshot snapshot =
        Store(testing::RandomEvents(seed, options), batches, static_cast<int>(seed));
    const std::vector<SegmentPtr>& all = snapshot.segments;
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      const ActorView full = ActorView::Build(all, identity);
      // Base of the first `split` segments, the rest added at once.
      for (size_t split = 0; split < all.size(); ++split) {
        const ActorView base = ActorView::Build(Slice(all, 0, split), identity);
        const ActorView extended = ActorView::Extend(base, Slice(all, split, all.size()));
        EXPECT_TRUE(extended.SameAs(full))
            << "seed " << seed << " split " << split << " of " << all.size() << " identity "
            << static_cast<int>(identity);
        ++compared;
      }
      // One segment at a time, each extension extending the last.
      ActorView chained = ActorView::Build({}, identity);
      for (size_t s = 0; s < all.size(); ++s) {
        chained = ActorView::Extend(chained, Slice(all, s, s + 1));
        EXPECT_TRUE(chained.SameAs(ActorView::Build(Slice(all, 0, s + 1), identity)))
            << "seed " << seed << " after segment " << s;
        ++compared;
      }
      EXPECT_EQ(chained.identity(), identity);
    }
  }
  EXPECT_GT(compared, 500);
}

TEST_F(ActorViewTest, AnAnonymousDeviceThatLogsInLaterJoinsItsUser) {
  const int64_t t0 = 1'772'841'600'000;
  Snapshot snapshot = Store(
      {
          Ev("", "d1", t0 + 1, "a"),  // anonymous
          Ev("", "d1", t0 + 2, "b"), Ev("u1", "", t0 + 3, "c"),
          Ev("u1", "d1", t0 + 10, "d"),  // second segment: d1 seen with u1
      },
      2, 1);
  ASSERT_EQ(snapshot.segments.size(), 2u);
  const ActorView base =
      ActorView::Build(Slice(snapshot.segments, 0, 1), IdentityMerge::kDeviceToUser);
  EXPECT_EQ(ActorIds(base), (std::vector<std::string>{"device:d1", "u1"}));
  const ActorView extended = ActorView::Extend(base, Slice(snapshot.segments, 1, 2));
  EXPECT_EQ(ActorIds(extended), (std::vector<std::string>{"u1"}));
  EXPECT_EQ(extended.timeline_end(0) - extended.timeline_begin(0), 4u);
  EXPECT_TRUE(extended.SameAs(ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser)));
  // Without the merge the device stays its own actor.
  const ActorView none =
      ActorView::Extend(ActorView::Build(Slice(snapshot.segments, 0, 1), IdentityMerge::kNone),
                        Slice(snapshot.segments, 1, 2));
  EXPECT_EQ(ActorIds(none), (std::vector<std::string>{"device:d1", "u1"}));
}

TEST_F(ActorViewTest, ADeviceMovesToTheUserOfAnEarlierEventThatArrivesLate) {
  const int64_t t0 = 1'772'841'600'000;
  Snapshot snapshot = Store(
      {
          Ev("", "d1", t0 + 1, "a"), Ev("u2", "d1", t0 + 50, "b"),  // d1's first user so far: u2
          Ev("u1", "d1", t0 + 20, "c"),  // second segment: an earlier event with u1
      },
      2, 1);
  ASSERT_EQ(snapshot.segments.size(), 2u);
  const ActorView base =
      ActorView::Build(Slice(snapshot.segments, 0, 1), IdentityMerge::kDeviceToUser);
  ASSERT_EQ(ActorIds(base), (std::vector<std::string>{"u2"}));
  EXPECT_EQ(base.timeline_end(0) - base.timeline_begin(0), 2u);
  const ActorView extended = ActorView::Extend(base, Slice(snapshot.segments, 1, 2));
  ASSERT_EQ(ActorIds(extended), (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(extended.timeline_end(0) - extended.timeline_begin(0), 2u);  // d1's event and c
  EXPECT_EQ(extended.timeline_end(1) - extended.timeline_begin(1), 1u);  // b
  EXPECT_TRUE(extended.SameAs(ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser)));
}

TEST_F(ActorViewTest, SameAsTellsDifferentViewsApart) {
  Snapshot snapshot = Store(testing::RandomEvents(3), 3, 1);
  const ActorView all = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  EXPECT_TRUE(all.SameAs(ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser)));
  EXPECT_FALSE(all.SameAs(ActorView::Build(snapshot.segments, IdentityMerge::kNone)));
  EXPECT_FALSE(
      all.SameAs(ActorView::Build(Slice(snapshot.segments, 0, 2), IdentityMerge::kDeviceToUser)));
}

}  // namespace
}  // namespace cohort::analytics::store
