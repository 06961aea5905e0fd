// ScanActors: whichever way it reaches the events (timeline or type index), the visitor sees
// exactly the wanted types' events, of the same actors in the same order; a visit returning
// false ends that actor's events; the type index lists every position under its type; ActorAt
// finds each position's actor; ScanSegments visits each wanted event once, with its actor; with
// user properties, each wanted event sees those as of it.
#include "analytics/store/actor_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "analytics/store/actor_view.h"
#include "analytics/store/testing/stored_events_test_base.h"
#include "analytics/store/user_state.h"
#include "analytics/testing/random_events.h"

namespace cohort::analytics::store {
namespace {

using ActorScanTest = StoredEventsTest;

// (time, type id, segment, index) of each visited wanted event, then (actor, -1, 0, 0) at the
// end of each actor that had one: the same list from both accesses means the same events, in the
// same order, of the same actors.
using Visit = std::tuple<int64_t, uint32_t, uint32_t, uint32_t>;

std::vector<Visit> Scan(const ActorView& view, EventAccess access,
                        const std::vector<uint8_t>& wanted, size_t stop_after) {
  std::vector<Visit> out;
  size_t seen = 0;  // wanted events of the current actor
  ScanActors(
      view, access, wanted, nullptr,
      [&](int64_t time, uint32_t type, auto&& event, const Properties*) {
        EXPECT_NE(wanted[type], 0) << "an unwanted type visited";
        const EventRef ref = event();
        out.emplace_back(time, type, ref.segment_number, ref.index);
        return ++seen < stop_after;
      },
      [&](size_t a) {
        if (seen > 0) out.emplace_back(static_cast<int64_t>(a), -1, 0, 0);
        seen = 0;
      });
  return out;
}

TEST_F(ActorScanTest, TypeIndexVisitsTheWantedEventsOfTheTimelineInOrder) {
  int compared = 0, nonempty = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    std::vector<Event> events = testing::RandomEvents(seed);
    Snapshot snapshot = Store(events, 1 + static_cast<int>(seed % 4), static_cast<int>(seed));
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      ASSERT_TRUE(view.has_type_index());
      // Every position is listed once, under its type, ascending.
      size_t listed = 0;
      for (uint32_t t = 0; t < view.event_types().size(); ++t) {
        for (const uint32_t* p = view.type_positions_begin(t); p != view.type_positions_end(t);
             ++p) {
          EXPECT_EQ(view.timeline_type(*p), t);
          if (p != view.type_positions_begin(t)) {
            EXPECT_LT(p[-1], *p);
          }
          ++listed;
        }
      }
      EXPECT_EQ(listed, view.event_count());
      for (int q = 0; q < 6; ++q) {
        std::vector<uint8_t> wanted(view.event_types().size());
        for (size_t t = 0; t < wanted.size(); ++t) wanted[t] = rng() % 3 == 0;
        const size_t stop_after = q % 2 == 0 ? SIZE_MAX : 1 + rng() % 3;
        std::vector<Visit> by_timeline = Scan(view, EventAccess::kTimeline, wanted, stop_after);
        std::vector<Visit> by_index = Scan(view, EventAccess::kTypeIndex, wanted, stop_after);
        EXPECT_EQ(by_timeline, by_index) << "seed " << seed << " query " << q;
        ++compared;
        nonempty += by_index.empty() ? 0 : 1;
      }
    }
  }
  EXPECT_EQ(compared, 12 * 2 * 6);
  EXPECT_GT(nonempty, compared / 2);
}

// With a UserState made from the view (which folds only the types that carry user properties,
// through either access), every wanted event sees the user properties that a UserState fed every
// event of the actor answers.
TEST_F(ActorScanTest, UserPropertiesAsOfEachWantedEventWhicheverEventsAreRead) {
  int compared = 0, with_properties = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    Snapshot snapshot =
        Store(testing::RandomEvents(seed), 1 + static_cast<int>(seed % 4), static_cast<int>(seed));
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      std::vector<uint8_t> wanted(view.event_types().size());
      for (size_t t = 0; t < wanted.size(); ++t) wanted[t] = rng() % 3 == 0;
      // (actor, position) → the properties of a wanted event, folding every event.
      std::map<std::pair<size_t, size_t>, Properties> expected;
      UserState every;
      for (size_t a = 0; a < view.actor_count(); ++a) {
        every.Reset();
        for (size_t i = view.timeline_begin(a); i < view.timeline_end(a); ++i) {
          const Properties& p = every.Advance(view.EventAt(a, i));
          if (wanted[view.timeline_type(i)] != 0) expected[{a, i}] = p;
        }
      }
      for (EventAccess access : {EventAccess::kTimeline, EventAccess::kTypeIndex}) {
        UserState user(view);
        size_t visits = 0;
        std::vector<std::pair<size_t, Properties>> seen;  // per actor, in order
        ScanActors(
            view, access, wanted, &user,
            [&](int64_t, uint32_t type, auto&& event, const Properties* properties) {
              EXPECT_NE(wanted[type], 0);
              seen.emplace_back(event().index, *properties);
              return true;
            },
            [&](size_t a) {
              // Match the visits to the actor's wanted positions, in order.
              auto it = expected.lower_bound({a, 0});
              for (const auto& [index, properties] : seen) {
                ASSERT_TRUE(it != expected.end() && it->first.first == a);
                EXPECT_EQ(view.EventAt(a, it->first.second).index, index);
                EXPECT_EQ(properties, it->second) << "actor " << a;
                with_properties += properties.empty() ? 0 : 1;
                ++it;
                ++visits;
              }
              seen.clear();
            });
        EXPECT_EQ(visits, expected.size()) << "seed " << seed;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 12 * 2 * 2);
  EXPECT_GT(with_properties, 100);
}

TEST_F(ActorScanTest, StorageOrderVisitsTheWantedEventsOnceWithTheirActors) {
  int compared = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    Snapshot snapshot =
        Store(testing::RandomEvents(seed), 1 + static_cast<int>(seed % 4), static_cast<int>(seed));
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      std::vector<uint8_t> wanted(view.event_types().size());
      for (size_t t = 0; t < wanted.size(); ++t) wanted[t] = rng() % 2;
      // (actor, segment, index, time, type) of every wanted event, from each actor's timeline and
      // from the segments.
      using Seen = std::tuple<size_t, uint32_t, uint32_t, int64_t, uint32_t>;
      std::vector<Seen> by_actor, by_storage;
      for (size_t a = 0; a < view.actor_count(); ++a) {
        for (size_t i = view.timeline_begin(a); i < view.timeline_end(a); ++i) {
          if (wanted[view.timeline_type(i)] == 0) continue;
          const EventRef ref = view.EventAt(a, i);
          by_actor.emplace_back(a, ref.segment_number, ref.index, view.timeline_time(i),
                                view.timeline_type(i));
        }
      }
      ScanSegments(view, wanted,
                   [&](uint32_t actor, int64_t time, uint32_t type, const EventRef& ref) {
                     EXPECT_EQ(ref.segment, view.segments()[ref.segment_number].get());
                     by_storage.emplace_back(actor, ref.segment_number, ref.index, time, type);
                   });
      // Storage order: segment by segment, ascending indexes.
      EXPECT_TRUE(std::is_sorted(by_storage.begin(), by_storage.end(), [](auto& x, auto& y) {
        return std::tie(std::get<1>(x), std::get<2>(x)) < std::tie(std::get<1>(y), std::get<2>(y));
      }));
      std::sort(by_actor.begin(), by_actor.end());
      std::sort(by_storage.begin(), by_storage.end());
      EXPECT_EQ(by_actor, by_storage) << "seed " << seed;
      EXPECT_FALSE(by_storage.empty());
      ++compared;
    }
  }
  EXPECT_EQ(compared, 24);
}

TEST_F(ActorScanTest, ActorAtFindsThePositionsActor) {
  Snapshot snapshot = Store(testing::RandomEvents(3), 2, 1);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  ASSERT_GT(view.actor_count(), 10u);
  for (size_t a = 0; a < view.actor_count(); ++a) {
    for (size_t i = view.timeline_begin(a); i < view.timeline_end(a); ++i) {
      for (size_t from : {size_t{0}, a / 2, a}) EXPECT_EQ(view.ActorAt(i, from), a);
    }
  }
}

}  // namespace
}  // namespace cohort::analytics::store
