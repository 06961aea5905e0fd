// The drill-down agreement check every engine's tests share: random cells of a query (some that
// do not exist), the engine's drill-down paged with a random page size, against the reference's
// Actors. GoogleTest expectations; test-only.
#pragma once

#include <functional>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/reference_engine.h"

namespace cohort::analytics::testing {

// One page of an engine's drill-down of the query under test (query.h, CellRef).
using DrillDownPager =
    std::function<absl::StatusOr<ActorsPage>(CellRef cell, const std::string& after, int limit)>;

// For `cells` random cells (rows -1..1, columns -1..3): the engine's pages (a random size in
// 1..max_page_size), followed until `more` is false, give the reference's actors, or both say
// the cell does not exist; every page holds at most its limit. Returns the number of existing
// cells compared.
int ExpectDrillDownsAgree(const Query& query, const ReferenceEngine& reference,
                          const DrillDownPager& drill_down, std::mt19937& rng, int cells = 1,
                          int max_page_size = 4);

}  // namespace cohort::analytics::testing
