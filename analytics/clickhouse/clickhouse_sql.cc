#include "analytics/clickhouse/clickhouse_sql.h"

#include <limits>

namespace cohort::analytics::clickhouse {

std::string SqlString(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '\'' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (b >= 0x20 && b < 0x7f) {
      out.push_back(c);
    } else {
      out.append("\\x");
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  out.push_back('\'');
  return out;
}

std::string SqlInt(int64_t v) {
  if (v == std::numeric_limits<int64_t>::min()) return "(-9223372036854775807 - 1)";
  return std::to_string(v);
}

}  // namespace cohort::analytics::clickhouse
