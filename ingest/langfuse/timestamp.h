// Langfuse timestamps: RFC 3339 / ISO 8601 date-times as the SDKs and Dify write them, e.g.
// "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456+02:00" or Python's naive
// "2024-05-01T12:00:00.123456" (no offset: UTC, as Langfuse reads it). Stateless, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace cohort::ingest::langfuse {

// Milliseconds since the Unix epoch (fractions below a millisecond are truncated toward the
// past). Accepted: YYYY-MM-DD, 'T' / 't' / ' ', hh:mm[:ss[.fraction]], then nothing (UTC), 'Z' /
// 'z', or an offset ±hh:mm / ±hhmm / ±hh. Years 1000..9999. kInvalidArgument otherwise.
absl::StatusOr<int64_t> ParseTimestampMs(std::string_view text);

}  // namespace cohort::ingest::langfuse
