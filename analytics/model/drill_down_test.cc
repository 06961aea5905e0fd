#include "analytics/model/drill_down.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cohort::analytics {
namespace {

TEST(DrillDownTest, PagesFollowAfterAndSayWhetherMoreFollow) {
  const std::vector<std::string> actors = {"a", "b", "device:c", "u"};
  ActorsPage first = PageOfSortedActors(actors, "", 2);
  EXPECT_EQ(first.actors, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(first.more);
  ActorsPage second = PageOfSortedActors(actors, "b", 2);
  EXPECT_EQ(second.actors, (std::vector<std::string>{"device:c", "u"}));
  EXPECT_FALSE(second.more);
  // `after` need not be one of the actors.
  EXPECT_EQ(PageOfSortedActors(actors, "c", 10).actors,
            (std::vector<std::string>{"device:c", "u"}));
  EXPECT_TRUE(PageOfSortedActors(actors, "z", 10).actors.empty());
  EXPECT_FALSE(CheckPageLimit(0).ok());
  EXPECT_TRUE(CheckPageLimit(1).ok());
}

TEST(DrillDownTest, ActiveUsersAndSessionsIgnoreTheRow) {
  EXPECT_EQ(NormalizedCell(ActiveUsersQuery{}, CellRef{3, 1}).row, -1);
  EXPECT_EQ(NormalizedCell(SessionsQuery{}, CellRef{3, 1}).row, -1);
  EXPECT_EQ(NormalizedCell(FunnelQuery{}, CellRef{3, 1}).row, 3);
}

TEST(DrillDownTest, CellsOfEachResultType) {
  SegmentationQuery segmentation;
  segmentation.events.resize(2);
  segmentation.formulas = {"UNIQUES(B)/UNIQUES(A)"};
  SegmentationResult series;
  series.buckets = {0, 1};
  series.series.resize(6);  // 2 groups × (2 event series + 1 formula)
  EXPECT_TRUE(ResultHasCell(segmentation, series, {3, -1}));  // event series of group 2
  EXPECT_TRUE(ResultHasCell(segmentation, series, {0, 1}));
  EXPECT_FALSE(ResultHasCell(segmentation, series, {4, 0}));  // formulas have no actors
  EXPECT_FALSE(ResultHasCell(segmentation, series, {0, 2}));

  StickinessResult stickiness;
  stickiness.days = {0, 1, 2};
  stickiness.weeks = {0};
  EXPECT_TRUE(ResultHasCell(StickinessQuery{}, stickiness, {-1, 2}));
  EXPECT_TRUE(ResultHasCell(StickinessQuery{}, stickiness, {0, 6}));
  EXPECT_FALSE(ResultHasCell(StickinessQuery{}, stickiness, {0, 7}));
  EXPECT_FALSE(ResultHasCell(StickinessQuery{}, stickiness, {1, 0}));

  RetentionResult retention;
  retention.rows.push_back(RetentionRow{0, 3, {RetentionCell{}, RetentionCell{}}});
  retention.total = retention.rows[0];
  EXPECT_TRUE(ResultHasCell(RetentionQuery{}, retention, {0, 2}));
  EXPECT_TRUE(ResultHasCell(RetentionQuery{}, retention, {-1, 0}));
  EXPECT_FALSE(ResultHasCell(RetentionQuery{}, retention, {0, 3}));
  EXPECT_FALSE(ResultHasCell(RetentionQuery{}, retention, {1, 0}));

  ExperimentResult experiment;
  experiment.variants.resize(2);
  EXPECT_TRUE(ResultHasCell(ExperimentQuery{}, experiment, {1, 1}));
  EXPECT_FALSE(ResultHasCell(ExperimentQuery{}, experiment, {1, 2}));
  EXPECT_FALSE(ResultHasCell(ExperimentQuery{}, experiment, {-1, 0}));

  EXPECT_EQ(NoSuchCellError({2, 5}).message(), "cell: the result has no cell (row 2, column 5)");
}

}  // namespace
}  // namespace cohort::analytics
