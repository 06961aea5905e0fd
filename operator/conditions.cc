#include "operator/conditions.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "operator/subset_diff.h"

namespace cohort::op {
namespace {

using nlohmann::json;

constexpr size_t kMaxTypeLength = 316;
constexpr size_t kMaxReasonLength = 1024;
constexpr size_t kMaxMessageLength = 32768;

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? of at most 63 characters.
bool IsQualifiedNamePart(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!absl::ascii_isalnum(s.front()) || !absl::ascii_isalnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// A DNS subdomain: dot-separated [a-z0-9]([-a-z0-9]*[a-z0-9])? labels, at most 253 characters.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view label = s.substr(start, dot - start);
    if (label.empty()) return false;
    auto lower_alnum = [](char c) { return absl::ascii_isdigit(c) || absl::ascii_islower(c); };
    if (!lower_alnum(label.front()) || !lower_alnum(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(),
                     [&](char c) { return lower_alnum(c) || c == '-'; })) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

std::optional<ConditionStatus> ParseStatus(const json& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (s == "True") return ConditionStatus::kTrue;
  if (s == "False") return ConditionStatus::kFalse;
  if (s == "Unknown") return ConditionStatus::kUnknown;
  return std::nullopt;
}

bool HasType(const json& entry, std::string_view type) {
  if (!entry.is_object()) return false;
  auto it = entry.find("type");
  return it != entry.end() && it->is_string() && it->get_ref<const std::string&>() == type;
}

}  // namespace

std::string_view ConditionStatusName(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

absl::Status ValidateConditionType(std::string_view type) {
  if (type.size() > kMaxTypeLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("condition type is longer than ", kMaxTypeLength, " characters"));
  }
  std::string_view name = type;
  if (size_t slash = type.find('/'); slash != std::string_view::npos) {
    if (!IsDnsSubdomain(type.substr(0, slash))) {
      return absl::InvalidArgumentError(absl::StrCat("condition type \"", std::string(type),
                                                     "\": prefix is not a DNS subdomain"));
    }
    name = type.substr(slash + 1);
  }
  if (!IsQualifiedNamePart(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "condition type \"", std::string(type),
        "\" is not a qualified name (alphanumerics, '-', '_', '.'; alphanumeric at both ends)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateConditionReason(std::string_view reason) {
  if (reason.empty() || reason.size() > kMaxReasonLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("condition reason must have 1 to ", kMaxReasonLength, " characters"));
  }
  const bool ok = absl::ascii_isupper(reason.front()) && reason.back() != ',' &&
                  reason.back() != ':' && std::all_of(reason.begin(), reason.end(), [](char c) {
                    return absl::ascii_isalnum(c) || c == '_' || c == ',' || c == ':';
                  });
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "condition reason \"", std::string(reason),
        "\" is not CamelCase (an upper-case letter, then letters, digits, '_', ',' or ':')"));
  }
  return absl::OkStatus();
}

std::string FormatConditionTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<bool> SetCondition(json& conditions, std::string_view type, ConditionStatus status,
                                  std::string_view reason, std::string_view message,
                                  int64_t observed_generation, const Clock& clock) {
  if (absl::Status s = ValidateConditionType(type); !s.ok()) return s;
  if (absl::Status s = ValidateConditionReason(reason); !s.ok()) return s;
  if (message.size() > kMaxMessageLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("condition message is longer than ", kMaxMessageLength, " bytes"));
  }
  if (observed_generation < 0) {
    return absl::InvalidArgumentError("condition observedGeneration is negative");
  }
  if (!conditions.is_null() && !conditions.is_array()) {
    return absl::InvalidArgumentError("conditions is not a list");
  }
  if (conditions.is_null()) conditions = json::array();

  const std::string status_name(ConditionStatusName(status));
  for (json& entry : conditions) {
    if (!HasType(entry, type)) continue;
    bool changed = false;
    auto set = [&entry, &changed](const char* key, const json& value) {
      auto it = entry.find(key);
      if (it == entry.end() || *it != value) {
        entry[key] = value;
        changed = true;
      }
    };
    const auto lt = entry.find("lastTransitionTime");
    if (entry.value("status", json()) != status_name || lt == entry.end() || !lt->is_string()) {
      entry["lastTransitionTime"] = FormatConditionTime(clock.Now());
      changed = true;
    }
    set("status", status_name);
    set("reason", std::string(reason));
    set("message", std::string(message));
    set("observedGeneration", observed_generation);
    return changed;
  }
  conditions.push_back({{"type", std::string(type)},
                        {"status", status_name},
                        {"observedGeneration", observed_generation},
                        {"lastTransitionTime", FormatConditionTime(clock.Now())},
                        {"reason", std::string(reason)},
                        {"message", std::string(message)}});
  return true;
}

std::optional<Condition> FindCondition(const json& conditions, std::string_view type) {
  if (!conditions.is_array()) return std::nullopt;
  for (const json& entry : conditions) {
    if (!HasType(entry, type)) continue;
    Condition c;
    c.type = std::string(type);
    c.status = ParseStatus(entry.value("status", json())).value_or(ConditionStatus::kUnknown);
    if (auto r = entry.find("reason"); r != entry.end() && r->is_string()) c.reason = *r;
    if (auto m = entry.find("message"); m != entry.end() && m->is_string()) c.message = *m;
    if (auto g = entry.find("observedGeneration"); g != entry.end() && g->is_number_integer()) {
      c.observed_generation = g->get<int64_t>();
    }
    if (auto t = entry.find("lastTransitionTime"); t != entry.end() && t->is_string()) {
      absl::Time parsed;
      std::string err;
      if (absl::ParseTime(absl::RFC3339_full, t->get<std::string>(), &parsed, &err)) {
        c.last_transition_time = parsed;
      }
    }
    return c;
  }
  return std::nullopt;
}

bool IsConditionTrue(const json& conditions, std::string_view type) {
  std::optional<Condition> c = FindCondition(conditions, type);
  return c.has_value() && c->status == ConditionStatus::kTrue;
}

bool IsConditionFalse(const json& conditions, std::string_view type) {
  std::optional<Condition> c = FindCondition(conditions, type);
  return c.has_value() && c->status == ConditionStatus::kFalse;
}

bool RemoveCondition(json& conditions, std::string_view type) {
  if (!conditions.is_array()) return false;
  for (auto it = conditions.begin(); it != conditions.end(); ++it) {
    if (HasType(*it, type)) {
      conditions.erase(it);
      return true;
    }
  }
  return false;
}

absl::StatusOr<bool> ApplyStatusIfChanged(KubeClient& client, const ResourceType& type,
                                          const json& live, const json& status,
                                          const std::string& field_manager) {
  if (!live.is_object() || !live.contains("metadata") || !live["metadata"].is_object()) {
    return absl::InvalidArgumentError("ApplyStatusIfChanged: live object has no metadata");
  }
  const json& meta = live["metadata"];
  auto text = [&meta](const char* key) {
    auto it = meta.find(key);
    return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string name = text("name");
  const std::string ns = type.namespaced ? text("namespace") : "";
  if (name.empty()) return absl::InvalidArgumentError("ApplyStatusIfChanged: no metadata.name");
  const json live_status = live.value("status", json());
  if (SemanticEqual(status, live_status)) return false;
  json body = {{"apiVersion", type.ApiVersion()},
               {"kind", type.kind},
               {"metadata", {{"name", name}}},
               {"status", status}};
  if (!ns.empty()) body["metadata"]["namespace"] = ns;
  absl::StatusOr<json> applied =
      client.Apply(type, ns, body, field_manager, /*force=*/true, "status");
  if (!applied.ok()) return applied.status();
  return true;
}

}  // namespace cohort::op
