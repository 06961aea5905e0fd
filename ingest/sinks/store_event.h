// An accepted ingest event (ingest/event/event.h) as the analytics store keeps it
// (analytics/model/event.h): the one place the two models meet (docs/metrics.md, "Events").
//
// - session: Amplitude events keep session_id as sent (-1 = no session); Dify and native events
//   carry none (sessionized by gap at query time) unless mapping rules set one >= 0.
// - an event the client sent without insert_id gets "wal:<segment>:<offset>", its position in
//   the write-ahead log: the same on every replay, so the store's dedup makes redelivery a no-op.
// - Amplitude's device and location fields (platform, os_name, country, ...) become user
//   properties under their Amplitude keys, as Amplitude shows them, unless the event's own
//   user_properties has that key; price, quantity and revenue become the event properties
//   $price, $quantity and $revenue.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/event.h"
#include "ingest/event/event.h"
#include "ingest/event/event_codec.h"
#include "ingest/wal/segment_format.h"

namespace cohort::ingest::sinks {

// Errors: kInvalidArgument when the event's JSON fields are not JSON objects (the log holds only
// validated events, so this means damage: the caller dead-letters the event).
[[nodiscard]] absl::StatusOr<analytics::Event> ToStoreEvent(const EventView& event,
                                                            const wal::Lsn& position);
[[nodiscard]] absl::StatusOr<analytics::Event> ToStoreEvent(const Event& event,
                                                            const wal::Lsn& position);

}  // namespace cohort::ingest::sinks
