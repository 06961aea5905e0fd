// Parses and validates the body of a native `POST /v1/events` request into Events. The HTTP layer
// has already checked the method, path and byte limit and decompressed the body; the endpoint
// checks the API key and sets Event::project.
//
// The envelope (one event):
//   {"eventId": "...", "eventType": "...", "timestamp": "2026-11-26T14:00:00.123Z",
//    "source": "billing-service", "payload": {...}}
// A body is one envelope (an object without an "events" member), a JSON array of envelopes, or
// {"events": [envelope, ...]} (an object with "events"; its other members are ignored).
//
// Fields:
//   eventId    string, required, 1..1024 bytes → Event::insert_id (the dedup key).
//   eventType  string, required, 1..1024 bytes → Event::event_type.
//   timestamp  string, required, RFC 3339 with an offset ("Z" or ±hh:mm), fractions kept to the
//              millisecond → Event::time_ms; at or after 1970-01-01 and at most 1 hour after the
//              server received the request.
//   source     string, optional, ≤ 1024 bytes: the producer's name → ingestion_metadata
//              {"source_name": source} (Amplitude's field for it).
//   payload    object, optional (null = absent) → event_properties, re-serialized compactly
//              (strings and keys over 1024 code points truncated, nesting ≤ 40 levels as the
//              Amplitude parser). Rules address it as `payload.x` or `event_properties.x`.
// Unknown members are ignored (forward compatibility), duplicate members: the last wins.
// Identity: user_id and device_id are left empty; the pipeline's mapping rules take them from the
// payload (Copy payload.user.id → user_id). The parser does not require them (rules run later, in
// EventIntake); see native_endpoint.h for what happens to events without identity.
//
// All or nothing: the first problem rejects the request (no events) with a 400 (or 413 for too many
// events) whose JSON body names it:
//   {"code":400,"error":"timestamp is not RFC 3339","field":"events[3].timestamp"}
// Field names: "events[i].<member>" for both batch forms, "<member>" for a single envelope, "" for
// the body as a whole.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "ingest/event/event.h"

namespace cohort::ingest::native {

inline constexpr int64_t kDefaultMaxEvents = 2000;
inline constexpr size_t kMaxIdBytes = 1024;

struct ParserOptions {
  int64_t max_events_per_request = kDefaultMaxEvents;  // config::Limits::max_events_per_request
};

struct Rejection {
  int status = 400;          // 400 or 413
  std::string error;         // what is wrong, for people
  std::string field;         // where: "events[3].timestamp", "eventId", "" (the body)
  std::string Body() const;  // {"code":400,"error":"...","field":"..."}
};

struct ParsedRequest {
  // In request order: source kNative, server_received_time_ms set, project and identity empty.
  // Empty when rejected.
  std::vector<Event> events;
  std::optional<Rejection> rejection;  // set: answer it and store nothing
  // The body was one envelope (fields are named "<member>", not "events[i].<member>").
  bool single_envelope = false;
};

// Keeps its parsing buffers between requests: one per thread at a time (thread-compatible).
// Never throws; untrusted bodies never crash it.
// RFC 3339 date-time, "2026-11-26T14:00:00.123+01:00" ('t' and 'z' accepted; an offset required;
// no leap second): milliseconds since the Unix epoch, the fraction truncated. nullopt otherwise.
std::optional<int64_t> ParseRfc3339Ms(std::string_view text);

class RequestParser {
 public:
  explicit RequestParser(ParserOptions options = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  ParsedRequest Parse(std::string_view body, absl::Time received);

 private:
  struct Impl;
  ParserOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::ingest::native
