// Durations and byte sizes as the ingest configuration spells them ("30m", "395d", "10Gi"), parsed
// into exact values and rendered back in one canonical spelling, so that a rendered config has a
// stable hash and Parse(Format(x)) == x.
//
// Pure functions; thread-safe; never throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::config {

// Duration grammar (the CRD's pattern): ^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$, at most 32 characters:
// a sum of numbers with units, e.g. "30m", "1h30m", "1.5h", "395d". No sign. The value must be a
// whole number of milliseconds and at most kMaxDuration.
inline constexpr absl::Duration kMaxDuration = absl::Hours(24 * 36500);  // 100 years

// Errors: kInvalidArgument naming what is wrong (the text itself is not repeated; callers prefix
// the field path and may quote it).
[[nodiscard]] absl::StatusOr<absl::Duration> ParseConfigDuration(std::string_view text);

// The canonical spelling: the fewest units, largest first ("90m" → "1h30m", zero → "0s").
// `d` must be non-negative and a whole number of milliseconds (IsWholeMillis); otherwise the
// sub-millisecond part is dropped and a negative value renders as "0s" — callers validate first.
std::string FormatConfigDuration(absl::Duration d);

// Whether `d` is non-negative, at most kMaxDuration and a whole number of milliseconds: exactly the
// durations FormatDuration spells and ParseDuration reads back.
bool IsRepresentableDuration(absl::Duration d);

// Byte-size grammar (Kubernetes resource.Quantity restricted to whole bytes):
//   <digits> ( "." <digits> )? <suffix>?
//   <suffix> ::= Ki | Mi | Gi | Ti | Pi | Ei | k | M | G | T | P | E | ( e | E ) <digits>
// The value must be a whole number of bytes ("1.5Gi" yes, "0.5" no) in [0, 2^63-1]. The milli
// suffix "m" and signs are rejected.
[[nodiscard]] absl::StatusOr<int64_t> ParseByteSize(std::string_view text);

// The canonical spelling: the largest binary suffix that divides `bytes` exactly, else the largest
// decimal suffix that does, else plain digits ("10Gi", "1500k" → "1500k", 0 → "0"). `bytes` >= 0.
std::string FormatByteSize(int64_t bytes);

}  // namespace cohort::config
