// ISO 8601 / RFC 3339 date-times to epoch milliseconds (timestamp.h).
#include "ingest/langfuse/timestamp.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace cohort::ingest::langfuse {
namespace {

// Reads exactly `n` digits at `pos`.
bool Digits(std::string_view s, size_t& pos, int n, int& out) {
  if (pos + static_cast<size_t>(n) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<size_t>(n);
  out = v;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

absl::Status Invalid(std::string_view text) {
  // The value is quoted only when short: cutting it could split a UTF-8 sequence.
  if (text.size() > 64) return absl::InvalidArgumentError("not an ISO 8601 date-time");
  return absl::InvalidArgumentError(
      absl::StrCat("not an ISO 8601 date-time: \"", std::string(text), "\""));
}

}  // namespace

absl::StatusOr<int64_t> ParseTimestampMs(std::string_view s) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, pos, 4, year) || !Expect(s, pos, '-') || !Digits(s, pos, 2, month) ||
      !Expect(s, pos, '-') || !Digits(s, pos, 2, day)) {
    return Invalid(s);
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return Invalid(s);
  ++pos;
  if (!Digits(s, pos, 2, hour) || !Expect(s, pos, ':') || !Digits(s, pos, 2, minute)) {
    return Invalid(s);
  }
  int64_t fraction_ms = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!Digits(s, pos, 2, second)) return Invalid(s);
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      int digits = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 3) fraction_ms = fraction_ms * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0 || digits > 12) return Invalid(s);
      for (int i = digits; i < 3; ++i) fraction_ms *= 10;
    }
  }
  int64_t offset_minutes = 0;
  if (pos < s.size()) {
    const char c = s[pos++];
    if (c == 'Z' || c == 'z') {
      // UTC
    } else if (c == '+' || c == '-') {
      int oh = 0, om = 0;
      if (!Digits(s, pos, 2, oh)) return Invalid(s);
      if (pos < s.size()) {
        if (s[pos] == ':') ++pos;
        if (!Digits(s, pos, 2, om)) return Invalid(s);
      }
      if (oh > 23 || om > 59) return Invalid(s);
      offset_minutes = (c == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
      return Invalid(s);
    }
  }
  if (pos != s.size()) return Invalid(s);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
      second > 60) {
    return Invalid(s);
  }
  const absl::CivilSecond civil(year, month, day, hour, minute, second == 60 ? 59 : second);
  // CivilSecond normalizes out-of-range days (Feb 30 -> Mar 2): refuse those.
  if (civil.day() != day || civil.month() != month) return Invalid(s);
  const absl::Time t = absl::FromCivil(civil, absl::UTCTimeZone());
  return absl::ToUnixMillis(t) + (second == 60 ? 1000 : 0) + fraction_ms - offset_minutes * 60000;
}

}  // namespace cohort::ingest::langfuse
