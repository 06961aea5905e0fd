// A property value as the analytics engine sees it: JSON's types kept as JSON gives them
// (analytics.md, "Properties"), and the comparison rules of property filters.
//
// Missing ≠ null ≠ "": a property that is absent has no PropertyValue at all (std::optional
// empty at the lookup), null is kNull, and "" is an empty kString.
//
// A value type; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace cohort::analytics {

class PropertyValue {
 public:
  // kJson holds an object or an array as compact JSON text: filters treat it as opaque (only
  // set / not set match it); group-by labels it with its text.
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kJson };

  PropertyValue() = default;  // null
  static PropertyValue Null() { return PropertyValue(); }
  static PropertyValue Bool(bool b);
  // JSON numbers are doubles (integers above 2^53 lose precision, as in JavaScript SDKs).
  static PropertyValue Number(double d);
  static PropertyValue String(std::string s);
  static PropertyValue Json(std::string compact_json);

  Kind kind() const { return kind_; }
  bool boolean() const { return number_ != 0; }      // kBool only
  double number() const { return number_; }          // kNumber only
  const std::string& text() const { return text_; }  // kString: the string; kJson: the JSON text

  // The value as a group-by label and in drill-down output: strings as they are, numbers in the
  // shortest form that round-trips ("3", "0.1", "1e+21"), "true"/"false", "null", JSON text.
  std::string Label() const;
  // The value as compact JSON text ("\"a\"", "3", "null", ...).
  std::string ToJson() const;

  friend bool operator==(const PropertyValue&, const PropertyValue&) = default;

 private:
  Kind kind_ = Kind::kNull;
  double number_ = 0;
  std::string text_;
};

// The top-level keys of a JSON object (event_properties, user_properties) and their values.
using Properties = absl::flat_hash_map<std::string, PropertyValue>;

// Parses compact JSON object text (as ingest stores it; "" = no properties) into Properties.
// Nested objects and arrays become kJson values. Errors: kInvalidArgument when the text is not a
// JSON object.
[[nodiscard]] absl::StatusOr<Properties> ParseProperties(std::string_view json_object);

// A numeric view for comparisons (<, <=, >, >=): a number, or a string that is entirely a number
// (JSON number syntax, surrounding whitespace not allowed). Anything else has none.
std::optional<double> NumericValue(const PropertyValue& value);

}  // namespace cohort::analytics
