#include "ingest/event/json_text.h"

#include <array>
#include <charconv>
#include <cmath>

namespace cohort::ingest {
namespace {

// Bytes that must be escaped: control characters, '"', '\\' and DEL.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = t[0x7f] = true;
  return t;
}();

}  // namespace

void AppendJsonString(std::string_view s, std::string* dst) {
  static constexpr char kHex[] = "0123456789abcdef";
  dst->reserve(dst->size() + s.size() + 2);
  dst->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kNeedsEscape[c]) continue;
    dst->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        dst->append("\\\"");
        break;
      case '\\':
        dst->append("\\\\");
        break;
      case '\b':
        dst->append("\\b");
        break;
      case '\f':
        dst->append("\\f");
        break;
      case '\n':
        dst->append("\\n");
        break;
      case '\r':
        dst->append("\\r");
        break;
      case '\t':
        dst->append("\\t");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        dst->append(esc, 6);
      }
    }
  }
  dst->append(s.data() + run, s.size() - run);
  dst->push_back('"');
}

void AppendJsonInt(int64_t v, std::string* dst) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  dst->append(buf, end);
}

void AppendJsonUint(uint64_t v, std::string* dst) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  dst->append(buf, end);
}

void AppendJsonDouble(double v, std::string* dst) {
  if (!std::isfinite(v)) {
    dst->append("null");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  dst->append(buf, end);
}

}  // namespace cohort::ingest
