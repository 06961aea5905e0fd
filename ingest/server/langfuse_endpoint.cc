// Auth → parse → merge → intake → 207 (langfuse_endpoint.h).
#include "ingest/server/langfuse_endpoint.h"

#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "ingest/event/json_text.h"
#include "ingest/langfuse/ingestion_response.h"

namespace cohort::ingest {
namespace {

http::Response Error(int status, std::string_view message) {
  http::Response r = http::JsonResponse(status, langfuse::ErrorBody(status, message));
  if (status == 401) r.headers.push_back({"WWW-Authenticate", "Basic realm=\"langfuse\""});
  if (status == 429) r.headers.push_back({"Retry-After", "1"});
  return r;
}

// "Basic base64(user:password)" → (user, password).
std::optional<std::pair<std::string, std::string>> BasicCredentials(const http::Request& request) {
  std::optional<std::string_view> header = request.FindHeader("Authorization");
  if (!header.has_value()) return std::nullopt;
  const std::string value(*header);
  const absl::string_view trimmed = absl::StripAsciiWhitespace(value);
  constexpr absl::string_view kScheme = "basic ";
  if (trimmed.size() <= kScheme.size() || !absl::StartsWithIgnoreCase(trimmed, kScheme)) {
    return std::nullopt;
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(trimmed.substr(kScheme.size())), &decoded)) {
    return std::nullopt;
  }
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

langfuse::AssemblerOptions WithClock(langfuse::AssemblerOptions options, Clock* clock) {
  options.clock = clock;
  return options;
}

// A request between its hand-over to the intake and its answer.
struct Pending {
  std::vector<std::string> success_ids;
  std::vector<langfuse::ItemError> errors;
  std::vector<langfuse::Item> items;
  std::vector<std::string> entity_keys;
  std::vector<std::string_view> reasons;  // per item: its disposition
  std::optional<http::Responder> responder;
};

}  // namespace

LangfuseEndpoint::LangfuseEndpoint(LangfuseEndpointOptions options, Registry& registry)
    : options_(std::move(options)),
      assembler_(WithClock(options_.assembler, options_.clock)),
      items_(registry.AddCounterFamily(
          "cohort_ingest_langfuse_items_total",
          "Langfuse ingestion items by type, outcome (accepted, rejected) and reason",
          {"type", "outcome", "reason"})),
      requests_rejected_(registry.AddCounterFamily(
          "cohort_ingest_langfuse_requests_rejected_total",
          "Langfuse requests refused whole before their items were read, by reason", {"reason"})),
      pending_entities_(
          registry.AddGauge("cohort_ingest_langfuse_pending_entities",
                            "Langfuse traces and observations held for merging (this replica)")) {}

std::vector<http::Route> LangfuseEndpoint::MakeRoutes(int64_t max_request_bytes) {
  const std::string base = options_.path_prefix + "/api/public";
  auto formatter = [](int status, std::string_view message) { return Error(status, message); };
  std::vector<http::Route> routes(3);
  routes[0].name = "langfuse_ingestion";
  routes[0].method = "POST";
  routes[0].path = base + "/ingestion";
  routes[0].max_request_bytes = max_request_bytes;
  routes[0].handler = [this](http::Request request, http::Responder responder) {
    HandleIngestion(std::move(request), std::move(responder));
  };
  routes[1].name = "langfuse_projects";
  routes[1].method = "GET";
  routes[1].path = base + "/projects";
  routes[1].handler = [this](http::Request request, http::Responder responder) {
    HandleProjects(request, std::move(responder));
  };
  routes[2].name = "langfuse_health";
  routes[2].method = "GET";
  routes[2].path = base + "/health";
  routes[2].handler = [this](http::Request, http::Responder responder) {
    HandleHealth(std::move(responder));
  };
  for (http::Route& r : routes) r.error_formatter = formatter;
  return routes;
}

bool LangfuseEndpoint::Authorized(const http::Request& request) const {
  std::optional<std::pair<std::string, std::string>> credentials = BasicCredentials(request);
  if (!credentials.has_value()) return false;
  const std::shared_ptr<const config::DifyKeyPair> keys = options_.keys ? options_.keys() : nullptr;
  return keys != nullptr && keys->Matches(credentials->first, credentials->second);
}

void LangfuseEndpoint::HandleHealth(http::Responder responder) {
  std::string body = "{\"status\":\"OK\",\"version\":";
  AppendJsonString(options_.version, &body);
  body += "}";
  responder.Respond(http::JsonResponse(200, std::move(body)));
}

void LangfuseEndpoint::HandleProjects(const http::Request& request, http::Responder responder) {
  if (!Authorized(request)) {
    requests_rejected_.WithLabels({"unauthorized"}).Inc();
    responder.Respond(Error(401, "Invalid credentials"));
    return;
  }
  std::string body = "{\"data\":[{\"id\":";
  AppendJsonString(config::kDifyProject, &body);
  body += ",\"name\":";
  AppendJsonString(options_.project_name, &body);
  // The Langfuse SDKs' Project model requires organization and metadata.
  body += ",\"organization\":{\"id\":\"cohort\",\"name\":\"cohort-ingest\"},\"metadata\":{}}]}";
  responder.Respond(http::JsonResponse(200, std::move(body)));
}

void LangfuseEndpoint::CountItems(const std::vector<langfuse::Item>& items,
                                  std::string_view outcome,
                                  const std::vector<std::string_view>& reasons) {
  for (size_t i = 0; i < items.size(); ++i) {
    items_
        .WithLabels({std::string(langfuse::ItemTypeName(items[i].type)), std::string(outcome),
                     std::string(reasons.size() == 1 ? reasons[0] : reasons[i])})
        .Inc();
  }
}

void LangfuseEndpoint::HandleIngestion(http::Request request, http::Responder responder) {
  if (!Authorized(request)) {
    requests_rejected_.WithLabels({"unauthorized"}).Inc();
    responder.Respond(Error(401, "Invalid credentials"));
    return;
  }
  const int64_t received_ms = absl::ToUnixMillis(options_.clock->Now());
  absl::StatusOr<langfuse::ParsedIngestion> parsed =
      langfuse::ParseIngestion(request.body, options_.limits);
  if (!parsed.ok()) {
    requests_rejected_.WithLabels({"invalid_body"}).Inc();
    responder.Respond(Error(400, std::string(parsed.status().message())));
    return;
  }
  for (const langfuse::ItemError& e : parsed->errors) {
    items_.WithLabels({std::string(e.type), "rejected", "invalid"}).Inc();
  }

  langfuse::Assembly assembly = assembler_.Apply(parsed->items, received_ms);
  pending_entities_.Set(static_cast<double>(assembler_.size()));

  auto pending = std::make_shared<Pending>();
  pending->errors = std::move(parsed->errors);
  pending->success_ids.reserve(parsed->items.size());
  for (const langfuse::Item& item : parsed->items) pending->success_ids.push_back(item.id);
  for (langfuse::Disposition d : assembly.dispositions) {
    pending->reasons.push_back(langfuse::DispositionName(d));
  }
  pending->items = std::move(parsed->items);
  pending->entity_keys = std::move(assembly.entity_keys);
  pending->responder = std::move(responder);

  if (assembly.events.empty()) {
    CountItems(pending->items, "accepted", pending->reasons);
    pending->responder->Respond(
        http::JsonResponse(207, langfuse::MultiStatusBody(pending->success_ids, pending->errors)));
    return;
  }
  options_.intake->Submit(std::move(assembly.events), [this, pending](IntakeOutcome outcome) {
    switch (outcome.kind) {
      case IntakeOutcome::Kind::kStored:
        assembler_.MarkEmitted(pending->entity_keys);
        CountItems(pending->items, "accepted", pending->reasons);
        pending->responder->Respond(http::JsonResponse(
            207, langfuse::MultiStatusBody(pending->success_ids, pending->errors)));
        return;
      case IntakeOutcome::Kind::kThrottled:
        CountItems(pending->items, "rejected", {"throttled"});
        pending->responder->Respond(Error(429, "Rate limit exceeded; retry later"));
        return;
      case IntakeOutcome::Kind::kUnavailable:
        CountItems(pending->items, "rejected", {"unavailable"});
        pending->responder->Respond(
            Error(503, "Not stored: the ingest cannot write now; retry later"));
        return;
      case IntakeOutcome::Kind::kInvalid:  // not asked for: every Dify event has an actor
      case IntakeOutcome::Kind::kFailed:
        CountItems(pending->items, "rejected", {"failed"});
        pending->responder->Respond(
            Error(500, "Write failed; the items may or may not be stored; retry"));
        return;
    }
  });
}

}  // namespace cohort::ingest
