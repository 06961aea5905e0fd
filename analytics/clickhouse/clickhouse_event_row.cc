#include "analytics/clickhouse/clickhouse_event_row.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "analytics/model/identify_operations.h"

namespace cohort::analytics::clickhouse {
namespace {

// A Float64 as JSONEachRow reads it on 18.16 and current engines (NaN: see the header).
std::string Number(double d) {
  if (std::isnan(d)) return "NaN";
  char buffer[32];
  std::to_chars_result r = std::to_chars(buffer, buffer + sizeof(buffer), d);
  return std::string(buffer, r.ptr);
}

std::vector<const std::pair<const std::string, PropertyValue>*> Sorted(
    const Properties& properties) {
  std::vector<const std::pair<const std::string, PropertyValue>*> sorted;
  sorted.reserve(properties.size());
  for (const auto& entry : properties) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return sorted;
}

// Parallel JSON arrays of typed values (keys, kinds, strings, numbers; the header's encoding), the
// text between the brackets.
struct TypedColumns {
  std::string keys, kinds, strings, numbers;

  void Add(const std::string& key, const PropertyValue& v) {
    PropKind kind = PropKind::kNull;
    std::string text;
    std::string number = "0";
    switch (v.kind()) {
      case PropertyValue::Kind::kNull:
        break;
      case PropertyValue::Kind::kBool:
        kind = PropKind::kBool;
        text = v.boolean() ? "true" : "false";
        break;
      case PropertyValue::Kind::kNumber:
        kind = PropKind::kNumber;
        number = Number(v.number());
        break;
      case PropertyValue::Kind::kString: {
        kind = PropKind::kString;
        text = v.text();
        std::optional<double> n = NumericValue(v);
        number = Number(n.value_or(std::numeric_limits<double>::quiet_NaN()));
        break;
      }
      case PropertyValue::Kind::kJson:
        kind = PropKind::kJson;
        text = v.text();
        break;
    }
    const char* sep = keys.empty() ? "" : ",";
    absl::StrAppend(&keys, sep, JsonString(key));
    absl::StrAppend(&kinds, sep, static_cast<int>(kind));
    absl::StrAppend(&strings, sep, JsonString(text));
    absl::StrAppend(&numbers, sep, number);
  }
};

// The uop_* columns (the header's "User properties").
struct UserOperationColumns {
  bool clear = false;
  TypedColumns values;
  std::string codes, adds;

  void Add(const std::string& key, int code, const PropertyValue& value, double add) {
    const char* sep = codes.empty() ? "" : ",";
    values.Add(key, value);
    absl::StrAppend(&codes, sep, code);
    absl::StrAppend(&adds, sep, Number(add));
  }
};

UserOperationColumns UserOperationsOf(const Event& event) {
  UserOperationColumns columns;
  if (event.event_type != "$identify") {
    for (const auto* entry : Sorted(event.user_properties)) {
      columns.Add(entry->first, kUserOwnValue, entry->second, 0);
    }
    return columns;
  }
  IdentifyOperations ops = ParseIdentifyOperations(event.user_properties);
  columns.clear = ops.clear_all;
  std::set<std::string> unset(ops.unset.begin(), ops.unset.end());
  std::map<std::string, double> add(ops.add.begin(), ops.add.end());
  std::set<std::string> keys = unset;
  for (const auto& [key, value] : ops.set) keys.insert(key);
  for (const auto& [key, value] : ops.set_once) keys.insert(key);
  for (const auto& [key, number] : add) keys.insert(key);
  for (const std::string& key : keys) {  // std::set: sorted by bytes
    int code = 0;
    PropertyValue value;
    if (auto set = ops.set.find(key); set != ops.set.end()) {
      code = kUserSet;
      value = set->second;
    } else {
      if (unset.contains(key)) code = kUserUnset;
      if (auto once = ops.set_once.find(key); once != ops.set_once.end()) {
        code |= kUserSetOnce;
        value = once->second;
      }
    }
    auto added = add.find(key);
    if (added != add.end()) code |= kUserAdd;
    columns.Add(key, code, value, added != add.end() ? added->second : 0);
  }
  return columns;
}

}  // namespace

std::string JsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (b == '\n') {
      out.append("\\n");
    } else if (b == '\t') {
      out.append("\\t");
    } else if (b == '\r') {
      out.append("\\r");
    } else if (b < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string PropertiesJson(const Properties& properties) {
  std::string out = "{";
  bool first = true;
  for (const auto* entry : Sorted(properties)) {
    if (!first) out.push_back(',');
    first = false;
    out.append(JsonString(entry->first));
    out.push_back(':');
    if (entry->second.kind() == PropertyValue::Kind::kString) {
      out.append(JsonString(entry->second.text()));
    } else {
      out.append(entry->second.ToJson());
    }
  }
  out.push_back('}');
  return out;
}

std::string EventRowJson(const Event& event, uint64_t arrival) {
  const bool is_user = !event.user_id.empty();
  TypedColumns props;
  for (const auto* entry : Sorted(event.event_properties)) props.Add(entry->first, entry->second);
  UserOperationColumns user = UserOperationsOf(event);
  return absl::StrCat(
      "{\"project\":", JsonString(event.project), ",\"group_is_user\":", is_user ? 1 : 0,
      ",\"group_id\":", JsonString(is_user ? event.user_id : event.device_id),
      ",\"user_id\":", JsonString(event.user_id), ",\"device_id\":", JsonString(event.device_id),
      ",\"time_ms\":", event.time_ms, ",\"insert_id\":", JsonString(event.insert_id),
      ",\"event_type\":", JsonString(event.event_type),
      ",\"has_session\":", event.session_id.has_value() ? 1 : 0,
      ",\"session_id\":", event.session_id.value_or(0), ",\"prop_keys\":[", props.keys,
      "],\"prop_kinds\":[", props.kinds, "],\"prop_strings\":[", props.strings,
      "],\"prop_numbers\":[", props.numbers,
      "],\"event_properties\":", JsonString(PropertiesJson(event.event_properties)),
      ",\"user_properties\":", JsonString(PropertiesJson(event.user_properties)),
      ",\"arrival\":", arrival, ",\"uop_clear\":", user.clear ? 1 : 0, ",\"uop_keys\":[",
      user.values.keys, "],\"uop_codes\":[", user.codes, "],\"uop_kinds\":[", user.values.kinds,
      "],\"uop_strings\":[", user.values.strings, "],\"uop_numbers\":[", user.values.numbers,
      "],\"uop_adds\":[", user.adds, "]}");
}

std::vector<std::string> EventRowsJson(const std::vector<Event>& events, uint64_t first_arrival) {
  std::vector<std::string> rows;
  rows.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    rows.push_back(EventRowJson(events[i], first_arrival + i));
  }
  return rows;
}

}  // namespace cohort::analytics::clickhouse
