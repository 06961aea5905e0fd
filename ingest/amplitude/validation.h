// The field-level rules of the Amplitude HTTP V2 API (shared/reference/amplitude-api.md) that do
// not depend on JSON: forbidden ids, id length, the string length cap. Pure functions, thread-safe.
//
// Lengths are counted in Unicode code points of UTF-8 text (what Amplitude calls characters; a
// UTF-16 count would differ only above U+FFFF). Inputs must be valid UTF-8 (the JSON parser has
// checked it); on other bytes the count is of non-continuation bytes, never out of bounds.
#pragma once

#include <cstddef>
#include <string_view>

namespace cohort::ingest::amplitude {

// Strings (ids, event types, property keys and values) longer than this are truncated, not
// rejected.
inline constexpr size_t kMaxStringCodePoints = 1024;
// Property objects (event_properties, ...) may nest this deep; the object itself is level 1.
inline constexpr int kMaxPropertyDepth = 40;

size_t CodePointCount(std::string_view utf8);

// The longest prefix of `utf8` holding at most `max_code_points` code points (never cuts a
// multi-byte character).
std::string_view TruncateToCodePoints(std::string_view utf8, size_t max_code_points);

// Whether `id` is one of the ids Amplitude refuses for user_id and device_id ("anonymous", "nil",
// "none", "null", "n/a", "na", "undefined", "unknown", "", "00000000-0000-0000-0000-000000000000",
// "{}", "lmy47d", "0", "-1"), compared ASCII-case-insensitively.
bool IsForbiddenId(std::string_view id);

}  // namespace cohort::ingest::amplitude
