// Parses and validates the body of an Amplitude HTTP V2 request (POST /2/httpapi or /batch) into
// Events, with the semantics of shared/reference/amplitude-api.md. The HTTP layer has already
// checked the method, path and byte limit and decompressed the body; the caller checks the API key
// (it has the key table) and sets Event::project.
//
// All or nothing: every event is validated before any is returned, and a request with any invalid
// event is rejected as a whole (no events), so a non-2xx answer stores nothing.
//
// Decisions where Amplitude's docs are loose (tested in request_parser_test.cc):
//  - Order of checks: empty body (400 "Missing request body"); JSON that does not parse or is
//    not valid UTF-8, a top-level value that is not an object, an integer beyond 64 bits, or a
//    bad `options` (400 "Invalid JSON request body"); api_key missing or not a string, then events
//    missing, null or empty (400 missing_field); events not an array or an element not an object
//    (400 "Invalid event JSON"); too many events (413); then per-event checks (400 with the index
//    maps of response.h).
//  - Duplicate keys: the last one wins, at the top level and in events. Inside property objects
//    they are kept, in order, as sent (readers of the JSON text then decide; nlohmann: last wins).
//  - null for any optional field means absent. Unknown keys are ignored (top level and events).
//  - String fields (ids, event_type, ip and the Attribute fields) take a string, or a number or
//    boolean written as its JSON text (Amplitude coerces a numeric user_id the same way); an
//    object or array is an invalid field.
//  - user_id and device_id: at least one present (else both are listed as missing fields); a
//    present id that is forbidden (validation.h) is an invalid field; one shorter than
//    min_id_length code points is listed in events_with_invalid_id_lengths. An empty event_type
//    counts as missing.
//  - time: missing -> the upload time; an integer (a JSON number without fraction or exponent that
//    fits int64) no more than 1 hour after the upload time, else an invalid field (strings and
//    1.7e12 included).
//  - session_id, event_id, quantity: int64 integers; price, revenue, location_lat, location_lng:
//    any JSON number; anything else is an invalid field.
//  - event_properties, user_properties, groups, group_properties, plan, ingestion_metadata: JSON
//    objects, re-serialized compactly (numbers as their shortest round-trip text); nested deeper
//    than kMaxPropertyDepth is an invalid field.
//  - Every string (ids, values, property keys and values) longer than kMaxStringCodePoints is
//    truncated to that many code points.
//  - ip "$remote" becomes RequestContext::client_ip (empty: unknown).
//  - insert_id is kept as sent; absent stays empty (dedup then treats the event as unique).
//  - options.min_id_length: an integer >= 0 overrides ParserOptions::default_min_id_length.
//  - payload_size_bytes is the size of the (decompressed) body.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "config/ingest_config.h"
#include "ingest/amplitude/response.h"
#include "ingest/event/event.h"

namespace cohort::ingest::amplitude {

enum class Endpoint { kHttpApi, kBatch };  // POST /2/httpapi, POST /batch

// Amplitude's own per-request event limits.
inline constexpr int64_t kMaxEventsHttpApi = 2000;
inline constexpr int64_t kMaxEventsBatch = 2000;
int64_t DefaultMaxEvents(Endpoint endpoint);

struct ParserOptions {
  // Used unless the request's options.min_id_length says otherwise (config::Identity).
  int64_t default_min_id_length = config::Identity{}.min_id_length;
  // Events per request (config::Limits::max_events_per_request); unset: DefaultMaxEvents.
  std::optional<int64_t> max_events_per_request;
};

// What the server knows about the request besides its body.
struct RequestContext {
  Endpoint endpoint = Endpoint::kHttpApi;
  absl::Time upload_time;      // when the request arrived (the server's Clock)
  std::string_view client_ip;  // replaces ip "$remote"; resolved by the HTTP layer
};

struct ParsedRequest {
  // The api_key as sent (empty when missing: then `rejection` is a missing_field 400). Returned
  // even when the request is rejected for another reason, so the caller may answer
  // InvalidApiKeyResponse() first.
  std::string api_key;
  // The events, in request order, with source kAmplitude, server_received_time_ms = upload time
  // and project empty. Empty when rejected.
  std::vector<Event> events;
  // Set: answer this and store nothing. Unset: answer SuccessResponse(events.size(),
  // payload_size_bytes, server_upload_time_ms) once the events are durable.
  std::optional<Response> rejection;
  int64_t payload_size_bytes = 0;
  int64_t server_upload_time_ms = 0;
};

// Reuses its parsing buffers between requests: keep one per thread. Thread-compatible (one thread
// at a time). Never throws; untrusted bodies never crash it.
class RequestParser {
 public:
  explicit RequestParser(ParserOptions options = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // `body` is copied into a padded buffer owned by the parser (simdjson needs padding).
  ParsedRequest Parse(std::string_view body, const RequestContext& context);

 private:
  struct Impl;
  ParserOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::ingest::amplitude
