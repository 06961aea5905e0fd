// The building blocks every ClickHouse query executor shares: the deduplicated events of a project
// with their actor (docs/metrics.md, "Dedup key" and "Identity"), and an event selector as a SQL
// condition with filter.h's exact semantics over the schema's typed property columns (prop_keys,
// prop_kinds, prop_strings, prop_numbers; README.md, "Schema").
//
// Everything here is pure string building (no I/O); every value goes into the SQL through
// SqlString / SqlInt or an exact number literal, so no input can change a statement's meaning.
// The SQL stays inside what Debian's ClickHouse 18.16 and a current engine both run alike.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::clickhouse {

// A parenthesised subquery, usable as `FROM <DedupedEventsSql(...)> AS e`, giving the deduplicated
// events of scope.project in `table` (all times: executors filter by time themselves, after dedup,
// so a resend at another time never counts). One row per (group_is_user, group_id, insert_id): the
// copy with the smallest `arrival`. Columns:
//   actor        String  user_id; else, with scope.identity == kDeviceToUser, the user_id of the
//                        device's earliest deduplicated event carrying both ids in the order
//                        (time_ms, insert_id, user_id); else 'device:' || device_id
//   user_id, device_id, insert_id, event_type  String
//   time_ms      Int64
//   has_session  UInt8,  session_id  Int64
//   prop_keys Array(String), prop_kinds Array(UInt8), prop_strings Array(String),
//   prop_numbers Array(Float64)                     (the event properties, as stored)
// With `user_keys` (UserPropertyKeys of the query), also each key's UserPropertyColumnsOf
// (clickhouse_user_properties_sql.h): the user properties each event sees.
// `table` is a table name ("events" or "db.events"), written into the SQL as is.
std::string DedupedEventsSql(const std::string& table, const QueryScope& scope,
                             const std::vector<std::string>& user_keys = {});

// A boolean SQL expression over the columns of DedupedEventsSql that is true exactly for the
// events `selector` matches (reference/timeline.h Matches): the event type (kAnyEvent: all;
// kAnyActiveEvent: ActiveSql(scope)) and every filter, with FilterMatches' semantics. A filter
// on a user property reads its UserPropertyColumnsOf: the events must come from DedupedEventsSql
// with the selector's user keys.
std::string SelectorSql(const EventSelector& selector, const QueryScope& scope);

// A boolean SQL expression: the event is activity (its type is none of $identify,
// $groupidentify and scope.inactive_event_types).
std::string ActiveSql(const QueryScope& scope);

// `v` as a SQL Float64 expression that evaluates to exactly `v` (finite values).
std::string SqlDouble(double v);

// `values` as a SQL expression of type Array(Int64), constant, cheap to analyse when long.
std::string SqlInt64Array(const std::vector<int64_t>& values);

// A boolean SQL expression: `time_column` lies in [scope.from_ms, scope.to_ms).
std::string InRangeSql(const QueryScope& scope, std::string_view time_column);

// The 1-based index of the bucket holding `time_column` among the ascending bucket `starts`
// (0 when before the first): the number of starts at or before it.
std::string BucketIndexSql(const std::vector<int64_t>& starts, std::string_view time_column);

// The scope's calendar. Errors: kInvalidArgument "time_zone: ..." as the reference says it.
[[nodiscard]] absl::StatusOr<Calendar> ScopeCalendar(const QueryScope& scope);

// The rows of a TabSeparated answer whose fields are all integers, each row of `columns` fields.
// Errors: kInternal naming the text that does not parse.
[[nodiscard]] absl::StatusOr<std::vector<std::vector<int64_t>>> ParseIntRows(std::string_view tsv,
                                                                             size_t columns);

}  // namespace cohort::analytics::clickhouse
