#include "ingest/server/query_endpoint.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "analytics/model/query_json.h"
#include "analytics/model/result_json.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cohort::ingest {
namespace {

using json = nlohmann::json;

http::Response Error(int status, std::string error, std::string field = "") {
  json body = {{"code", status}, {"error", std::move(error)}};
  if (!field.empty()) body["field"] = std::move(field);
  return http::JsonResponse(status, body.dump());
}

// An error of the store as an answer. The store names the field before a colon ("cell: ...").
http::Response StoreError(const absl::Status& status) {
  std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument: {
      std::string field;
      for (const char* known : {"cell", "limit", "time_zone", "formulas"}) {
        if (absl::StartsWith(message, absl::StrCat(known, ":"))) field = known;
      }
      return Error(400, std::move(message), std::move(field));
    }
    case absl::StatusCode::kUnimplemented:
      return Error(501, std::move(message));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return Error(503, std::move(message));
    default:
      return Error(500, std::move(message));
  }
}

const analytics::QueryScope& ScopeOf(const analytics::Query& query) {
  return std::visit([](const auto& q) -> const analytics::QueryScope& { return q.scope; }, query);
}

}  // namespace

QueryEndpoint::QueryEndpoint(QueryEndpointOptions options) : options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) workers_.emplace_back([this] { Work(); });
}

QueryEndpoint::~QueryEndpoint() {
  std::deque<Job> left;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    left.swap(queue_);
  }
  for (Job& job : left) job.responder.Respond(Error(503, "the query service is shutting down"));
  for (std::thread& t : workers_) t.join();
}

std::vector<http::Route> QueryEndpoint::MakeRoutes() {
  std::vector<http::Route> routes;
  for (const char* name : {"query", "actors"}) {
    http::Route route;
    route.name = name;
    route.method = "POST";
    route.path = absl::StrCat("/v1/", name);
    route.max_request_bytes = 1 << 20;
    route.handler = [this](http::Request request, http::Responder responder) {
      Handle(std::move(request), std::move(responder));
    };
    routes.push_back(std::move(route));
  }
  return routes;
}

void QueryEndpoint::Handle(http::Request request, http::Responder responder) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= options_.max_queued) {
    responder.Respond(Error(503, "too many queries in progress; retry later"));
    return;
  }
  queue_.push_back(Job{std::move(request), std::move(responder)});
}

void QueryEndpoint::Work() {
  if (options_.nice != 0) {
    // On Linux a thread's nice value is its own (setpriority on its tid).
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice) != 0) {
      spdlog::warn("query worker: cannot lower its priority (nice {}): errno {}", options_.nice,
                   errno);
    }
  }
  while (true) {
    std::optional<Job> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](QueryEndpoint* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping
      job.emplace(std::move(queue_.front()));
      queue_.pop_front();
    }
    job->responder.Respond(Answer(job->request));
  }
}

http::Response QueryEndpoint::Answer(const http::Request& request) {
  std::optional<std::string_view> key = http::PresentedApiKey(request);
  if (!key) {
    return Error(401, "missing read key: send \"Authorization: Bearer <key>\"", "Authorization");
  }
  std::shared_ptr<const config::QueryKeySet> keys = options_.keys();
  const config::QueryKeyGrant* grant = keys->Find(*key);
  if (grant == nullptr) return Error(401, "invalid read key", "Authorization");
  if (request.path == "/v1/actors") return AnswerActors(request, *grant);
  const int64_t now_ms = absl::ToUnixSeconds(options_.clock->Now()) * 1000;
  absl::StatusOr<analytics::Query> query = analytics::ParseQueryJson(request.body, now_ms);
  if (!query.ok()) {
    return Error(400, std::string(query.status().message()),
                 analytics::QueryErrorField(query.status()));
  }
  const std::string& project = ScopeOf(*query).project;
  if (!grant->Allows(project)) {
    return Error(403, absl::StrCat("this read key may not read project \"", project, "\""),
                 "project");
  }
  // The parsed document (keys sorted, numbers normalized) plus the one input a document may
  // leave to the clock.
  std::string cache_key;
  absl::StatusOr<uint64_t> version = options_.store->DataVersion(project);
  json document;
  if (options_.cache != nullptr && version.ok()) {
    document = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  }
  if (!document.is_null() && !document.is_discarded()) {
    cache_key = document.dump();
    if (const auto* retention = std::get_if<analytics::RetentionQuery>(&*query)) {
      absl::StrAppend(&cache_key, "|asOf=", retention->as_of_ms);
    }
    if (std::optional<std::string> hit = options_.cache->Lookup(cache_key, *version)) {
      return http::JsonResponse(200, *std::move(hit));
    }
  }
  absl::StatusOr<analytics::EngineAnswer> answer = options_.store->Run(*query);
  if (!answer.ok()) return StoreError(answer.status());
  json body = {{"code", 200},
               {"dataVersion", answer->data_version},
               {"cached", false},
               {"result", analytics::ResultToJson(answer->result)}};
  std::string text = body.dump();
  // Only an answer computed from the version looked up may be cached under it (the data may have
  // moved on while the query ran; then the next lookup misses, as it should).
  if (!cache_key.empty() && answer->data_version == *version) {
    body["cached"] = true;
    options_.cache->Insert(cache_key, *version, body.dump());
  }
  return http::JsonResponse(200, std::move(text));
}

http::Response QueryEndpoint::AnswerActors(const http::Request& request,
                                           const config::QueryKeyGrant& grant) {
  json document = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return Error(400, "the body is not a JSON object");
  }
  for (const auto& [key, value] : document.items()) {
    if (key != "query" && key != "cell" && key != "after" && key != "limit") {
      return Error(400, absl::StrCat(key, ": is not a known field"), key);
    }
  }
  if (!document.contains("query") || !document["query"].is_object()) {
    return Error(400, "query: must be a query document (see POST /v1/query)", "query");
  }
  const json& cell = document.contains("cell") ? document["cell"] : json();
  if (!cell.is_object() || !cell.contains("column") || !cell["column"].is_number_integer() ||
      (cell.contains("row") && !cell["row"].is_number_integer()) || cell.size() > 2 ||
      (cell.size() == 2 && !cell.contains("row"))) {
    return Error(400, "cell: must be {\"row\": integer, \"column\": integer} (row defaults to -1)",
                 "cell");
  }
  analytics::CellRef ref;
  ref.row = cell.value("row", -1);
  ref.column = cell["column"].get<int>();
  std::string after;
  if (document.contains("after")) {
    if (!document["after"].is_string()) return Error(400, "after: must be a string", "after");
    after = document["after"].get<std::string>();
  }
  int limit = 100;
  if (document.contains("limit")) {
    const json& l = document["limit"];
    if (!l.is_number_integer() || l.get<int64_t>() < 1 || l.get<int64_t>() > 10000) {
      return Error(400, "limit: must be an integer from 1 to 10000", "limit");
    }
    limit = l.get<int>();
  }
  const int64_t now_ms = absl::ToUnixSeconds(options_.clock->Now()) * 1000;
  absl::StatusOr<analytics::Query> query =
      analytics::ParseQueryJson(document["query"].dump(), now_ms);
  if (!query.ok()) {
    std::string field = analytics::QueryErrorField(query.status());
    return Error(400, absl::StrCat("query.", query.status().message()),
                 field.empty() ? "query" : absl::StrCat("query.", field));
  }
  const std::string& project = ScopeOf(*query).project;
  if (!grant.Allows(project)) {
    return Error(403, absl::StrCat("this read key may not read project \"", project, "\""),
                 "query.project");
  }
  absl::StatusOr<analytics::ActorsPage> page = options_.store->Actors(*query, ref, after, limit);
  if (!page.ok()) return StoreError(page.status());
  json body = {{"code", 200}, {"actors", page->actors}, {"more", page->more}};
  if (page->more) body["next"] = page->actors.back();
  return http::JsonResponse(200, body.dump());
}

}  // namespace cohort::ingest
