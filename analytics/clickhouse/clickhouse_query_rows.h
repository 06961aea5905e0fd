// Reading the answers of the retention / funnel / experiment executors (H3's queries): TabSeparated
// rows split into unescaped fields, and the typed columns that carry a property value back into
// C++ (where labels are made, so they match PropertyValue::Label exactly), plus the check that a
// query reads no user properties (not supported by the ClickHouse backend yet).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/model/property_value.h"
#include "analytics/model/query.h"

namespace cohort::analytics::clickhouse {

// The rows of a TabSeparated answer, each split at tabs and unescaped (\\, \t, \n, \r, \0, \b, \f,
// \', \"); an empty answer has no rows. Errors: kInternal for a row with another number of fields
// than `columns`.
[[nodiscard]] absl::StatusOr<std::vector<std::vector<std::string>>> ParseTsvRows(
    std::string_view tsv, size_t columns);

// Fields → numbers. Errors: kInternal naming the text.
[[nodiscard]] absl::StatusOr<int64_t> ParseInt(std::string_view field);
[[nodiscard]] absl::StatusOr<double> ParseDouble(std::string_view field);
// "1,2,3" (or "" for none) → numbers.
[[nodiscard]] absl::StatusOr<std::vector<int64_t>> ParseIntList(std::string_view field);

// The three SQL expressions (kind, string, number) of an event property's value over the schema's
// prop_* arrays: kind 255 when the key is missing, else the prop_kinds code. `key_index` is an SQL
// expression for indexOf(prop_keys, key) (alias it once and pass the alias).
std::string PropertyKindSql(std::string_view key_index);
std::string PropertyStringSql(std::string_view key_index);
std::string PropertyNumberSql(std::string_view key_index);

// The group-by label of a value read back from those three columns: PropertyValue::Label, or
// kNoneGroup when missing. Errors: kInternal for an unknown kind.
[[nodiscard]] absl::StatusOr<std::string> LabelFromColumns(std::string_view kind,
                                                           std::string_view text,
                                                           std::string_view number);

// The three SQL expressions of `property`'s value, as the three above give them: an event
// property's through `event_key_index` (indexOf(prop_keys, key), or its alias), a user property's
// from its UserPropertyColumnsOf (clickhouse_user_properties_sql.h; kind 255 when not set).
struct ValueSql {
  std::string kind, text, number;
};
ValueSql PropertyValueSql(const PropertyRef& property, std::string_view event_key_index);

}  // namespace cohort::analytics::clickhouse
