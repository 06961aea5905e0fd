// The fixture of the store's agreement tests: a fresh temporary directory per test, and events
// stored in several appends (so actors span segments and duplicates cross them) into a fresh
// SegmentStore whose snapshot the executors then read; and the drill-down check every agreement
// test applies to its queries.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "analytics/model/event.h"
#include "analytics/model/query.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/segment_store.h"

namespace cohort::analytics::store {

class StoredEventsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Stores `events` (project "p") in `batches` appends into a fresh store under the test's
  // directory (`run` names it) and returns project "p"'s snapshot.
  Snapshot Store(const std::vector<Event>& events, int batches, int run);

  const std::string& dir() const { return dir_; }

  // Drill-down agreement (analytics/testing/drill_down_agreement.h) of the store's DrillDown on
  // `view`. Returns the number of existing cells compared.
  static int ExpectDrillDownsAgree(const Query& query, const ActorView& view,
                                   const ReferenceEngine& reference, std::mt19937& rng,
                                   int cells = 1);

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SegmentStore>> stores_;
};

}  // namespace cohort::analytics::store
