#include "analytics/clickhouse/clickhouse_retention.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {

absl::StatusOr<std::vector<std::string>> DropExpiredPartitions(
    SqlExecutor& executor, const ClickHouseSchemaOptions& options, int64_t cutoff_ms) {
  if (absl::Status st = CheckIdentifier("database", options.database); !st.ok()) return st;
  const absl::CivilSecond cutoff =
      absl::ToCivilSecond(absl::FromUnixMillis(cutoff_ms), absl::UTCTimeZone());
  const int64_t cutoff_month = cutoff.year() * 100 + cutoff.month();
  const std::string local = LocalEventsTable(options);
  absl::StatusOr<std::string> tsv =
      executor.Query(absl::StrCat("SELECT DISTINCT partition FROM system.parts WHERE database = ",
                                  SqlString(options.database),
                                  " AND table = ", SqlString(local.substr(local.find('.') + 1)),
                                  " AND active ORDER BY partition"),
                     Format::kTabSeparated);
  if (!tsv.ok()) return tsv.status();
  std::vector<std::string> dropped;
  for (absl::string_view line : absl::StrSplit(*tsv, '\n', absl::SkipEmpty())) {
    int64_t month = 0;
    if (!absl::SimpleAtoi(line, &month)) {
      return absl::InternalError(absl::StrCat("system.parts: partition ",
                                              SqlString(std::string(line)), " of ", local,
                                              " is not a YYYYMM month"));
    }
    if (month >= cutoff_month) continue;
    if (absl::Status st =
            executor.Execute(absl::StrCat("ALTER TABLE ", local, " DROP PARTITION ", month));
        !st.ok()) {
      return st;
    }
    dropped.push_back(std::string(line));
  }
  return dropped;
}

}  // namespace cohort::analytics::clickhouse
