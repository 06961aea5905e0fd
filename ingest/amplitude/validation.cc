#include "ingest/amplitude/validation.h"

#include <array>

namespace cohort::ingest::amplitude {
namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `lower` is already lower case.
bool EqualsLowerIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (AsciiLower(s[i]) != lower[i]) return false;
  }
  return true;
}

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

constexpr std::array<std::string_view, 14> kForbiddenIds = {
    "anonymous", "nil",       "none",    "null", "n/a",
    "na",        "undefined", "unknown", "",     "00000000-0000-0000-0000-000000000000",
    "{}",        "lmy47d",    "0",       "-1",
};

}  // namespace

size_t CodePointCount(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += IsContinuation(c) ? 0 : 1;
  return n;
}

std::string_view TruncateToCodePoints(std::string_view utf8, size_t max_code_points) {
  if (utf8.size() <= max_code_points) return utf8;  // bytes >= code points
  size_t seen = 0;
  for (size_t i = 0; i < utf8.size(); ++i) {
    if (IsContinuation(utf8[i])) continue;
    if (seen == max_code_points) return utf8.substr(0, i);
    ++seen;
  }
  return utf8;
}

bool IsForbiddenId(std::string_view id) {
  switch (id.size()) {  // the lengths of the forbidden ids; most real ids have none of them
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 6:
    case 7:
    case 9:
    case 36:
      break;
    default:
      return false;
  }
  for (std::string_view forbidden : kForbiddenIds) {
    if (EqualsLowerIgnoreCase(id, forbidden)) return true;
  }
  return false;
}

}  // namespace cohort::ingest::amplitude
