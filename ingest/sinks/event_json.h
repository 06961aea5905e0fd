// An Event as one JSON object with Amplitude's field names (the upload shape of /2/httpapi and
// /batch): what the Amplitude destination sends, the JSON-lines file sink writes and the
// dead-letter file records. Stateless, thread-safe.
#pragma once

#include <string>

#include "ingest/event/event.h"

namespace cohort::ingest::sinks {

struct EventJsonOptions {
  // Also write the fields Amplitude does not have: "project", "source" and
  // "server_received_time" (ms). Off for Amplitude uploads.
  bool cohort_fields = false;
};

// Appends `event` as a compact JSON object to `*dst`: user_id, device_id, event_type, time,
// insert_id, session_id (unless kNoSession), event_id, ip, every non-empty attribute under its
// Amplitude key, price, quantity, revenue, location_lat, location_lng when set, and the JSON
// fields (event_properties, ...) verbatim. Absent (empty) fields are left out.
void AppendEventJson(const Event& event, const EventJsonOptions& options, std::string* dst);

}  // namespace cohort::ingest::sinks
