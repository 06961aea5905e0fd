// The query API of cohort-ingest, POST /v1/query on the query listener (its own port): a query
// document (analytics/model/query_json.h) in, a result (result_json.h) out, answered by the
// pipeline's event store (either backend). Read credentials are separate from the ingest keys:
// the mounted query-keys file maps each key to the projects it may read.
//
// Queries run on a small pool of their own threads (`threads`, default 1) at a lower priority
// with a bounded queue, so they take a bounded share of the CPU and ingest keeps its rate; a full
// queue answers 503. Results are cached by (canonical query document, data version): a repeated
// query is answered from the cache until the project's data changes. Retention's default `asOf`
// is the current time truncated to the second, so that repeats within a second share an entry.
//
// Answers (JSON, a `code` in every body):
//   200 {"code":200,"dataVersion":V,"cached":B,"result":{"type":...}} — V changes whenever the
//       data does
//   400 {"code":400,"error":...,"field":"steps[2].eventType"} — the query is invalid
//   401 {"code":401,"error":...,"field":"Authorization"} — missing or unknown read key
//   403 {"code":403,"error":...,"field":"project"} — the key may not read that project
//   501 {"code":501,"error":...} — the store's backend cannot answer this kind of query
//   503 {"code":503,"error":...} — the query queue is full, or the store is unreachable
//
// Drill-down, POST /v1/actors: {"query": <a query document>, "cell": {"row": R, "column": C},
// "after": "<actor id>", "limit": N (1..10000, default 100)} → 200 {"code":200,"actors":[...],
// "more":B,"next":"<id>"} — the actors behind one number (analytics/model/query.h, CellRef),
// sorted by id; pass `next` as `after` for the following page. Errors as above, fields prefixed
// "query." for the query document's.
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
#include "analytics/engine/event_store.h"
#include "analytics/engine/result_cache.h"
#include "common/clock.h"
#include "config/secret_files.h"
#include "ingest/http/http_server.h"

namespace cohort::ingest {

struct QueryEndpointOptions {
  // The current read keys (swapped when the mounted Secret changes). Never null.
  std::function<std::shared_ptr<const config::QueryKeySet>()> keys;
  analytics::EventStore* store = nullptr;   // required; must outlive the endpoint
  analytics::ResultCache* cache = nullptr;  // optional; must outlive the endpoint
  Clock* clock = &RealClock::Get();
  // Queries get a bounded share of the CPU so that ingest keeps its rate: at most `threads`
  // run at once, each at this nice value (Linux: per thread; 0 leaves the priority alone).
  int threads = 1;
  int nice = 10;
  size_t max_queued = 64;
};

class QueryEndpoint {
 public:
  explicit QueryEndpoint(QueryEndpointOptions options);
  ~QueryEndpoint();
  QueryEndpoint(const QueryEndpoint&) = delete;
  QueryEndpoint& operator=(const QueryEndpoint&) = delete;

  // POST /v1/query and POST /v1/actors.
  std::vector<http::Route> MakeRoutes();
  void Handle(http::Request request, http::Responder responder);

 private:
  struct Job {
    http::Request request;
    http::Responder responder;
  };
  void Work();
  http::Response Answer(const http::Request& request);
  http::Response AnswerActors(const http::Request& request, const config::QueryKeyGrant& grant);

  const QueryEndpointOptions options_;
  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace cohort::ingest
