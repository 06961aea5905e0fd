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
  EXPECT_EQ(window.stats().entries, 1u) << "expired entries are dropped, not just ignored";
  clock.Advance(absl::Minutes(5));
  EXPECT_THAT(window.FilterNew({{"web", "d", "new"}}), ElementsAre(true));
  EXPECT_EQ(window.stats().entries, 0u);
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

TEST(DedupWindowTest, MemoryIsBoundedTheOldestGoFirst) {
  SimulatedClock clock;
  DedupWindow window({.window = absl::Hours(1), .max_entries = 100}, clock);
  for (int i = 0; i < 250; ++i) {
    window.Remember({{"web", "d", absl::StrCat("id", i)}});
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_EQ(window.stats().entries, 100u);
  EXPECT_EQ(window.stats().evicted_early, 150u);
  EXPECT_THAT(window.FilterNew({{"web", "d", "id0"},
                                {"web", "d", "id149"},
                                {"web", "d", "id150"},
                                {"web", "d", "id249"}}),
              ElementsAre(true, true, false, false));
}

}  // namespace
}  // namespace cohort::ingest
