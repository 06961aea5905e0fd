#include "analytics/model/filter.h"

namespace cohort::analytics {
namespace {

bool Equal(const PropertyValue& a, const PropertyValue& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case PropertyValue::Kind::kNull:
      return true;
    case PropertyValue::Kind::kBool:
      return a.boolean() == b.boolean();
    case PropertyValue::Kind::kNumber:
      return a.number() == b.number();
    case PropertyValue::Kind::kString:
      return a.text() == b.text();
    case PropertyValue::Kind::kJson:
      return false;  // objects and arrays are opaque to filters
  }
  return false;
}

bool EqualsAny(const PropertyValue& value, const std::vector<PropertyValue>& values) {
  for (const PropertyValue& v : values) {
    if (Equal(value, v)) return true;
  }
  return false;
}

bool Compare(FilterOp op, const PropertyValue& value, const std::vector<PropertyValue>& values) {
  if (values.empty()) return false;
  std::optional<double> left = NumericValue(value);
  std::optional<double> right = NumericValue(values[0]);
  if (!left || !right) return false;
  switch (op) {
    case FilterOp::kLess:
      return *left < *right;
    case FilterOp::kLessOrEqual:
      return *left <= *right;
    case FilterOp::kGreater:
      return *left > *right;
    case FilterOp::kGreaterOrEqual:
      return *left >= *right;
    default:
      return false;
  }
}

bool Contains(const PropertyValue& value, const std::vector<PropertyValue>& values) {
  return !values.empty() && value.kind() == PropertyValue::Kind::kString &&
         values[0].kind() == PropertyValue::Kind::kString &&
         value.text().find(values[0].text()) != std::string::npos;
}

}  // namespace

bool FilterMatches(const PropertyFilter& filter, const PropertyValue* value) {
  switch (filter.op) {
    case FilterOp::kIsSet:
      return value != nullptr;
    case FilterOp::kIsNotSet:
      return value == nullptr;
    case FilterOp::kNotEquals:
      return value == nullptr || !EqualsAny(*value, filter.values);
    default:
      break;
  }
  if (value == nullptr) return false;
  switch (filter.op) {
    case FilterOp::kEquals:
      return EqualsAny(*value, filter.values);
    case FilterOp::kLess:
    case FilterOp::kLessOrEqual:
    case FilterOp::kGreater:
    case FilterOp::kGreaterOrEqual:
      return Compare(filter.op, *value, filter.values);
    case FilterOp::kContains:
      return Contains(*value, filter.values);
    case FilterOp::kNotContains:
      return value->kind() == PropertyValue::Kind::kString && !filter.values.empty() &&
             filter.values[0].kind() == PropertyValue::Kind::kString &&
             !Contains(*value, filter.values);
    default:
      return false;
  }
}

}  // namespace cohort::analytics
