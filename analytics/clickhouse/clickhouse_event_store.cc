#include "analytics/clickhouse/clickhouse_event_store.h"

#include <utility>
#include <variant>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analytics/clickhouse/clickhouse_deletion.h"
#include "analytics/clickhouse/clickhouse_query_executor.h"
#include "analytics/clickhouse/clickhouse_retention.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {

ClickHouseEventStore::ClickHouseEventStore(SqlExecutor& sql, ClickHouseEventStoreOptions options)
    : sql_(sql),
      options_(std::move(options)),
      table_(EventsTable(options_.schema)),
      writer_(sql, ClickHouseWriterOptions{.table = table_,
                                           .max_batch_rows = options_.max_batch_rows,
                                           .clock = options_.clock}) {}

absl::StatusOr<std::unique_ptr<ClickHouseEventStore>> ClickHouseEventStore::Create(
    SqlExecutor& sql, ClickHouseEventStoreOptions options) {
  if (absl::Status s = CheckIdentifier("database", options.schema.database); !s.ok()) return s;
  return std::unique_ptr<ClickHouseEventStore>(new ClickHouseEventStore(sql, std::move(options)));
}

absl::Status ClickHouseEventStore::EnsureSchema() {
  absl::MutexLock lock(&schema_mu_);
  if (schema_ready_) return absl::OkStatus();
  for (SqlExecutor* shard : Shards()) {
    if (absl::Status s = MigrateSchema(*shard, options_.schema); !s.ok()) return s;
  }
  schema_ready_ = true;
  return absl::OkStatus();
}

std::vector<SqlExecutor*> ClickHouseEventStore::Shards() const {
  if (options_.shards.empty()) return {&sql_};
  return options_.shards;
}

absl::StatusOr<AppendCounts> ClickHouseEventStore::Append(std::vector<Event> events) {
  if (absl::Status s = EnsureSchema(); !s.ok()) return s;
  if (absl::Status s = writer_.Append(events); !s.ok()) return s;
  return AppendCounts{.stored = static_cast<int64_t>(events.size())};
}

absl::StatusOr<EngineAnswer> ClickHouseEventStore::Run(const Query& query) {
  const std::string& project =
      std::visit([](const auto& q) -> const std::string& { return q.scope.project; }, query);
  // Taken before the query: an answer that already includes newer rows is then cached under an
  // older version, which a later lookup (seeing the newer version) never matches.
  absl::StatusOr<uint64_t> version = DataVersion(project);
  if (!version.ok()) return version.status();
  absl::StatusOr<Result> result = Execute(query, sql_, table_);
  if (!result.ok()) return result.status();
  return EngineAnswer{*std::move(result), *version};
}

absl::StatusOr<ActorsPage> ClickHouseEventStore::Actors(const Query& query, CellRef cell,
                                                        const std::string& after, int limit) {
  if (absl::Status s = EnsureSchema(); !s.ok()) return s;
  return DrillDown(query, cell, after, limit, sql_, table_);
}

absl::StatusOr<uint64_t> ClickHouseEventStore::DataVersion(const std::string& project) {
  if (absl::Status s = EnsureSchema(); !s.ok()) return s;
  absl::StatusOr<std::string> answer =
      sql_.Query(absl::StrCat("SELECT count(), max(arrival) FROM ", table_,
                              " WHERE project = ", SqlString(project)),
                 Format::kTabSeparated);
  if (!answer.ok()) return answer.status();
  std::vector<std::string> fields =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(*answer), '\t');
  uint64_t count = 0, newest = 0;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &count) ||
      !absl::SimpleAtoi(fields[1], &newest)) {
    return absl::InternalError(
        absl::StrCat("unexpected answer to the data version query: ", *answer));
  }
  // Zero is "no data yet" for every backend; a digest of a non-empty table is never zero.
  if (count == 0) return 0;
  const uint64_t digest = absl::HashOf(count, newest);
  return digest == 0 ? 1 : digest;
}

absl::StatusOr<int64_t> ClickHouseEventStore::DeleteUser(const std::string& project,
                                                         const std::string& user_id) {
  if (absl::Status s = EnsureSchema(); !s.ok()) return s;
  DeleteUserOptions delete_options;
  delete_options.shards = options_.shards;
  delete_options.clock = options_.clock;
  return clickhouse::DeleteUser(sql_, options_.schema, project, user_id, delete_options);
}

absl::Status ClickHouseEventStore::ExpireBefore(int64_t cutoff_ms) {
  if (absl::Status s = EnsureSchema(); !s.ok()) return s;
  for (SqlExecutor* shard : Shards()) {
    absl::StatusOr<std::vector<std::string>> dropped =
        DropExpiredPartitions(*shard, options_.schema, cutoff_ms);
    if (!dropped.ok()) return dropped.status();
  }
  return absl::OkStatus();
}

}  // namespace cohort::analytics::clickhouse
