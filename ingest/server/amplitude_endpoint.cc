// Parse → key → rate limits → dedup → WAL → 200 (amplitude_endpoint.h).
#include "ingest/server/amplitude_endpoint.h"

#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "ingest/amplitude/response.h"
#include "ingest/event/event_codec.h"

namespace cohort::ingest {
namespace {

http::Response ToHttp(const amplitude::Response& r) { return http::JsonResponse(r.status, r.body); }

// What dedup keys an event by: its project, its device (or, without one, its user) and its
// insert id.
DedupKey KeyOf(const Event& e) {
  return {e.project, e.device_id.empty() ? e.user_id : e.device_id, e.insert_id};
}

// A request between its hand-over to the writer and its answer.
struct Pending {
  std::vector<Event> events;
  std::vector<DedupKey> written;  // keys of the events written (views into `events`)
  amplitude::Response success;
  std::optional<http::Responder> responder;
};

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
    responder.Respond(ToHttp(amplitude::InvalidApiKeyResponse()));
    return;
  }
  if (parsed.rejection.has_value() || grant == nullptr) {
    responder.Respond(
        ToHttp(parsed.rejection.value_or(amplitude::MissingFieldResponse("api_key"))));
    return;
  }
  for (Event& e : parsed.events) e.project = grant->project;

  // Rate limits: one token per event from its device's and its user's bucket, all or nothing.
  std::vector<ActorDemand> demands;
  demands.reserve(parsed.events.size() * 2);
  for (const Event& e : parsed.events) {
    if (!e.device_id.empty()) demands.push_back({ActorKind::kDevice, e.project, e.device_id, 1});
    if (!e.user_id.empty()) demands.push_back({ActorKind::kUser, e.project, e.user_id, 1});
  }
  std::vector<ThrottledActor> throttled = options_.limiter->Admit(demands);
  if (!throttled.empty()) {
    amplitude::Throttling t;
    t.eps_threshold =
        static_cast<int64_t>(options_.limiter->options().events_per_second);  // devices
    for (const ThrottledActor& a : throttled) {
      (a.kind == ActorKind::kDevice ? t.throttled_devices : t.throttled_users)[a.id] =
          a.events_per_second;
    }
    for (size_t i = 0; i < parsed.events.size(); ++i) {
      const Event& e = parsed.events[i];
      if ((!e.device_id.empty() && t.throttled_devices.contains(e.device_id)) ||
          (!e.user_id.empty() && t.throttled_users.contains(e.user_id))) {
        t.throttled_events.push_back(static_cast<int64_t>(i));
      }
    }
    responder.Respond(ToHttp(amplitude::ThrottledResponse(t)));
    return;
  }

  // Dedup, then the WAL for what is new.
  auto pending = std::make_shared<Pending>();
  pending->events = std::move(parsed.events);
  pending->success =
      amplitude::SuccessResponse(static_cast<int64_t>(pending->events.size()),
                                 parsed.payload_size_bytes, parsed.server_upload_time_ms);
  pending->responder = std::move(responder);
  std::vector<DedupKey> keys_of;
  keys_of.reserve(pending->events.size());
  for (const Event& e : pending->events) keys_of.push_back(KeyOf(e));
  const std::vector<bool> fresh = options_.dedup->FilterNew(keys_of);
  std::vector<std::string> records;
  for (size_t i = 0; i < pending->events.size(); ++i) {
    if (!fresh[i]) continue;
    records.push_back(EncodeEvent(pending->events[i]));
    pending->written.push_back(keys_of[i]);
  }
  if (records.empty()) {  // every event was a duplicate: already stored
    pending->responder->Respond(ToHttp(pending->success));
    return;
  }
  DedupWindow* dedup = options_.dedup;
  const bool queued =
      options_.writer->Submit(std::move(records), [pending, dedup](absl::StatusOr<wal::Lsn> lsn) {
        if (lsn.ok()) {
          dedup->Remember(pending->written);
          pending->responder->Respond(ToHttp(pending->success));
        } else if (absl::IsResourceExhausted(lsn.status()) ||
                   absl::IsFailedPrecondition(lsn.status())) {
          pending->responder->Respond(ToHttp(amplitude::ErrorResponse(
              503, "Not stored: the ingest cannot write now; retry later")));
        } else {
          pending->responder->Respond(ToHttp(amplitude::ErrorResponse(
              500, "Write failed; the events may or may not be stored; retry")));
        }
      });
  if (!queued) {
    pending->responder->Respond(ToHttp(
        amplitude::ErrorResponse(503, "Not stored: too many writes in flight; retry later")));
  }
}

}  // namespace cohort::ingest
