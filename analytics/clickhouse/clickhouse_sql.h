// Literals for the store's SQL: every value that goes into a statement goes through these, so no
// value (a project name, a user id, a property key) can change a statement's meaning.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cohort::analytics::clickhouse {

// `s` as a quoted ClickHouse string literal that evaluates to exactly the bytes of `s` (any
// bytes: quotes, backslashes, NUL and control bytes, UTF-8, invalid UTF-8). Printable ASCII other
// than ' and \ is kept; ' and \ get a backslash; every other byte is written \xHH. The literal
// is therefore plain printable ASCII and reads the same on 18.16 and current engines.
std::string SqlString(std::string_view s);

// `v` as an integer literal ("42", "-7"); INT64_MIN, which has no literal, as
// "(-9223372036854775807 - 1)". ClickHouse gives a literal the smallest type that holds it
// (UInt8 for 42), so compare or cast where types must match (IN (subquery) on 18.16).
std::string SqlInt(int64_t v);

}  // namespace cohort::analytics::clickhouse
