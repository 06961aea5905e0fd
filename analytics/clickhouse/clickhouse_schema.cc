#include "analytics/clickhouse/clickhouse_schema.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analytics/clickhouse/clickhouse_error.h"
#include "analytics/clickhouse/clickhouse_sql.h"

namespace cohort::analytics::clickhouse {
namespace {

// A migration: statements that are each idempotent (IF NOT EXISTS, ...), so that two processes
// applying it at once, or one applying it again after a crash, do no harm.
struct Migration {
  uint32_t version;
  std::vector<std::string> statements;
};

// The events table's columns as version 1 created them (later versions add columns).
constexpr const char* kEventsColumnsV1 =
    "(project String, group_is_user UInt8, group_id String, user_id String,"
    " device_id String, time_ms Int64, insert_id String, event_type String,"
    " has_session UInt8, session_id Int64, prop_keys Array(String), prop_kinds Array(UInt8),"
    " prop_strings Array(String), prop_numbers Array(Float64), event_properties String,"
    " user_properties String, arrival UInt64)";

// Version 2: the user properties' columns (clickhouse_event_row.h, "User properties").
constexpr const char* kUserOperationColumns[] = {
    "uop_clear UInt8",        "uop_keys Array(String)",    "uop_codes Array(UInt8)",
    "uop_kinds Array(UInt8)", "uop_strings Array(String)", "uop_numbers Array(Float64)",
    "uop_adds Array(Float64)"};

std::string MergeTreeEvents(const std::string& table) {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", table, " ", kEventsColumnsV1,
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
  // 2: user properties. One ALTER per column (18.16 has no ADD COLUMN IF NOT EXISTS, and an
  // ALTER adding several stops at the first that exists), on the local table and the front.
  Migration v2{2, {}};
  for (const char* column : kUserOperationColumns) {
    v2.statements.push_back(
        absl::StrCat("ALTER TABLE ", LocalEventsTable(options), " ADD COLUMN ", column));
    if (!options.cluster.empty()) {
      v2.statements.push_back(
          absl::StrCat("ALTER TABLE ", EventsTable(options), " ADD COLUMN ", column));
    }
  }
  migrations.push_back(std::move(v2));
  return migrations;
}

// Runs a CREATE or an ADD COLUMN; what already exists (a lost race with a concurrent migration,
// or a step done before a crash) is success.
absl::Status Create(SqlExecutor& executor, const std::string& sql) {
  absl::Status status = executor.Execute(sql);
  if (status.code() == absl::StatusCode::kAlreadyExists) return absl::OkStatus();
  // "Cannot add column c: column with this name already exists": 44 on 18.16, 15 on current ones.
  std::optional<int> code = ClickHouseErrorCode(status);
  if (code && (*code == 15 || *code == 44) &&
      absl::StrContains(status.message(), "already exists")) {
    return absl::OkStatus();
  }
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
  std::string columns(kEventsColumnsV1);
  columns.pop_back();
  for (const char* column : kUserOperationColumns) absl::StrAppend(&columns, ", ", column);
  return columns + ")";
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
