// What every concept of the reference engine returns: the typed result of query.h / result.h and,
// for drill-down, the actors behind each of its numbers (query.h, CellRef). Both come from the
// same computation, so a drill-down lists exactly the actors a number counted.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>

namespace cohort::analytics::reference {

// Actor ids (user_id or "device:<id>"), ordered by bytes.
using ActorSet = std::set<std::string>;

// (row, column) of a CellRef → its actors. Every valid cell of a result has an entry (possibly
// empty); a missing entry means the cell does not exist.
using CellActors = std::map<std::pair<int, int>, ActorSet>;

template <typename R>
struct Answer {
  R result;
  CellActors cells;
};

}  // namespace cohort::analytics::reference
