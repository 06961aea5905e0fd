#include "analytics/clickhouse/clickhouse_schema.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {
namespace {

// A migration: statements that are each idempotent (IF NOT EXISTS, ...), so that two processes
// applying it at once, or one applying it again after a crash, do no harm.
struct Migration {
  uint32_t version;
  std::vector<std::string> statements;
};

std::string MergeTreeEvents(const std::string& table) {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", table, " ", EventsColumnsSql(),
                      " ENGINE = MergeTree"
                      " PARTITION BY toYYYYMM(toDateTime(intDiv(time_ms, 1000), 'UTC'))"
                      " ORDER BY (project, group_is_user, group_id, time_ms, insert_id)");
}

std::vector<Migration> Migrations(const ClickHouseSchemaOptions& options) {
  std::vector<Migration> migrations;
  // 1: the events table (and its Distributed front with a cluster).
  Migration v1{1, {MergeTreeEvents(LocalEventsTable(options))}};
  if (!options.cluster.empty()) {
    v1.statements.push_back(
        absl::StrCat("CREATE TABLE IF NOT EXISTS ", EventsTable(options), " AS ",
                     LocalEventsTable(options), " ENGINE = Distributed(", options.cluster, ", ",
                     options.database, ", events_local, cityHash64(project, group_id))"));
  }
  migrations.push_back(std::move(v1));
  return migrations;
}

// Runs an idempotent CREATE; a lost race with a concurrent creator ("already exists") is success.
absl::Status Create(SqlExecutor& executor, const std::string& sql) {
  absl::Status status = executor.Execute(sql);
  if (status.code() == absl::StatusCode::kAlreadyExists) return absl::OkStatus();
  return status;
}

}  // namespace

absl::Status CheckIdentifier(std::string_view what, std::string_view name) {
  bool ok = !name.empty() && !absl::ascii_isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), " must be letters, digits and '_' (not starting with a digit), got ",
      SqlString(name)));
}

std::string EventsTable(const ClickHouseSchemaOptions& options) {
  return absl::StrCat(options.database, ".events");
}

std::string LocalEventsTable(const ClickHouseSchemaOptions& options) {
  return absl::StrCat(options.database, options.cluster.empty() ? ".events" : ".events_local");
}

std::string EventsColumnsSql() {
  return "(project String, group_is_user UInt8, group_id String, user_id String,"
         " device_id String, time_ms Int64, insert_id String, event_type String,"
         " has_session UInt8, session_id Int64, prop_keys Array(String), prop_kinds Array(UInt8),"
         " prop_strings Array(String), prop_numbers Array(Float64), event_properties String,"
         " user_properties String, arrival UInt64)";
}

absl::StatusOr<std::vector<uint32_t>> AppliedSchemaVersions(
    SqlExecutor& executor, const ClickHouseSchemaOptions& options) {
  if (absl::Status st = CheckIdentifier("database", options.database); !st.ok()) return st;
  absl::StatusOr<std::string> tsv =
      executor.Query(absl::StrCat("SELECT DISTINCT version FROM ", options.database,
                                  ".schema_migrations ORDER BY version"),
                     Format::kTabSeparated);
  if (!tsv.ok()) return tsv.status();
  std::vector<uint32_t> versions;
  for (absl::string_view line : absl::StrSplit(*tsv, '\n', absl::SkipEmpty())) {
    uint32_t v = 0;
    if (!absl::SimpleAtoi(line, &v)) {
      return absl::InternalError(
          absl::StrCat("schema_migrations: bad version ", SqlString(std::string(line))));
    }
    versions.push_back(v);
  }
  return versions;
}

absl::Status MigrateSchema(SqlExecutor& executor, const ClickHouseSchemaOptions& options) {
  if (absl::Status st = CheckIdentifier("database", options.database); !st.ok()) return st;
  if (!options.cluster.empty()) {
    if (absl::Status st = CheckIdentifier("cluster", options.cluster); !st.ok()) return st;
  }
  if (absl::Status st =
          Create(executor, absl::StrCat("CREATE DATABASE IF NOT EXISTS ", options.database));
      !st.ok()) {
    return st;
  }
  if (absl::Status st =
          Create(executor, absl::StrCat("CREATE TABLE IF NOT EXISTS ", options.database,
                                        ".schema_migrations (version UInt32,"
                                        " applied_ms Int64) ENGINE = MergeTree"
                                        " ORDER BY version"));
      !st.ok()) {
    return st;
  }
  absl::StatusOr<std::vector<uint32_t>> applied = AppliedSchemaVersions(executor, options);
  if (!applied.ok()) return applied.status();
  for (const Migration& m : Migrations(options)) {
    if (std::binary_search(applied->begin(), applied->end(), m.version)) continue;
    for (const std::string& sql : m.statements) {
      if (absl::Status st = Create(executor, sql); !st.ok()) return st;
    }
    if (absl::Status st = executor.Execute(
            absl::StrCat("INSERT INTO ", options.database, ".schema_migrations SELECT toUInt32(",
                         m.version, "), toInt64(toUnixTimestamp(now())) * 1000"));
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace cohort::analytics::clickhouse
