#include "analytics/store/testing/stored_events_test_base.h"

#include <stdlib.h>

#include <filesystem>

#include "analytics/store/query_executor.h"
#include "analytics/testing/drill_down_agreement.h"

namespace cohort::analytics::store {

void StoredEventsTest::SetUp() {
  std::string tmpl = ::testing::TempDir() + "/stored_events_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
}

void StoredEventsTest::TearDown() {
  stores_.clear();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

Snapshot StoredEventsTest::Store(const std::vector<Event>& events, int batches, int run) {
  SegmentStoreOptions options;
  options.dir = dir_ + "/" + std::to_string(run);
  absl::StatusOr<std::unique_ptr<SegmentStore>> store = SegmentStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return Snapshot{};
  size_t per_batch = events.size() / std::max(1, batches) + 1;
  for (size_t i = 0; i < events.size(); i += per_batch) {
    std::vector<Event> batch(events.begin() + i,
                             events.begin() + std::min(events.size(), i + per_batch));
    absl::StatusOr<AppendResult> r = (*store)->Append(std::move(batch));
    EXPECT_TRUE(r.ok()) << r.status();
  }
  Snapshot snapshot = (*store)->GetSnapshot("p");
  stores_.push_back(*std::move(store));
  return snapshot;
}

int StoredEventsTest::ExpectDrillDownsAgree(const Query& query, const ActorView& view,
                                            const ReferenceEngine& reference, std::mt19937& rng,
                                            int cells) {
  return analytics::testing::ExpectDrillDownsAgree(
      query, reference,
      [&](CellRef cell, const std::string& after, int limit) {
        return DrillDown(query, view, cell, after, limit);
      },
      rng, cells);
}

}  // namespace cohort::analytics::store
