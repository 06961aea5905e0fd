#include "analytics/reference/user_properties.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"

namespace cohort::analytics::reference {
namespace {

const PropertyValue* Find(const Properties& ops, const char* key) {
  auto it = ops.find(key);
  return it == ops.end() ? nullptr : &it->second;
}

// The properties of an operation's value when it is a JSON object; empty otherwise.
Properties ObjectOf(const PropertyValue* value) {
  if (value == nullptr || value->kind() != PropertyValue::Kind::kJson) return {};
  absl::StatusOr<Properties> parsed = ParseProperties(value->text());
  return parsed.ok() ? *std::move(parsed) : Properties();
}

// The keys an $unset names.
std::vector<std::string> UnsetKeys(const PropertyValue& value) {
  if (value.kind() == PropertyValue::Kind::kString) return {value.text()};
  if (value.kind() != PropertyValue::Kind::kJson) return {};
  nlohmann::json json = nlohmann::json::parse(value.text(), nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> keys;
  if (json.is_object()) {
    for (auto it = json.begin(); it != json.end(); ++it) keys.push_back(it.key());
  } else if (json.is_array()) {
    for (const nlohmann::json& element : json) {
      if (element.is_string()) keys.push_back(element.get<std::string>());
    }
  }
  return keys;
}

}  // namespace

void ApplyIdentify(const Properties& ops, Properties& state) {
  if (Find(ops, "$clearAll") != nullptr) state.clear();
  if (const PropertyValue* unset = Find(ops, "$unset")) {
    for (const std::string& key : UnsetKeys(*unset)) state.erase(key);
  }
  for (const auto& [key, value] : ops) {
    if (!absl::StartsWith(key, "$")) state[key] = value;
  }
  for (auto& [key, value] : ObjectOf(Find(ops, "$set"))) state[key] = value;
  for (auto& [key, value] : ObjectOf(Find(ops, "$setOnce"))) state.try_emplace(key, value);
  for (const auto& [key, value] : ObjectOf(Find(ops, "$add"))) {
    if (value.kind() != PropertyValue::Kind::kNumber) continue;
    auto it = state.find(key);
    double current = it != state.end() && it->second.kind() == PropertyValue::Kind::kNumber
                         ? it->second.number()
                         : 0;
    state[key] = PropertyValue::Number(current + value.number());
  }
}

}  // namespace cohort::analytics::reference
