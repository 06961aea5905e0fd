#include "analytics/store/user_state.h"

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace cohort::analytics::store {
namespace {

// The object an operation holds ({"$set": {...}}); nothing for other values.
Properties OperandObject(const Properties& operations, const char* op) {
  auto it = operations.find(op);
  if (it == operations.end() || it->second.kind() != PropertyValue::Kind::kJson) return {};
  absl::StatusOr<Properties> parsed = ParseProperties(it->second.text());
  return parsed.ok() ? *std::move(parsed) : Properties();
}

// $unset names keys by an object's keys, an array of strings, or one string.
std::vector<std::string> KeysToUnset(const PropertyValue& operand) {
  std::vector<std::string> keys;
  if (operand.kind() == PropertyValue::Kind::kString) {
    keys.push_back(operand.text());
  } else if (operand.kind() == PropertyValue::Kind::kJson) {
    nlohmann::json parsed = nlohmann::json::parse(operand.text(), nullptr, false);
    if (parsed.is_object()) {
      for (const auto& item : parsed.items()) keys.push_back(item.key());
    } else if (parsed.is_array()) {
      for (const nlohmann::json& key : parsed) {
        if (key.is_string()) keys.push_back(key.get<std::string>());
      }
    }
  }
  return keys;
}

}  // namespace

void UserState::Apply(const Properties& operations) {
  // Order (docs/metrics.md): $clearAll, $unset, plain keys, $set, $setOnce, $add.
  if (operations.contains("$clearAll")) state_.clear();
  if (auto unset = operations.find("$unset"); unset != operations.end()) {
    for (const std::string& key : KeysToUnset(unset->second)) state_.erase(key);
  }
  for (const auto& [key, value] : operations) {
    if (key.empty() || key[0] != '$') state_.insert_or_assign(key, value);
  }
  for (auto& [key, value] : OperandObject(operations, "$set")) state_.insert_or_assign(key, value);
  for (auto& [key, value] : OperandObject(operations, "$setOnce")) state_.try_emplace(key, value);
  for (const auto& [key, value] : OperandObject(operations, "$add")) {
    if (value.kind() != PropertyValue::Kind::kNumber) continue;
    PropertyValue& slot = state_[key];  // a new key starts as null, which counts as 0
    double base = slot.kind() == PropertyValue::Kind::kNumber ? slot.number() : 0;
    slot = PropertyValue::Number(base + value.number());
  }
}

const Properties& UserState::Advance(const EventRef& ref) {
  const Segment& s = *ref.segment;
  bool identify = s.event_types()[s.event_type_code(ref.index)] == "$identify";
  // The event's own user_properties, from the sparse columns.
  Properties own;
  const std::vector<std::string>& keys = s.property_keys(/*user_scope=*/true);
  for (size_t k = 0; k < keys.size(); ++k) {
    if (const PropertyValue* v = s.Property(true, k, ref.index)) own.emplace(keys[k], *v);
  }
  if (identify) {
    Apply(own);
    return state_;
  }
  if (own.empty()) return state_;
  overlay_ = state_;
  for (auto& [key, value] : own) overlay_.insert_or_assign(key, std::move(value));
  return overlay_;
}

}  // namespace cohort::analytics::store
