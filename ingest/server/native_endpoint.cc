// Key → parse → EventIntake → 200 (native_endpoint.h).
#include "ingest/server/native_endpoint.h"

#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "ingest/event/json_text.h"

namespace cohort::ingest {
namespace {

http::Response Error(int status, std::string error, std::string field = "") {
  return http::JsonResponse(status,
                            native::Rejection{status, std::move(error), std::move(field)}.Body());
}

void AppendActors(const std::vector<ThrottledActor>& actors, ActorKind kind, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const ThrottledActor& a : actors) {
    if (a.kind != kind) continue;
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(a.id, out);
    out->push_back(':');
    AppendJsonInt(a.events_per_second, out);
  }
  out->push_back('}');
}

http::Response Throttled(const IntakeOutcome& outcome) {
  std::string body =
      R"({"code":429,"error":"too many events for some devices or users; nothing was stored, )"
      R"(retry later","throttled_devices":)";
  AppendActors(outcome.throttled, ActorKind::kDevice, &body);
  body.append(",\"throttled_users\":");
  AppendActors(outcome.throttled, ActorKind::kUser, &body);
  body.append(",\"throttled_events\":[");
  for (size_t i = 0; i < outcome.throttled_events.size(); ++i) {
    if (i > 0) body.push_back(',');
    AppendJsonInt(outcome.throttled_events[i], &body);
  }
  body.append("]}");
  return http::JsonResponse(429, std::move(body));
}

}  // namespace

NativeEndpoint::NativeEndpoint(NativeEndpointOptions options) : options_(std::move(options)) {}

http::Route NativeEndpoint::MakeRoute(int64_t max_request_bytes) {
  http::Route route;
  route.name = "native_events";
  route.method = "POST";
  route.path = "/v1/events";
  route.max_request_bytes = max_request_bytes;
  route.error_formatter = [](int status, std::string_view message) {
    return Error(status, std::string(message));
  };
  route.handler = [this](http::Request request, http::Responder responder) {
    Handle(std::move(request), std::move(responder));
  };
  return route;
}

std::unique_ptr<native::RequestParser> NativeEndpoint::TakeParser() {
  {
    absl::MutexLock lock(&mu_);
    if (!parsers_.empty()) {
      std::unique_ptr<native::RequestParser> p = std::move(parsers_.back());
      parsers_.pop_back();
      return p;
    }
  }
  return std::make_unique<native::RequestParser>(options_.parser);
}

void NativeEndpoint::ReturnParser(std::unique_ptr<native::RequestParser> parser) {
  absl::MutexLock lock(&mu_);
  parsers_.push_back(std::move(parser));
}

void NativeEndpoint::CountRejected(std::string_view reason) {
  if (options_.metrics != nullptr) {
    options_.metrics->CountRejectedRequest(EventSource::kNative, reason);
  }
}

void NativeEndpoint::Handle(http::Request request, http::Responder responder) {
  // The key first: an unauthenticated client learns nothing about its body.
  const std::optional<std::string_view> key = http::PresentedApiKey(request);
  if (!key) {
    CountRejected("unauthorized");
    responder.Respond(
        Error(401, "missing API key: send \"Authorization: Bearer <key>\"", "Authorization"));
    return;
  }
  const std::shared_ptr<const config::ApiKeySet> keys = options_.keys();
  const config::ApiKeyGrant* grant = keys->Find(*key);
  if (grant == nullptr || !grant->Allows(config::Source::kNative)) {
    CountRejected("unauthorized");
    responder.Respond(Error(401, "invalid API key for the native API", "Authorization"));
    return;
  }

  std::unique_ptr<native::RequestParser> parser = TakeParser();
  native::ParsedRequest parsed = parser->Parse(request.body, options_.clock->Now());
  ReturnParser(std::move(parser));
  if (parsed.rejection) {
    CountRejected(parsed.rejection->status == 413 ? "too_many_events" : "invalid");
    responder.Respond(http::JsonResponse(parsed.rejection->status, parsed.rejection->Body()));
    return;
  }
  for (Event& e : parsed.events) e.project = grant->project;
  const int64_t accepted = static_cast<int64_t>(parsed.events.size());

  // Responder is move-only and std::function needs a copyable callable: share it.
  auto shared_responder = std::make_shared<http::Responder>(std::move(responder));
  options_.intake->Submit(
      std::move(parsed.events),
      [shared_responder, accepted, single = parsed.single_envelope](IntakeOutcome outcome) {
        http::Responder& r = *shared_responder;
        switch (outcome.kind) {
          case IntakeOutcome::Kind::kStored: {
            std::string body = "{\"code\":200,\"accepted\":";
            AppendJsonInt(accepted, &body);
            body.append(",\"duplicates\":");
            AppendJsonInt(outcome.duplicates, &body);
            body.append(",\"dropped\":");
            AppendJsonInt(outcome.dropped, &body);
            body.push_back('}');
            r.Respond(http::JsonResponse(200, std::move(body)));
            return;
          }
          case IntakeOutcome::Kind::kThrottled:
            r.Respond(Throttled(outcome));
            return;
          case IntakeOutcome::Kind::kUnavailable:
            r.Respond(Error(503, "not stored: the ingest cannot write now; retry later"));
            return;
          case IntakeOutcome::Kind::kFailed:
            r.Respond(Error(500, "write failed; the events may or may not be stored; retry"));
            return;
          case IntakeOutcome::Kind::kInvalid: {
            const int64_t first = outcome.invalid_events.front();
            r.Respond(Error(400,
                            absl::StrCat("no user_id or device_id after the mapping rules (",
                                         outcome.invalid_events.size(),
                                         " events): map one from the payload, e.g. Copy "
                                         "payload.user.id to user_id; nothing was stored"),
                            single ? "payload" : absl::StrCat("events[", first, "].payload")));
            return;
          }
        }
      },
      SubmitOptions{.require_identity = true});
}

}  // namespace cohort::ingest
