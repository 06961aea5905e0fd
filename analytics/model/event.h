// The event as the analytics engine stores and queries it: what the metrics of analytics.md read
// and nothing else. The ingest side converts its own Event (ingest/event/event.h) into this one in
// the store sink; analytics/ depends on nothing in ingest/.
//
// A plain value type; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "analytics/model/property_value.h"

namespace cohort::analytics {

// Amplitude's "no session" session_id.
inline constexpr int64_t kNoSessionId = -1;

struct Event {
  std::string project;
  std::string event_type;
  std::string user_id;    // empty: none
  std::string device_id;  // empty: none (an event has a user_id, a device_id, or both)
  int64_t time_ms = 0;    // client time, ms since the Unix epoch (UTC)
  std::string insert_id;  // never empty in the store (ingest assigns one when the client did not)
  // As sent by Amplitude SDKs: >= 0 an explicit session, kNoSessionId outside any session.
  // Empty for events that carry no session (native, Dify): those are sessionized per actor by
  // the gap timeout at query time (analytics.md, "Sessions").
  std::optional<int64_t> session_id;
  Properties event_properties;
  // For "$identify" events these are operations ($set, $setOnce, $unset, $add, $clearAll);
  // for other events, values the event carries (applied over the identify state for that event).
  Properties user_properties;
};

}  // namespace cohort::analytics
