#include "analytics/testing/drill_down_agreement.h"

#include <gtest/gtest.h>

#include <vector>

#include "absl/status/status.h"

namespace cohort::analytics::testing {

int ExpectDrillDownsAgree(const Query& query, const ReferenceEngine& reference,
                          const DrillDownPager& drill_down, std::mt19937& rng, int cells,
                          int max_page_size) {
  int compared = 0;
  for (int i = 0; i < cells; ++i) {
    CellRef cell{static_cast<int>(rng() % 3) - 1, static_cast<int>(rng() % 5) - 1};
    absl::StatusOr<ActorsPage> want = reference.Actors(query, cell, "", 1 << 30);
    const int page_size = 1 + static_cast<int>(rng() % max_page_size);
    std::vector<std::string> got;
    std::string after;
    absl::Status status;
    while (true) {
      absl::StatusOr<ActorsPage> page = drill_down(cell, after, page_size);
      if (!page.ok()) {
        status = page.status();
        break;
      }
      EXPECT_LE(page->actors.size(), static_cast<size_t>(page_size));
      got.insert(got.end(), page->actors.begin(), page->actors.end());
      if (!page->more || page->actors.empty()) break;
      after = page->actors.back();
    }
    EXPECT_EQ(status.ok(), want.ok()) << "cell (" << cell.row << ", " << cell.column << "): engine "
                                      << status << ", reference " << want.status();
    if (!want.ok() || !status.ok()) continue;
    EXPECT_EQ(got, want->actors) << "cell (" << cell.row << ", " << cell.column << ")";
    ++compared;
  }
  return compared;
}

}  // namespace cohort::analytics::testing
