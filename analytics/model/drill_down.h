// What every engine's drill-down shares (query.h, CellRef): which cells a result has, the one
// error for a cell it does not have, and the paging of a cell's actors — so the embedded store,
// the ClickHouse backend and the reference page and refuse alike.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics {

// The cell a drill-down addresses: active users and sessions address cells by column alone, so
// their row becomes -1; other queries' cells are returned unchanged.
CellRef NormalizedCell(const Query& query, CellRef cell);

// Whether `result` (of `query`) has the cell `cell` (normalized; query.h lists the cells).
bool ResultHasCell(const Query& query, const Result& result, CellRef cell);

// kInvalidArgument naming "cell": the result has no cell (row, column).
absl::Status NoSuchCellError(CellRef cell);

// kInvalidArgument naming "limit" when limit < 1, OK otherwise.
absl::Status CheckPageLimit(int limit);

// The page of `actors` (sorted by bytes, no repeats): at most `limit` after `after` (exclusive;
// "" = from the start), `more` when some follow.
ActorsPage PageOfSortedActors(const std::vector<std::string>& actors, const std::string& after,
                              int limit);

}  // namespace cohort::analytics
