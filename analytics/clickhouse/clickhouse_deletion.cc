#include "analytics/clickhouse/clickhouse_deletion.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {
namespace {

absl::StatusOr<int64_t> QueryCount(SqlExecutor& executor, const std::string& sql) {
  absl::StatusOr<std::string> tsv = executor.Query(sql, Format::kTabSeparated);
  if (!tsv.ok()) return tsv.status();
  int64_t n = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*tsv), &n)) {
    return absl::InternalError(absl::StrCat("expected a count, got \"", *tsv, "\""));
  }
  return n;
}

// Waits until `table` (db.name) has no unfinished mutation.
absl::Status AwaitMutations(SqlExecutor& executor, const std::string& database,
                            const std::string& table, const DeleteUserOptions& options,
                            Clock& clock) {
  const absl::Time deadline = clock.Now() + options.timeout;
  const std::string sql =
      absl::StrCat("SELECT count() FROM system.mutations WHERE database = ", SqlString(database),
                   " AND table = ", SqlString(table), " AND is_done = 0");
  while (true) {
    absl::StatusOr<int64_t> pending = QueryCount(executor, sql);
    if (!pending.ok()) return pending.status();
    if (*pending == 0) return absl::OkStatus();
    if (clock.Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(*pending, " mutation(s) of ", database, ".",
                                                      table, " not done after ",
                                                      absl::FormatDuration(options.timeout)));
    }
    clock.SleepFor(options.poll_interval);
  }
}

}  // namespace

absl::StatusOr<int64_t> DeleteUser(SqlExecutor& executor, const ClickHouseSchemaOptions& options,
                                   const std::string& project, const std::string& user_id,
                                   const DeleteUserOptions& delete_options) {
  if (absl::Status st = CheckIdentifier("database", options.database); !st.ok()) return st;
  if (user_id.empty()) return 0;
  const std::string events = EventsTable(options);
  // Devices whose first event with both ids (deduplicated) carries this user. hex() keeps any
  // bytes of a device id intact through TabSeparated.
  absl::StatusOr<std::string> devices_tsv = executor.Query(
      absl::StrCat("SELECT hex(device_id) FROM (SELECT device_id, user_id FROM (",
                   "SELECT argMin(device_id, arrival) AS device_id, argMin(time_ms, arrival) AS t,"
                   " insert_id, group_id AS user_id FROM ",
                   events, " WHERE project = ", SqlString(project),
                   " AND group_is_user = 1 GROUP BY group_id, insert_id) AS e WHERE device_id != ''"
                   " ORDER BY device_id, t, insert_id, user_id LIMIT 1 BY device_id) AS f"
                   " WHERE user_id = ",
                   SqlString(user_id)),
      Format::kTabSeparated);
  if (!devices_tsv.ok()) return devices_tsv.status();
  std::vector<std::string> devices;
  for (absl::string_view hex : absl::StrSplit(*devices_tsv, '\n', absl::SkipEmpty())) {
    devices.push_back(SqlString(absl::HexStringToBytes(hex)));
  }
  std::string doomed =
      absl::StrCat("project = ", SqlString(project),
                   " AND ((group_is_user = 1 AND group_id = ", SqlString(user_id), ")");
  if (!devices.empty()) {
    absl::StrAppend(&doomed, " OR (group_is_user = 0 AND group_id IN (",
                    absl::StrJoin(devices, ", "), "))");
  }
  doomed.push_back(')');
  absl::StatusOr<int64_t> deleted = QueryCount(
      executor,
      absl::StrCat("SELECT count() FROM (SELECT group_is_user, group_id, insert_id FROM ", events,
                   " WHERE ", doomed, " GROUP BY group_is_user, group_id, insert_id) AS d"));
  if (!deleted.ok() || *deleted == 0) return deleted;
  std::vector<SqlExecutor*> shards = delete_options.shards;
  if (shards.empty()) shards.push_back(&executor);
  const std::string local = LocalEventsTable(options);
  const std::string local_name = local.substr(local.find('.') + 1);
  Clock& clock = delete_options.clock != nullptr ? *delete_options.clock : RealClock::Get();
  for (SqlExecutor* shard : shards) {
    if (absl::Status st =
            shard->Execute(absl::StrCat("ALTER TABLE ", local, " DELETE WHERE ", doomed));
        !st.ok()) {
      return st;
    }
  }
  for (SqlExecutor* shard : shards) {
    if (absl::Status st =
            AwaitMutations(*shard, options.database, local_name, delete_options, clock);
        !st.ok()) {
      return st;
    }
  }
  return deleted;
}

}  // namespace cohort::analytics::clickhouse
