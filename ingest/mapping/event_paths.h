// Addressing an Event's fields with the JSONPaths of mapping rules (config/json_path.h), and the
// per-event view rules read and write through (rule_set.h says what the actions mean).
//
// Addressable top-level names (anything else is rejected when the rules compile):
//   strings  event_type, user_id, device_id, insert_id, ip and the Amplitude attribute keys of
//            event.h (app_version, platform, os_name, ..., productId, revenueType, ...,
//            partner_id). Empty means absent. They have no members: `user_id.x` is rejected.
//   numbers  time, session_id (absent when -1), event_id, price, quantity, revenue, location_lat,
//            location_lng: read-only (matched and copied from, never targets).
//   objects  event_properties (also named `payload`: the native envelope's payload is kept
//            there), user_properties, groups, group_properties, plan, ingestion_metadata: JSON,
//            addressed inside with the rest of the path (`event_properties.user.id`,
//            `user_properties['$set'].plan`, `event_properties.items[0]`).
// `project`, `source` and `server_received_time` are not addressable.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "config/json_path.h"
#include "ingest/event/event.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::mapping {

// Key order is kept when a JSON field is parsed and written back.
using Json = nlohmann::ordered_json;

// A top-level field of the event.
struct FieldRef {
  enum class Kind : uint8_t { kString, kNumber, kJson };
  Kind kind = Kind::kString;
  // kString: 0 event_type, 1 user_id, 2 device_id, 3 insert_id, 4 ip, 5 + Attribute;
  // kNumber: 0 time, 1 session_id, 2 event_id, 3 price, 4 quantity, 5 revenue, 6 location_lat,
  // 7 location_lng; kJson: JsonField.
  uint8_t index = 0;
};

// A hash of a JSON string's content, for the no-parse pre-filter: EventView keeps a 256-bit
// Bloom filter of every string (member names and string values) in a JSON field's raw text.
uint64_t StringDigest(std::string_view content);

// A resolved rule path: the top-level field and the segments inside it (kJson only).
struct EventPath {
  FieldRef field;
  std::vector<config::PathSegment> inside;
  // For the no-parse pre-filter: StringDigest of each name segment of `inside`.
  std::vector<uint64_t> name_digests;
};

// Resolves a parsed path whose first segment names a top-level field. Errors: kInvalidArgument
// "unknown field \"x\"", "a path must start with a field name", "\"user_id\" has no members".
[[nodiscard]] absl::StatusOr<EventPath> ResolveEventPath(const config::JsonPath& path);

// The text of a value: a string's content, anything else as compact JSON (invalid UTF-8
// replaced, never thrown).
std::string JsonText(const Json& value);

// One event as the rules see it during one Apply: JSON fields are parsed on first use and written
// back by Commit() when changed. Not thread-safe; the event must outlive the view.
class EventView {
 public:
  explicit EventView(Event& event) : event_(event) {}
  EventView(const EventView&) = delete;
  EventView& operator=(const EventView&) = delete;

  Event& event() { return event_; }

  // Calls `visit` with each value `path` selects (strings and numbers as JSON values) until it
  // returns true; returns whether it did. `visit` must not change the event. `string_digest`: a
  // hint that `visit` accepts only a JSON string value with that StringDigest, so a JSON field
  // whose raw text (without escapes) holds no such string is not parsed.
  bool AnyValue(const EventPath& path, absl::FunctionRef<bool(const Json&)> visit,
                std::optional<uint64_t> string_digest = std::nullopt);
  // The first value `path` selects, copied.
  std::optional<Json> First(const EventPath& path);
  // Writes `value` at `path` (a string field or a place inside a JSON field); see rule_set.h for
  // what happens when something is in the way. Returns whether the event changed.
  bool Write(const EventPath& path, Json value);
  // Removes what `path` names. Returns whether the event changed.
  bool Remove(const EventPath& path);

  // Writes changed JSON fields back as compact text.
  void Commit();

 private:
  enum class State : uint8_t { kUnread, kAbsent, kMalformed, kParsed };
  // The parsed field, or nullptr when absent or malformed. create: an absent field becomes {}.
  Json* Doc(JsonField field, bool create);
  const std::string* StringField(uint8_t index);
  std::optional<Json> Number(uint8_t index) const;

  Event& event_;
  // Whether the field's raw text has no escapes, and then the Bloom filter of its strings.
  enum class Scan : uint8_t { kNotYet, kNoEscapes, kEscapes };
  bool MayHold(size_t field, uint64_t digest);
  std::array<Scan, kJsonFieldCount> scan_{};
  std::array<std::array<uint64_t, 4>, kJsonFieldCount> bloom_{};
  std::array<State, kJsonFieldCount> state_{};
  std::array<bool, kJsonFieldCount> dirty_{};
  std::array<Json, kJsonFieldCount> docs_;
  Json scratch_;  // a string or number field as a JSON value, for AnyValue
};

}  // namespace cohort::ingest::mapping
