// The JSONPath subset mapping rules use (RFC 9535 without filters, slices or descendants), parsed
// once when the config loads so that an invalid rule is rejected with its name and the ingest
// evaluates ready-made segments.
//
//   path      ::= "$" segment*
//   segment   ::= "." name | "." "*" | "[" selector "]"
//   selector  ::= quoted | index | "*"
//   name      ::= [A-Za-z_] [A-Za-z0-9_]*            (member-name shorthand, ASCII only)
//   quoted    ::= '...' or "..." with the escapes \\ \' \" \/ \b \f \n \r \t \uXXXX
//   index     ::= "0" | "-"? [1-9] [0-9]*            (negative counts from the end)
//
// A *property path* names one place in an event: a path without wildcards, where the leading "$."
// may be left out: "event_properties.plan" is "$.event_properties.plan", "event_type" is
// "$.event_type", "event_properties['plan type']" is "$.event_properties['plan type']".
//
// Pure functions; thread-safe; never throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::config {

inline constexpr size_t kMaxPathLength = 256;

struct PathSegment {
  enum class Kind { kName, kIndex, kWildcard };
  Kind kind = Kind::kName;
  std::string name;   // kName: the member name, escapes resolved
  int64_t index = 0;  // kIndex

  friend bool operator==(const PathSegment&, const PathSegment&) = default;
};

struct JsonPath {
  std::vector<PathSegment> segments;  // empty: the root itself ("$")

  // No wildcard: selects at most one node.
  bool singular() const;
  friend bool operator==(const JsonPath&, const JsonPath&) = default;
};

// Errors: kInvalidArgument with the offset of the problem, e.g. "at offset 4: expected a name or
// '*' after '.'". The path itself is not repeated.
[[nodiscard]] absl::StatusOr<JsonPath> ParseJsonPath(std::string_view text);

// A singular path with the optional "$." shorthand (see above). The root alone is not a property.
[[nodiscard]] absl::StatusOr<JsonPath> ParsePropertyPath(std::string_view text);

}  // namespace cohort::config
