#include "ingest/server/query_endpoint.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <optional>
#include <utility>

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

http::Route QueryEndpoint::MakeRoute() {
  http::Route route;
  route.name = "query";
  route.method = "POST";
  route.path = "/v1/query";
  route.max_request_bytes = 1 << 20;
  route.handler = [this](http::Request request, http::Responder responder) {
    Handle(std::move(request), std::move(responder));
  };
  return route;
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
  if (!answer.ok()) {
    switch (answer.status().code()) {
      case absl::StatusCode::kInvalidArgument:
        return Error(400, std::string(answer.status().message()));
      case absl::StatusCode::kUnimplemented:
        return Error(501, std::string(answer.status().message()));
      case absl::StatusCode::kUnavailable:
      case absl::StatusCode::kDeadlineExceeded:
        return Error(503, std::string(answer.status().message()));
      default:
        return Error(500, std::string(answer.status().message()));
    }
  }
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

}  // namespace cohort::ingest
