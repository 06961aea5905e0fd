// A drill-down's request to a ClickHouse query executor (query.h, CellRef): the executor runs as
// usual and, given one, also hands over the target cell's actors — as a SELECT with an `actor`
// column built from the same pieces as the number's SQL (paged inside ClickHouse), or as actor
// ids it already reads in C++ from per-actor rows (retention, funnels, experiments).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {

// One drill-down's target and, once an executor has handed them over, its page. Not thread-safe.
class CellActorsRequest {
 public:
  // `cell` normalized (NormalizedCell); `limit` >= 1.
  CellActorsRequest(CellRef cell, std::string after, int limit)
      : cell_(cell), after_(std::move(after)), limit_(limit) {}

  const CellRef& cell() const { return cell_; }

  // The page from the distinct values of the String column `actor` of `actors_sql` (a SELECT,
  // repeats allowed): sorted by bytes, after `after`, `limit` of them. Errors: the executor's;
  // kInternal for an answer that does not parse.
  [[nodiscard]] absl::Status FetchPage(SqlExecutor& sql, const std::string& actors_sql);

  // The page from actor ids gathered in C++ (any order, repeats allowed).
  void TakeActors(std::vector<std::string> actors);

  // The page; empty when no executor handed any actors over (a cell with none).
  const ActorsPage& page() const { return page_; }

 private:
  CellRef cell_;
  std::string after_;
  int limit_;
  ActorsPage page_;
};

}  // namespace cohort::analytics::clickhouse
