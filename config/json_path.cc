// The JSONPath subset: see json_path.h for the grammar.
#include "config/json_path.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cohort::config {
namespace {

absl::Status ErrorAt(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("at offset ", offset, ": ", std::string(what)));
}

bool IsNameFirst(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Appends the UTF-8 encoding of `cp` (< 0x110000, not a lone surrogate).
void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class PathParser {
 public:
  explicit PathParser(std::string_view text) : text_(text) {}

  // `shorthand`: `text` is a property path that may leave out the leading "$.".
  absl::StatusOr<JsonPath> Parse(bool shorthand) {
    if (text_.size() > kMaxPathLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("longer than ", kMaxPathLength, " characters"));
    }
    JsonPath path;
    if (shorthand && !text_.empty() && text_[0] != '$') {
      if (!IsNameFirst(text_[0])) {
        return ErrorAt(0, "a property path starts with a name (e.g. event_properties.plan) or '$'");
      }
      absl::StatusOr<PathSegment> first = DotMember();
      if (!first.ok()) return first.status();
      path.segments.push_back(*std::move(first));
    } else {
      if (text_.empty() || text_[0] != '$') return ErrorAt(0, "a path starts with '$'");
      pos_ = 1;
    }
    while (pos_ < text_.size()) {
      absl::StatusOr<PathSegment> segment = Segment();
      if (!segment.ok()) return segment.status();
      path.segments.push_back(*std::move(segment));
    }
    return path;
  }

 private:
  absl::StatusOr<PathSegment> Segment() {
    PathSegment segment;
    if (text_[pos_] == '.') {
      ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '.') {
        return ErrorAt(pos_ - 1, "descendant segments (..) are not supported");
      }
      return DotMember();
    }
    if (text_[pos_] != '[') return ErrorAt(pos_, "expected '.' or '['");
    ++pos_;
    if (pos_ >= text_.size()) return ErrorAt(pos_, "unterminated '['");
    const char c = text_[pos_];
    if (c == '*') {
      ++pos_;
      segment.kind = PathSegment::Kind::kWildcard;
    } else if (c == '\'' || c == '"') {
      absl::StatusOr<std::string> name = Quoted();
      if (!name.ok()) return name.status();
      segment.name = *std::move(name);
    } else if (c == '-' || absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      absl::StatusOr<int64_t> index = Index();
      if (!index.ok()) return index.status();
      segment.kind = PathSegment::Kind::kIndex;
      segment.index = *index;
    } else if (c == '?' || c == ':') {
      return ErrorAt(pos_, "filters and slices are not supported");
    } else {
      return ErrorAt(pos_, "expected a quoted name, an index or '*' inside '[]'");
    }
    if (pos_ >= text_.size() || text_[pos_] != ']') {
      return ErrorAt(pos_, "expected ']' (one selector per bracket)");
    }
    ++pos_;
    return segment;
  }

  // What follows a '.': a name or '*'.
  absl::StatusOr<PathSegment> DotMember() {
    PathSegment segment;
    if (pos_ < text_.size() && text_[pos_] == '*') {
      ++pos_;
      segment.kind = PathSegment::Kind::kWildcard;
      return segment;
    }
    if (pos_ >= text_.size() || !IsNameFirst(text_[pos_])) {
      return ErrorAt(pos_, "expected a name or '*' after '.' (use ['...'] for other names)");
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && IsNameChar(text_[pos_])) ++pos_;
    segment.name = std::string(text_.substr(start, pos_ - start));
    return segment;
  }

  absl::StatusOr<std::string> Quoted() {
    const char quote = text_[pos_++];
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      const char c = text_[pos_];
      if (static_cast<unsigned char>(c) < 0x20) return ErrorAt(pos_, "control character in name");
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      if (++pos_ >= text_.size()) break;
      switch (text_[pos_]) {
        case '\\':
        case '\'':
        case '"':
        case '/':
          out.push_back(text_[pos_]);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          absl::StatusOr<uint32_t> cp = CodePoint();
          if (!cp.ok()) return cp.status();
          AppendUtf8(*cp, &out);
          continue;  // CodePoint() moved past the escape
        }
        default:
          return ErrorAt(pos_, "unknown escape");
      }
      ++pos_;
    }
    if (pos_ >= text_.size()) return ErrorAt(pos_, "unterminated quoted name");
    ++pos_;  // closing quote
    return out;
  }

  // At the 'u' of \uXXXX (or a surrogate pair \uD8xx\uDCxx); leaves pos_ after the last digit.
  absl::StatusOr<uint32_t> CodePoint() {
    auto hex4 = [&](uint32_t* out) -> bool {
      if (pos_ + 5 > text_.size() || text_[pos_] != 'u') return false;
      uint32_t v = 0;
      for (size_t k = 1; k <= 4; ++k) {
        const char h = text_[pos_ + k];
        if (!absl::ascii_isxdigit(static_cast<unsigned char>(h))) return false;
        v = v * 16 + (absl::ascii_isdigit(static_cast<unsigned char>(h))
                          ? h - '0'
                          : absl::ascii_tolower(static_cast<unsigned char>(h)) - 'a' + 10);
      }
      *out = v;
      pos_ += 5;
      return true;
    };
    const size_t at = pos_;
    uint32_t high = 0;
    if (!hex4(&high)) return ErrorAt(at, "expected four hex digits after \\u");
    if (high >= 0xDC00 && high <= 0xDFFF) return ErrorAt(at, "lone low surrogate");
    if (high < 0xD800 || high > 0xDBFF) return high;
    uint32_t low = 0;
    if (pos_ + 1 >= text_.size() || text_[pos_] != '\\' || (++pos_, !hex4(&low)) || low < 0xDC00 ||
        low > 0xDFFF) {
      return ErrorAt(at, "high surrogate without a low surrogate");
    }
    return 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
  }

  absl::StatusOr<int64_t> Index() {
    const size_t start = pos_;
    const bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    const size_t digits = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (value > (std::numeric_limits<int32_t>::max() - 9) / 10) {
        return ErrorAt(start, "index out of range");
      }
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == digits) return ErrorAt(pos_, "expected digits");
    if (text_[digits] == '0' && (pos_ - digits > 1 || negative)) {
      return ErrorAt(start, "an index has no leading zeros and no -0");
    }
    return negative ? -value : value;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

bool JsonPath::singular() const {
  for (const PathSegment& s : segments) {
    if (s.kind == PathSegment::Kind::kWildcard) return false;
  }
  return true;
}

absl::StatusOr<JsonPath> ParseJsonPath(std::string_view text) {
  return PathParser(text).Parse(/*shorthand=*/false);
}

absl::StatusOr<JsonPath> ParsePropertyPath(std::string_view text) {
  absl::StatusOr<JsonPath> path = PathParser(text).Parse(/*shorthand=*/true);
  if (!path.ok()) return path.status();
  if (path->segments.empty()) return absl::InvalidArgumentError("the root ($) is not a property");
  if (!path->singular()) {
    return absl::InvalidArgumentError("a property path names one place: no wildcards");
  }
  return path;
}

}  // namespace cohort::config
