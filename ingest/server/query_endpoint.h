// The query API of cohort-ingest, POST /v1/query on the query listener (its own port): a query
// document (analytics/model/query_json.h) in, a result (result_json.h) out, answered by the
// embedded store's engine. Read credentials are separate from the ingest keys: the mounted
// query-keys file maps each key to the projects it may read.
//
// Queries run on a small pool of their own threads (`threads`, default 1) with a bounded queue, so
// they take a bounded share of the CPU and ingest keeps its rate; a full queue answers 503.
//
// Answers (JSON, a `code` in every body):
//   200 {"code":200,"dataVersion":V,"result":{"type":...}} — V changes whenever the data does
//   400 {"code":400,"error":...,"field":"steps[2].eventType"} — the query is invalid
//   401 {"code":401,"error":...,"field":"Authorization"} — missing or unknown read key
//   403 {"code":403,"error":...,"field":"project"} — the key may not read that project
//   503 {"code":503,"error":...} — the query queue is full; retry later
//
// Thread-safe. Everything referenced in the options must outlive the endpoint; the destructor
// waits for running queries and answers queued ones 503.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "analytics/store/embedded_engine.h"
#include "common/clock.h"
#include "config/secret_files.h"
#include "ingest/http/http_server.h"

namespace cohort::ingest {

struct QueryEndpointOptions {
  // The current read keys (swapped when the mounted Secret changes). Never null.
  std::function<std::shared_ptr<const config::QueryKeySet>()> keys;
  analytics::store::EmbeddedEngine* engine = nullptr;
  Clock* clock = &RealClock::Get();
  int threads = 1;
  size_t max_queued = 64;
};

class QueryEndpoint {
 public:
  explicit QueryEndpoint(QueryEndpointOptions options);
  ~QueryEndpoint();
  QueryEndpoint(const QueryEndpoint&) = delete;
  QueryEndpoint& operator=(const QueryEndpoint&) = delete;

  http::Route MakeRoute();
  void Handle(http::Request request, http::Responder responder);

 private:
  struct Job {
    http::Request request;
    http::Responder responder;
  };
  void Work();
  http::Response Answer(const http::Request& request);

  const QueryEndpointOptions options_;
  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace cohort::ingest
