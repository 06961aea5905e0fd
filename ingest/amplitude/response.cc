#include "ingest/amplitude/response.h"

#include "ingest/event/json_text.h"

namespace cohort::ingest::amplitude {
namespace {

// Starts {"code":status,"error":error — the caller appends more members and the closing brace.
std::string Open(int status, std::string_view error) {
  std::string body = "{\"code\":";
  AppendJsonInt(status, &body);
  body += ",\"error\":";
  AppendJsonString(error, &body);
  return body;
}

void AppendKey(std::string_view key, std::string* body) {
  body->push_back(',');
  AppendJsonString(key, body);
  body->push_back(':');
}

void AppendIndexes(const std::vector<int64_t>& indexes, std::string* body) {
  body->push_back('[');
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (i > 0) body->push_back(',');
    AppendJsonInt(indexes[i], body);
  }
  body->push_back(']');
}

void AppendIndexMap(const std::map<std::string, std::vector<int64_t>>& map, std::string* body) {
  body->push_back('{');
  bool first = true;
  for (const auto& [field, indexes] : map) {
    if (!first) body->push_back(',');
    first = false;
    AppendJsonString(field, body);
    body->push_back(':');
    AppendIndexes(indexes, body);
  }
  body->push_back('}');
}

void AppendCountMap(const std::map<std::string, int64_t>& map, std::string* body) {
  body->push_back('{');
  bool first = true;
  for (const auto& [id, count] : map) {
    if (!first) body->push_back(',');
    first = false;
    AppendJsonString(id, body);
    body->push_back(':');
    AppendJsonInt(count, body);
  }
  body->push_back('}');
}

}  // namespace

Response SuccessResponse(int64_t events_ingested, int64_t payload_size_bytes,
                         int64_t server_upload_time_ms) {
  std::string body = "{\"code\":200,\"events_ingested\":";
  AppendJsonInt(events_ingested, &body);
  body += ",\"payload_size_bytes\":";
  AppendJsonInt(payload_size_bytes, &body);
  body += ",\"server_upload_time\":";
  AppendJsonInt(server_upload_time_ms, &body);
  body.push_back('}');
  return {200, std::move(body)};
}

Response ErrorResponse(int status, std::string_view error) {
  std::string body = Open(status, error);
  body.push_back('}');
  return {status, std::move(body)};
}

Response InvalidApiKeyResponse() { return ErrorResponse(400, kInvalidApiKey); }

Response MissingFieldResponse(std::string_view field) {
  std::string body = Open(400, kMissingRequiredField);
  AppendKey("missing_field", &body);
  AppendJsonString(field, &body);
  body.push_back('}');
  return {400, std::move(body)};
}

Response PayloadTooLargeResponse() { return ErrorResponse(413, kPayloadTooLarge); }

Response EventErrorsResponse(const EventErrors& errors) {
  const bool invalid = !errors.invalid_fields.empty() || !errors.invalid_id_lengths.empty();
  std::string body = Open(400, invalid ? kInvalidFieldValues : kMissingRequiredField);
  AppendKey("events_with_invalid_fields", &body);
  AppendIndexMap(errors.invalid_fields, &body);
  AppendKey("events_with_missing_fields", &body);
  AppendIndexMap(errors.missing_fields, &body);
  AppendKey("events_with_invalid_id_lengths", &body);
  AppendIndexMap(errors.invalid_id_lengths, &body);
  body.push_back('}');
  return {400, std::move(body)};
}

Response ThrottledResponse(const Throttling& t) {
  std::string body = Open(429, kTooManyRequests);
  AppendKey("eps_threshold", &body);
  AppendJsonInt(t.eps_threshold, &body);
  AppendKey("throttled_devices", &body);
  AppendCountMap(t.throttled_devices, &body);
  AppendKey("throttled_users", &body);
  AppendCountMap(t.throttled_users, &body);
  AppendKey("throttled_events", &body);
  AppendIndexes(t.throttled_events, &body);
  AppendKey("exceeded_daily_quota_users", &body);
  AppendCountMap(t.exceeded_daily_quota_users, &body);
  AppendKey("exceeded_daily_quota_devices", &body);
  AppendCountMap(t.exceeded_daily_quota_devices, &body);
  body.push_back('}');
  return {429, std::move(body)};
}

}  // namespace cohort::ingest::amplitude
