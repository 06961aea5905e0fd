#include "ingest/server/query_endpoint.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "analytics/model/query_json.h"
#include "analytics/model/result_json.h"
#include "nlohmann/json.hpp"

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
  absl::StatusOr<analytics::Query> query =
      analytics::ParseQueryJson(request.body, absl::ToUnixMillis(options_.clock->Now()));
  if (!query.ok()) {
    return Error(400, std::string(query.status().message()),
                 analytics::QueryErrorField(query.status()));
  }
  const std::string& project = ScopeOf(*query).project;
  if (!grant->Allows(project)) {
    return Error(403, absl::StrCat("this read key may not read project \"", project, "\""),
                 "project");
  }
  absl::StatusOr<analytics::store::EngineAnswer> answer = options_.engine->Run(*query);
  if (!answer.ok()) {
    if (answer.status().code() == absl::StatusCode::kInvalidArgument) {
      return Error(400, std::string(answer.status().message()));
    }
    return Error(500, std::string(answer.status().message()));
  }
  json body = {{"code", 200},
               {"dataVersion", answer->data_version},
               {"result", analytics::ResultToJson(answer->result)}};
  return http::JsonResponse(200, body.dump());
}

}  // namespace cohort::ingest
