// DedupWindow: ids remembered only after a durable write, forgotten after the window, bounded.
#include "ingest/admission/dedup_window.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::ingest {
namespace {

using ::testing::ElementsAre;

TEST(DedupWindowTest, NothingIsRememberedUntilRemember) {
  SimulatedClock clock;
  DedupWindow window({}, clock);
  const std::vector<DedupKey> keys = {{"web", "d1", "a"}, {"web", "d1", "b"}};
  EXPECT_THAT(window.FilterNew(keys), ElementsAre(true, true));
  EXPECT_THAT(window.FilterNew(keys), ElementsAre(true, true))
      << "a request whose write failed must be taken again";
  window.Remember(keys);
  EXPECT_THAT(window.FilterNew(keys), ElementsAre(false, false));
  EXPECT_EQ(window.stats().entries, 2u);
  EXPECT_EQ(window.stats().duplicates, 2u);
}

TEST(DedupWindowTest, FingerprintsFromFilterNewRememberTheSameKeys) {
  SimulatedClock clock;
  DedupWindow window({}, clock);
  const std::vector<DedupKey> keys = {{"web", "d1", "a"}, {"web", "d1", ""}, {"web", "d2", "a"}};
  std::vector<DedupWindow::Fingerprint> fingerprints;
  EXPECT_THAT(window.FilterNew(keys, &fingerprints), ElementsAre(true, true, true));
  ASSERT_EQ(fingerprints.size(), 3u);
  EXPECT_EQ(fingerprints[0], DedupWindow::FingerprintOf(keys[0]));
  EXPECT_EQ(fingerprints[1], DedupWindow::Fingerprint(0, 0)) << "an empty id has none";
  EXPECT_NE(fingerprints[0], fingerprints[2]);
  window.RememberFingerprints({fingerprints[0], fingerprints[2]});
  EXPECT_THAT(window.FilterNew(keys), ElementsAre(false, true, false));
  EXPECT_EQ(window.stats().entries, 2u);
}

TEST(DedupWindowTest, TheKeyIsProjectActorAndId) {
  SimulatedClock clock;
  DedupWindow window({}, clock);
  window.Remember({{"web", "d1", "a"}});
  EXPECT_THAT(
      window.FilterNew({{"web", "d1", "a"},
                        {"web", "d2", "a"},
                        {"api", "d1", "a"},
                        {"web", "d1", "A"},
                        // Field boundaries matter: ("web","d1a","") is not ("web","d1","a").
                        {"webd1", "", "a"}}),
      ElementsAre(false, true, true, true, true));
}

TEST(DedupWindowTest, RepeatsWithinARequestAfterTheFirstAreDuplicates) {
  SimulatedClock clock;
  DedupWindow window({}, clock);
  EXPECT_THAT(window.FilterNew({{"web", "d", "x"}, {"web", "d", "y"}, {"web", "d", "x"}}),
              ElementsAre(true, true, false));
}

TEST(DedupWindowTest, AnEmptyIdIsNeverADuplicate) {
  SimulatedClock clock;
  DedupWindow window({}, clock);
  window.Remember({{"web", "d", ""}});
  EXPECT_THAT(window.FilterNew({{"web", "d", ""}, {"web", "d", ""}}), ElementsAre(true, true));
  EXPECT_EQ(window.stats().entries, 0u);
}

TEST(DedupWindowTest, IdsAreForgottenWhenTheWindowEnds) {
  SimulatedClock clock;
  DedupWindow window({.window = absl::Minutes(10)}, clock);
  window.Remember({{"web", "d", "old"}});
  clock.Advance(absl::Minutes(5));
  window.Remember({{"web", "d", "new"}});
  clock.Advance(absl::Minutes(5) - absl::Milliseconds(1));
  EXPECT_THAT(window.FilterNew({{"web", "d", "old"}, {"web", "d", "new"}}),
              ElementsAre(false, false));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_THAT(window.FilterNew({{"web", "d", "old"}, {"web", "d", "new"}}),
              ElementsAre(true, false));
  clock.Advance(absl::Minutes(5));
  EXPECT_THAT(window.FilterNew({{"web", "d", "new"}}), ElementsAre(true));
  // Expired ids keep their slots until reused (AnExpiredSlotIsReusedBeforeALiveOne).
  EXPECT_EQ(window.stats().entries, 2u);
  EXPECT_EQ(window.stats().evicted_early, 0u);
}

TEST(DedupWindowTest, RememberingAgainExtendsTheWindow) {
  SimulatedClock clock;
  DedupWindow window({.window = absl::Minutes(10)}, clock);
  window.Remember({{"web", "d", "x"}});
  clock.Advance(absl::Minutes(8));
  window.Remember({{"web", "d", "x"}});
  clock.Advance(absl::Minutes(8));
  EXPECT_THAT(window.FilterNew({{"web", "d", "x"}}), ElementsAre(false));
}

TEST(DedupWindowTest, AZeroWindowTurnsDedupOff) {
  SimulatedClock clock;
  DedupWindow window({.window = absl::ZeroDuration()}, clock);
  window.Remember({{"web", "d", "x"}});
  EXPECT_THAT(window.FilterNew({{"web", "d", "x"}, {"web", "d", "x"}}), ElementsAre(true, true));
  EXPECT_EQ(window.stats().entries, 0u);
}

TEST(DedupWindowTest, MemoryIsBoundedRoughlyTheOldestGoFirst) {
  SimulatedClock clock;
  DedupWindow window({.window = absl::Hours(1), .max_entries = 100}, clock);
  std::vector<std::string> ids;  // DedupKey views its strings: they live here
  for (int i = 0; i < 250; ++i) ids.push_back(absl::StrCat("id", i));
  auto key = [&ids](int i) { return DedupKey{"web", "d", ids[i]}; };
  for (int i = 0; i < 250; ++i) {
    window.Remember({key(i)});
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_LE(window.stats().entries, 100u);
  // Every id was live when it was remembered: each took a free slot or pushed a live one out.
  EXPECT_EQ(window.stats().entries + window.stats().evicted_early, 250u);
  auto remembered = [&](int from, int to) {
    int n = 0;
    for (int i = from; i < to; ++i) n += window.FilterNew({key(i)})[0] ? 0 : 1;
    return n;
  };
  EXPECT_EQ(remembered(249, 250), 1) << "the newest id is always kept";
  // An id is forgotten once four later ids land in its bucket (25 buckets here). The first 50
  // each saw 200 later ids (8 per bucket on average): about 2 of them survive; the last 25 saw at
  // most 24 (about 1 per bucket): about all of them survive. The bounds are many sigmas wide.
  EXPECT_LE(remembered(0, 50), 15);
  EXPECT_GE(remembered(225, 250), 20);
}

TEST(DedupWindowTest, AnExpiredSlotIsReusedBeforeALiveOne) {
  SimulatedClock clock;
  // Four slots: one bucket, so every id competes for the same slots.
  DedupWindow window({.window = absl::Minutes(10), .max_entries = 4}, clock);
  auto key = [](std::string_view id) { return DedupKey{"web", "d", id}; };  // id: a literal
  for (const char* id : {"a", "b", "c", "d"}) {
    window.Remember({key(id)});
    clock.Advance(absl::Minutes(1));
  }
  clock.Advance(absl::Minutes(7));  // t = 11 min: a (0) and b (1 min) have expired
  window.Remember({key("e")});      // takes a's slot
  window.Remember({key("f")});      // takes b's slot
  EXPECT_EQ(window.stats().evicted_early, 0u);
  EXPECT_EQ(window.stats().entries, 4u);
  EXPECT_THAT(window.FilterNew({key("a"), key("b"), key("c"), key("d"), key("e"), key("f")}),
              ElementsAre(true, true, false, false, false, false));
  window.Remember({key("g")});  // all live: the oldest, c, is forgotten early
  EXPECT_EQ(window.stats().evicted_early, 1u);
  EXPECT_THAT(window.FilterNew({key("c"), key("d"), key("e"), key("f"), key("g")}),
              ElementsAre(true, false, false, false, false));
  window.Remember({key("d")});  // remembering again refreshes d in place
  EXPECT_EQ(window.stats().evicted_early, 1u);
  EXPECT_EQ(window.stats().entries, 4u);
}

}  // namespace
}  // namespace cohort::ingest
