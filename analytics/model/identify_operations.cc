#include "analytics/model/identify_operations.h"

#include "nlohmann/json.hpp"

namespace cohort::analytics {
namespace {

// The properties of an operation's operand when it is a JSON object; nothing otherwise.
Properties OperandObject(const Properties& user_properties, const char* op) {
  auto it = user_properties.find(op);
  if (it == user_properties.end() || it->second.kind() != PropertyValue::Kind::kJson) return {};
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

IdentifyOperations ParseIdentifyOperations(const Properties& user_properties) {
  IdentifyOperations ops;
  ops.clear_all = user_properties.contains("$clearAll");
  if (auto unset = user_properties.find("$unset"); unset != user_properties.end()) {
    ops.unset = KeysToUnset(unset->second);
  }
  for (const auto& [key, value] : user_properties) {
    if (key.empty() || key[0] != '$') ops.set.insert_or_assign(key, value);
  }
  for (auto& [key, value] : OperandObject(user_properties, "$set")) {
    ops.set.insert_or_assign(key, std::move(value));
  }
  ops.set_once = OperandObject(user_properties, "$setOnce");
  for (const auto& [key, value] : OperandObject(user_properties, "$add")) {
    if (value.kind() == PropertyValue::Kind::kNumber) ops.add.emplace_back(key, value.number());
  }
  return ops;
}

void ApplyIdentifyOperations(const IdentifyOperations& operations, Properties& state) {
  if (operations.clear_all) state.clear();
  for (const std::string& key : operations.unset) state.erase(key);
  for (const auto& [key, value] : operations.set) state.insert_or_assign(key, value);
  for (const auto& [key, value] : operations.set_once) state.try_emplace(key, value);
  for (const auto& [key, number] : operations.add) {
    PropertyValue& slot = state[key];  // a new key starts as null, which counts as 0
    double base = slot.kind() == PropertyValue::Kind::kNumber ? slot.number() : 0;
    slot = PropertyValue::Number(base + number);
  }
}

}  // namespace cohort::analytics
