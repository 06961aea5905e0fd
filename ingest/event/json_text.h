// Writing JSON text on the hot path without a JSON library: string escaping and numbers. Used to
// re-serialize event property objects compactly and to build response bodies.
//
// The output is valid JSON (RFC 8259) as long as string inputs are valid UTF-8 (bytes >= 0x80 are
// copied as they are; callers pass text a validating parser produced). Stateless, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cohort::ingest {

// Appends `s` as a quoted JSON string: '"' and '\\' escaped, control characters (< 0x20) as \b,
// \f, \n, \r, \t or \u00XX, DEL (0x7f) as \u007f; everything else verbatim.
void AppendJsonString(std::string_view s, std::string* dst);

void AppendJsonInt(int64_t v, std::string* dst);
void AppendJsonUint(uint64_t v, std::string* dst);
// The shortest text that reads back as exactly `v`; NaN and infinities (not JSON) as null.
void AppendJsonDouble(double v, std::string* dst);

}  // namespace cohort::ingest
