#include "analytics/clickhouse/clickhouse_cell_actors.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_query_rows.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/model/drill_down.h"

namespace cohort::analytics::clickhouse {

absl::Status CellActorsRequest::FetchPage(SqlExecutor& sql, const std::string& actors_sql) {
  // One more than the page, to know whether some follow. ClickHouse orders Strings by bytes.
  absl::StatusOr<std::string> tsv = sql.Query(
      absl::StrCat("SELECT DISTINCT actor FROM (", actors_sql, ") AS cell_actors WHERE actor > ",
                   SqlString(after_), " ORDER BY actor LIMIT ", limit_ + 1),
      Format::kTabSeparated);
  if (!tsv.ok()) return tsv.status();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseTsvRows(*tsv, 1);
  if (!rows.ok()) return rows.status();
  page_ = ActorsPage{};
  for (std::vector<std::string>& row : *rows) {
    if (static_cast<int>(page_.actors.size()) == limit_) {
      page_.more = true;
      break;
    }
    page_.actors.push_back(std::move(row[0]));
  }
  return absl::OkStatus();
}

void CellActorsRequest::TakeActors(std::vector<std::string> actors) {
  std::sort(actors.begin(), actors.end());
  actors.erase(std::unique(actors.begin(), actors.end()), actors.end());
  page_ = PageOfSortedActors(actors, after_, limit_);
}

}  // namespace cohort::analytics::clickhouse
