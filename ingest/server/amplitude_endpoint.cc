// Parse → key → rate limits → dedup → WAL → 200 (amplitude_endpoint.h).
#include "ingest/server/amplitude_endpoint.h"

#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "ingest/amplitude/response.h"
#include "ingest/server/event_intake.h"

namespace cohort::ingest {
namespace {

http::Response ToHttp(const amplitude::Response& r) { return http::JsonResponse(r.status, r.body); }

}  // namespace

AmplitudeEndpoint::AmplitudeEndpoint(AmplitudeEndpointOptions options)
    : options_(std::move(options)) {}

http::Route AmplitudeEndpoint::MakeRoute(amplitude::Endpoint endpoint, int64_t max_request_bytes) {
  http::Route route;
  route.name = endpoint == amplitude::Endpoint::kBatch ? "amplitude_batch" : "amplitude_httpapi";
  route.method = "POST";
  route.path = endpoint == amplitude::Endpoint::kBatch ? "/batch" : "/2/httpapi";
  route.max_request_bytes = max_request_bytes;
  route.cors = http::Cors{};
  route.error_formatter = [](int status, std::string_view message) {
    // The server's own rejections in Amplitude's words where Amplitude has them.
    return ToHttp(status == 413 ? amplitude::PayloadTooLargeResponse()
                                : amplitude::ErrorResponse(status, message));
  };
  route.handler = [this, endpoint](http::Request request, http::Responder responder) {
    Handle(endpoint, std::move(request), std::move(responder));
  };
  return route;
}

std::unique_ptr<amplitude::RequestParser> AmplitudeEndpoint::TakeParser() {
  {
    absl::MutexLock lock(&mu_);
    if (!parsers_.empty()) {
      std::unique_ptr<amplitude::RequestParser> p = std::move(parsers_.back());
      parsers_.pop_back();
      return p;
    }
  }
  return std::make_unique<amplitude::RequestParser>(options_.parser);
}

void AmplitudeEndpoint::ReturnParser(std::unique_ptr<amplitude::RequestParser> parser) {
  absl::MutexLock lock(&mu_);
  parsers_.push_back(std::move(parser));
}

void AmplitudeEndpoint::CountRejected(std::string_view reason) {
  if (options_.metrics != nullptr)
    options_.metrics->CountRejectedRequest(EventSource::kAmplitude, reason);
}

void AmplitudeEndpoint::Handle(amplitude::Endpoint endpoint, http::Request request,
                               http::Responder responder) {
  const absl::Time now = options_.clock->Now();
  boost::asio::ip::address client = http::ClientAddress(
      request.peer_address, request.JoinedHeader("X-Forwarded-For"), options_.trusted_proxies);
  if (options_.truncate_ip) client = http::TruncateAddress(client);
  const std::string client_ip = client.to_string();

  std::unique_ptr<amplitude::RequestParser> parser = TakeParser();
  amplitude::ParsedRequest parsed = parser->Parse(request.body, {endpoint, now, client_ip});
  ReturnParser(std::move(parser));

  // The key first: a bad key fails the whole batch, whatever else is wrong with it.
  const std::shared_ptr<const config::ApiKeySet> keys = options_.keys();
  const config::ApiKeyGrant* grant = parsed.api_key.empty() ? nullptr : keys->Find(parsed.api_key);
  if (!parsed.api_key.empty() && (grant == nullptr || !grant->Allows(config::Source::kAmplitude))) {
    CountRejected("unauthorized");
    responder.Respond(ToHttp(amplitude::InvalidApiKeyResponse()));
    return;
  }
  if (parsed.rejection.has_value() || grant == nullptr) {
    amplitude::Response rejection =
        parsed.rejection.value_or(amplitude::MissingFieldResponse("api_key"));
    CountRejected(rejection.status == 413 ? "too_many_events" : "invalid");
    responder.Respond(ToHttp(rejection));
    return;
  }
  for (Event& e : parsed.events) e.project = grant->project;

  const amplitude::Response success =
      amplitude::SuccessResponse(static_cast<int64_t>(parsed.events.size()),
                                 parsed.payload_size_bytes, parsed.server_upload_time_ms);
  const double device_rate = options_.intake->limiter().options().events_per_second;
  // Responder is move-only and std::function needs a copyable callable: share it.
  auto shared_responder = std::make_shared<http::Responder>(std::move(responder));
  options_.intake->Submit(
      std::move(parsed.events), [shared_responder, success, device_rate](IntakeOutcome outcome) {
        http::Responder& r = *shared_responder;
        switch (outcome.kind) {
          case IntakeOutcome::Kind::kStored:
            r.Respond(ToHttp(success));
            return;
          case IntakeOutcome::Kind::kThrottled: {
            amplitude::Throttling t;
            t.eps_threshold = static_cast<int64_t>(device_rate);
            for (const ThrottledActor& a : outcome.throttled) {
              (a.kind == ActorKind::kDevice ? t.throttled_devices : t.throttled_users)[a.id] =
                  a.events_per_second;
            }
            t.throttled_events = std::move(outcome.throttled_events);
            r.Respond(ToHttp(amplitude::ThrottledResponse(t)));
            return;
          }
          case IntakeOutcome::Kind::kUnavailable:
            r.Respond(ToHttp(amplitude::ErrorResponse(
                503, "Not stored: the ingest cannot write now; retry later")));
            return;
          case IntakeOutcome::Kind::kInvalid:  // not asked for: the parser requires an id
          case IntakeOutcome::Kind::kFailed:
            r.Respond(ToHttp(amplitude::ErrorResponse(
                500, "Write failed; the events may or may not be stored; retry")));
            return;
        }
      });
}

}  // namespace cohort::ingest
