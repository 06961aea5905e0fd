// The Amplitude HTTP V2 endpoints of cohort-ingest (POST /2/httpapi and /batch): a request is
// parsed and validated (amplitude/request_parser.h), its API key checked against the mounted key
// table (a key must grant the amplitude source), its actors charged against the per-device and
// per-user rate limits, its insert ids checked against the dedup window, and its new events
// encoded and written to the WAL; the 200 goes out only once they are durable. Any other answer
// stores nothing (the SDK resends):
//   400 invalid body / fields / API key (the parser's bodies), 413 too many events,
//   429 throttled actors (Amplitude's body: throttled_devices, throttled_users, throttled_events),
//   503 "not stored" when the WAL refuses (disk cap) or the write queue is full, 500 on a WAL
//   error (the events may or may not be stored; insert ids make the retry harmless).
// Duplicates within the window are answered 200 and counted as ingested, as Amplitude does, but
// not written again.
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
#include "ingest/amplitude/request_parser.h"
#include "ingest/http/client_address.h"
#include "ingest/http/http_server.h"
#include "ingest/server/event_intake.h"

namespace cohort::ingest {

struct AmplitudeEndpointOptions {
  // The current key table (it may be swapped when the mounted Secret changes). Never null.
  std::function<std::shared_ptr<const config::ApiKeySet>()> keys;
  amplitude::ParserOptions parser;
  std::vector<http::Cidr> trusted_proxies;  // whose X-Forwarded-For is believed
  bool truncate_ip = false;                 // keep /24 (IPv4) or /48 (IPv6) of "$remote"
  // Mapping, limits, dedup and the log (event_intake.h).
  EventIntake* intake = nullptr;
  IngestMetrics* metrics = nullptr;  // null: requests refused here are not counted
  Clock* clock = &RealClock::Get();
};

class AmplitudeEndpoint {
 public:
  explicit AmplitudeEndpoint(AmplitudeEndpointOptions options);
  AmplitudeEndpoint(const AmplitudeEndpoint&) = delete;
  AmplitudeEndpoint& operator=(const AmplitudeEndpoint&) = delete;

  // The route for `endpoint` ("/2/httpapi" or "/batch"), with CORS for browser SDKs and
  // Amplitude-shaped error bodies for the server's own rejections (413, 408, 503, ...).
  http::Route MakeRoute(amplitude::Endpoint endpoint, int64_t max_request_bytes);

  void Handle(amplitude::Endpoint endpoint, http::Request request, http::Responder responder);

 private:
  void CountRejected(std::string_view reason);
  std::unique_ptr<amplitude::RequestParser> TakeParser() ABSL_LOCKS_EXCLUDED(mu_);
  void ReturnParser(std::unique_ptr<amplitude::RequestParser> parser) ABSL_LOCKS_EXCLUDED(mu_);

  const AmplitudeEndpointOptions options_;
  absl::Mutex mu_;
  // Parsers keep their buffers between requests; one per concurrent request at most.
  std::vector<std::unique_ptr<amplitude::RequestParser>> parsers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::ingest
