// An Event as one JSONEachRow line of the store's `events` table (the schema in
// clickhouse_schema.h), for ClickHouse's `INSERT INTO events FORMAT JSONEachRow`.
//
// Columns written: project, group_is_user (1 when user_id is set), group_id (user_id, else
// device_id), user_id, device_id, time_ms, insert_id, event_type, has_session, session_id (0 when
// has_session is 0), prop_keys (event_properties' keys, sorted by bytes), and per key, in that
// order: prop_kinds (0 null, 1 bool, 2 number, 3 string, 4 array/object), prop_strings (the string
// for kind 3, "true"/"false" for 1, the JSON text for 4, "" for 0 and 2), prop_numbers (the number
// for kind 2; for kind 3 NumericValue (property_value.h) when the string has one, else nan; 0 for
// 0, 1 and 4), event_properties and user_properties (PropertiesJson), arrival, and the user
// properties' columns (schema version 2, below).
//
// User properties (uop_*): what the event does to its actor's user properties, for the SQL that
// folds them per actor (clickhouse_user_properties_sql.h). Parallel arrays over keys sorted by
// bytes: uop_keys, uop_codes, uop_kinds / uop_strings / uop_numbers (a value, encoded as the
// prop_* columns), uop_adds; and uop_clear. For an $identify event (identify_operations.h), per
// key the operations' net effect in their order: uop_codes = kUserUnset or kUserSet (with its
// value), plus kUserSetOnce (with its value; never with kUserSet, after which it does nothing) and
// kUserAdd (the number in uop_adds); uop_clear = 1 for $clearAll, which unsets every key first.
// For any other event, its own user_properties: uop_codes kUserOwnValue with the value, seen by
// that event only.
//
// NaN in prop_numbers: written as the bare token `NaN`. Checked on both engines: 18.16 and chdb 4.4
// read `NaN` and `"nan"` as a Float64 NaN (also inside arrays) and reject a bare `nan` (their JSON
// reader takes 'n' for the start of null); `null` is NaN on 18.16 but 0 on chdb. SQL tells "a
// string with a numeric value" by kind 3 and `NOT isNaN(n)`; NaN compares false with everything,
// so `n > x` alone is already false for strings without a numeric value. (Numbers from JSON are
// finite; a NaN kNumber would also be written `NaN`.)
//
// Strings are written byte for byte: only '"', '\' and bytes below 0x20 are escaped, so any bytes
// (UTF-8 or not) are stored as they are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/model/event.h"
#include "analytics/model/property_value.h"

namespace cohort::analytics::clickhouse {

// The kind codes of prop_kinds.
enum class PropKind : uint8_t { kNull = 0, kBool = 1, kNumber = 2, kString = 3, kJson = 4 };

// uop_codes bits (see above).
inline constexpr int kUserUnset = 1;
inline constexpr int kUserSet = 2;
inline constexpr int kUserSetOnce = 4;
inline constexpr int kUserAdd = 8;
inline constexpr int kUserOwnValue = 16;

// Canonical JSON of `properties`: an object with the keys sorted by bytes, no spaces, each value
// as PropertyValue::ToJson writes it (numbers in their shortest round-trip form). ParseProperties
// reads it back to an equal Properties; "{}" when empty.
std::string PropertiesJson(const Properties& properties);

// `s` as a JSON string literal, bytes kept except '"', '\' and bytes below 0x20 (escaped).
std::string JsonString(std::string_view s);

// One JSONEachRow line (no '\n') for `event` with arrival number `arrival`.
std::string EventRowJson(const Event& event, uint64_t arrival);

// One line per event, the i-th with arrival first_arrival + i.
std::vector<std::string> EventRowsJson(const std::vector<Event>& events, uint64_t first_arrival);

}  // namespace cohort::analytics::clickhouse
