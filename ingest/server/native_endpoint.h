// The native envelope endpoint of cohort-ingest, POST /v1/events (native/request_parser.h has the
// body format). A request's API key is checked first, against the mounted key table (the key
// must grant the native source; ApiKeySet looks keys up by digest, so timing tells nothing about a
// near miss), then its body is parsed and validated, its events get the key's project and go
// through EventIntake (mapping rules → rate limits → dedup → WAL). The 200 goes out only once the
// new events are durable; any other answer stores nothing (the client resends).
//
// The key: `Authorization: Bearer <key>`, or `X-Api-Key: <key>` for clients that cannot set
// Authorization (Bearer wins when both are sent).
//
// Answers (JSON, a `code` in every body):
//   200 {"code":200,"accepted":N,"duplicates":D,"dropped":R} — N events in the request, D of them
//       already in the dedup window, R dropped by mapping rules (all acknowledged).
//   400 {"code":400,"error":...,"field":"events[3].timestamp"} — request_parser.h; or
//       "events[i].payload" (or "payload") when the rules leave an event without identity.
//   401 {"code":401,"error":...,"field":"Authorization"} — missing key, unknown key, or a key that
//       does not grant the native source (one answer for all three).
//   413 too many events ({"field":"events"}) or a body over the route's limit (the HTTP layer).
//   429 {"code":429,"error":...,"throttled_devices":{id:eps},"throttled_users":{id:eps},
//       "throttled_events":[indexes]} — nothing stored; retry later.
//   503 nothing stored: the WAL refuses (disk cap) or the write queue is full; retry later.
//   500 a WAL error: the events may or may not be stored; the retry is deduplicated by eventId.
//
// Identity: the parser leaves user_id and device_id empty; the pipeline's mapping rules (run
// inside EventIntake) take them from the payload. A request with an event that still has neither
// after mapping is refused whole (400 naming "events[i].payload", nothing stored; EventIntake's
// require_identity): such an event would count toward no number and no rate limit, and Amplitude
// refuses it.
//
// Thread-safe: Handle runs on any number of I/O threads at once. Everything referenced in the
// options must outlive the endpoint.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "config/secret_files.h"
#include "ingest/http/http_server.h"
#include "ingest/native/request_parser.h"
#include "ingest/server/event_intake.h"

namespace cohort::ingest {

struct NativeEndpointOptions {
  // The current key table (it may be swapped when the mounted Secret changes). Never null.
  std::function<std::shared_ptr<const config::ApiKeySet>()> keys;
  native::ParserOptions parser;  // max_events_per_request from config::Limits
  // Mapping, limits, dedup and the log (event_intake.h).
  EventIntake* intake = nullptr;
  IngestMetrics* metrics = nullptr;  // null: requests refused here are not counted
  Clock* clock = &RealClock::Get();
};

class NativeEndpoint {
 public:
  explicit NativeEndpoint(NativeEndpointOptions options);
  NativeEndpoint(const NativeEndpoint&) = delete;
  NativeEndpoint& operator=(const NativeEndpoint&) = delete;

  // POST /v1/events with the server's own rejections (413, 408, 503, ...) as
  // {"code":N,"error":...,"field":""}. No CORS: browsers use the Amplitude API.
  http::Route MakeRoute(int64_t max_request_bytes);

  void Handle(http::Request request, http::Responder responder);

 private:
  void CountRejected(std::string_view reason);
  std::unique_ptr<native::RequestParser> TakeParser() ABSL_LOCKS_EXCLUDED(mu_);
  void ReturnParser(std::unique_ptr<native::RequestParser> parser) ABSL_LOCKS_EXCLUDED(mu_);

  const NativeEndpointOptions options_;
  absl::Mutex mu_;
  // Parsers keep their buffers between requests; one per concurrent request at most.
  std::vector<std::unique_ptr<native::RequestParser>> parsers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::ingest
