// Runs a typed query (model/query.h) on an actor view: the dispatch from query type to the
// embedded store's executors (*_query.h), and drill-down — the actors behind one number of a
// result, computed by the same executor that computed the number (cell_collector.h).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with the query's identity mode. With `cells`, the executor also
// reports the actors of its target cell. Errors: the executors' (kInvalidArgument naming the
// field: a time zone not in the tz database, a formula that does not parse, ...).
[[nodiscard]] absl::StatusOr<Result> Execute(const Query& query, const ActorView& view,
                                             CellCollector* cells = nullptr);

// The actors behind cell `cell` of Execute(query, view)'s result (query.h, CellRef): actor ids
// sorted by bytes, at most `limit` after `after` (exclusive; "" = from the start), `more` when
// some follow. Active users and sessions address cells by column alone (the row is ignored).
// Errors: Execute's; kInvalidArgument naming "cell" when the result has no such cell, "limit"
// when limit < 1.
[[nodiscard]] absl::StatusOr<ActorsPage> DrillDown(const Query& query, const ActorView& view,
                                                   CellRef cell, const std::string& after,
                                                   int limit);

}  // namespace cohort::analytics::store
