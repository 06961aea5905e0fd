#include "analytics/model/property_value.h"

#include <charconv>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace cohort::analytics {
namespace {

// JSON number syntax (RFC 8259): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

absl::StatusOr<PropertyValue> FromElement(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      return PropertyValue::Null();
    case simdjson::dom::element_type::BOOL:
      return PropertyValue::Bool(element.get_bool().value_unsafe());
    case simdjson::dom::element_type::INT64:
      return PropertyValue::Number(static_cast<double>(element.get_int64().value_unsafe()));
    case simdjson::dom::element_type::UINT64:
      return PropertyValue::Number(static_cast<double>(element.get_uint64().value_unsafe()));
    case simdjson::dom::element_type::DOUBLE:
      return PropertyValue::Number(element.get_double().value_unsafe());
    case simdjson::dom::element_type::STRING:
      return PropertyValue::String(std::string(element.get_string().value_unsafe()));
    case simdjson::dom::element_type::ARRAY:
    case simdjson::dom::element_type::OBJECT:
      return PropertyValue::Json(simdjson::minify(element));
  }
  return absl::InvalidArgumentError("unknown JSON value type");
}

}  // namespace

PropertyValue PropertyValue::Bool(bool b) {
  PropertyValue v;
  v.kind_ = Kind::kBool;
  v.number_ = b ? 1 : 0;
  return v;
}

PropertyValue PropertyValue::Number(double d) {
  PropertyValue v;
  v.kind_ = Kind::kNumber;
  v.number_ = d;
  return v;
}

PropertyValue PropertyValue::String(std::string s) {
  PropertyValue v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(s);
  return v;
}

PropertyValue PropertyValue::Json(std::string compact_json) {
  PropertyValue v;
  v.kind_ = Kind::kJson;
  v.text_ = std::move(compact_json);
  return v;
}

std::string PropertyValue::Label() const {
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return boolean() ? "true" : "false";
    case Kind::kNumber: {
      char buffer[32];
      std::to_chars_result r = std::to_chars(buffer, buffer + sizeof(buffer), number_);
      return std::string(buffer, r.ptr);
    }
    case Kind::kString:
    case Kind::kJson:
      return text_;
  }
  return text_;
}

std::string PropertyValue::ToJson() const {
  switch (kind_) {
    case Kind::kString:
      return nlohmann::json(text_).dump();
    case Kind::kNumber:
      // JSON has no NaN or infinity; properties never hold them (they come from JSON).
      return Label();
    default:
      return Label();
  }
}

absl::StatusOr<Properties> ParseProperties(std::string_view json_object) {
  Properties properties;
  if (json_object.empty()) return properties;
  // One parser per thread, reused: a parser's buffers cost more to set up than a small object
  // costs to parse. (parse() copies the text into the parser's own padded buffer.)
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (simdjson::error_code error =
          parser.parse(json_object.data(), json_object.size(), /*realloc_if_needed=*/true)
              .get(root);
      error) {
    return absl::InvalidArgumentError(
        absl::StrCat("properties are not valid JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return absl::InvalidArgumentError("properties are not a JSON object");
  }
  properties.reserve(object.size());
  for (simdjson::dom::key_value_pair field : object) {
    absl::StatusOr<PropertyValue> value = FromElement(field.value);
    if (!value.ok()) return value.status();
    // A repeated key: the last one wins, as in JavaScript.
    properties.insert_or_assign(std::string(field.key), *std::move(value));
  }
  return properties;
}

std::optional<double> NumericValue(const PropertyValue& value) {
  if (value.kind() == PropertyValue::Kind::kNumber) return value.number();
  if (value.kind() != PropertyValue::Kind::kString || !IsJsonNumber(value.text())) {
    return std::nullopt;
  }
  double d = 0;
  const std::string& s = value.text();
  std::from_chars_result r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;  // out of range
  return d;
}

}  // namespace cohort::analytics
