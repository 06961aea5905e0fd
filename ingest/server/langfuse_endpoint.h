// The Langfuse-compatible API Dify traces into, under config::DifySource::path_prefix:
//   GET  {prefix}/api/public/health     {"status":"OK","version":...}; no auth (as Langfuse)
//   GET  {prefix}/api/public/projects   {"data":[{"id":"dify","name":...,"organization":{...},
//                                       "metadata":{}}]}; Dify's "save" check
//   POST {prefix}/api/public/ingestion  the batch (langfuse/ingestion_request.h)
// Projects and ingestion need HTTP Basic auth with the pipeline's Dify key pair (public key :
// secret key, compared in constant time by config::DifyKeyPair); otherwise 401 with a JSON body.
//
// Ingestion: the batch is parsed, invalid items become per-item errors (status 400, message
// naming the field), valid items are merged by the TraceAssembler, and the events of entities
// that completed go through the EventIntake (mapping → rate limits → dedup → WAL). The 207
// {"successes":[{id,201}],"errors":[...]} is sent only once those events are durable (kStored);
// then the assembler marks them emitted. Because the intake is all or nothing, so is the answer
// when it refuses: 429 (throttled; Retry-After: 1 — the Langfuse SDKs retry the whole request on
// 429 and 5xx, while per-item errors in a 207 are never retried), 503 (kUnavailable: disk cap or
// write queue full), 500 (kFailed: may or may not be stored; the retry dedups). A body that is
// not a batch at all is a whole-request 400; over the route's max_request_bytes a 413.
//
// Metrics (on the registry given): cohort_ingest_langfuse_items_total{type,outcome,reason} —
// outcome "accepted" with reason event|pending|merged|system|no_event, or "rejected" with reason
// invalid|throttled|unavailable|failed; cohort_ingest_langfuse_requests_rejected_total{reason}
// (unauthorized|invalid_body); cohort_ingest_langfuse_pending_entities (assembler state size).
//
// Thread-safe: handlers run on any number of I/O threads. Everything referenced in the options
// must outlive the endpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "config/secret_files.h"
#include "ingest/http/http_server.h"
#include "ingest/langfuse/ingestion_request.h"
#include "ingest/langfuse/trace_assembler.h"
#include "ingest/server/event_intake.h"

namespace cohort::ingest {

struct LangfuseEndpointOptions {
  std::string path_prefix = config::DifySource{}.path_prefix;  // validated by the config
  // The current key pair (swapped when the mounted Secret changes). Null: every request that
  // needs auth is refused (401).
  std::function<std::shared_ptr<const config::DifyKeyPair>()> keys;
  langfuse::ParseLimits limits;
  langfuse::AssemblerOptions assembler;      // its clock is the endpoint's clock
  std::string project_name = "Dify traces";  // what /projects names the project
  std::string version = "cohort-ingest";     // what /health reports as the version
  EventIntake* intake = nullptr;
  Clock* clock = &RealClock::Get();
};

class LangfuseEndpoint {
 public:
  LangfuseEndpoint(LangfuseEndpointOptions options, Registry& registry);
  LangfuseEndpoint(const LangfuseEndpoint&) = delete;
  LangfuseEndpoint& operator=(const LangfuseEndpoint&) = delete;

  // The three routes; ingestion bodies are limited to `max_request_bytes` (Langfuse: 3.5 MB).
  std::vector<http::Route> MakeRoutes(int64_t max_request_bytes);

  void HandleIngestion(http::Request request, http::Responder responder);
  void HandleProjects(const http::Request& request, http::Responder responder);
  void HandleHealth(http::Responder responder);

  const langfuse::TraceAssembler& assembler() const { return assembler_; }

 private:
  bool Authorized(const http::Request& request) const;
  void CountItems(const std::vector<langfuse::Item>& items, std::string_view outcome,
                  const std::vector<std::string_view>& reasons);

  const LangfuseEndpointOptions options_;
  langfuse::TraceAssembler assembler_;
  CounterFamily& items_;
  CounterFamily& requests_rejected_;
  Gauge& pending_entities_;
};

// The default body limit of the ingestion route: Langfuse's 3.5 MB.
inline constexpr int64_t kLangfuseMaxRequestBytes = 3500000;

}  // namespace cohort::ingest
