// The JSON bodies cohort-ingest answers on the Amplitude HTTP V2 endpoints (POST /2/httpapi and
// /batch), as shared/reference/amplitude-api.md and the Amplitude SDKs expect them: every body is a
// JSON object whose `code` equals the HTTP status, and every non-2xx body carries an `error` string
// (the SDKs call error.startsWith). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::ingest::amplitude {

// The error strings of the Amplitude API, verbatim.
inline constexpr std::string_view kInvalidRequestPath = "Invalid request path";
inline constexpr std::string_view kMissingRequestBody = "Missing request body";
inline constexpr std::string_view kInvalidJsonBody = "Invalid JSON request body";
inline constexpr std::string_view kMissingRequiredField = "Request missing required field";
inline constexpr std::string_view kInvalidEventJson = "Invalid event JSON";
inline constexpr std::string_view kInvalidApiKey = "Invalid API key";
inline constexpr std::string_view kInvalidFieldValues = "Invalid field values on some events";
inline constexpr std::string_view kPayloadTooLarge = "Payload too large";
inline constexpr std::string_view kTooManyRequests = "Too many requests for some devices and users";

// An HTTP status and its application/json body.
struct Response {
  int status = 200;
  std::string body;
  friend bool operator==(const Response&, const Response&) = default;
};

// 200 {"code":200,"events_ingested":N,"payload_size_bytes":B,"server_upload_time":MS}.
Response SuccessResponse(int64_t events_ingested, int64_t payload_size_bytes,
                         int64_t server_upload_time_ms);

// {"code":status,"error":error}: the generic non-2xx body (e.g. 400 kInvalidJsonBody,
// 400 kInvalidRequestPath, 503 for "not stored").
Response ErrorResponse(int status, std::string_view error);

// 400 {"code":400,"error":"Invalid API key"}: the SDK fails the whole batch.
Response InvalidApiKeyResponse();

// 400 {"code":400,"error":"Request missing required field","missing_field":field}: a top-level
// field (api_key, events) is missing; the SDK fails the whole batch.
Response MissingFieldResponse(std::string_view field);

// 413 {"code":413,"error":"Payload too large"}: too many bytes or events; the SDK halves the batch.
Response PayloadTooLargeResponse();

// Per-event problems, each a map from the field's name to the ascending indexes (into the request's
// events array) of the events with that problem.
struct EventErrors {
  std::map<std::string, std::vector<int64_t>> invalid_fields;
  std::map<std::string, std::vector<int64_t>> missing_fields;
  std::map<std::string, std::vector<int64_t>> invalid_id_lengths;
  bool empty() const {
    return invalid_fields.empty() && missing_fields.empty() && invalid_id_lengths.empty();
  }
  friend bool operator==(const EventErrors&, const EventErrors&) = default;
};

// 400 {"code":400,"error":E,"events_with_invalid_fields":{...},"events_with_missing_fields":{...},
// "events_with_invalid_id_lengths":{...}} (all three maps always present). E is
// kInvalidFieldValues when some field is invalid or an id too short, else kMissingRequiredField.
// There is no `missing_field` key, so the SDK drops the listed events and resends the rest.
Response EventErrorsResponse(const EventErrors& errors);

// What a 429 reports: per-device and per-user event rates over the threshold, the indexes of the
// throttled events, and the ids over their daily quota.
struct Throttling {
  int64_t eps_threshold = 30;
  std::map<std::string, int64_t> throttled_devices;
  std::map<std::string, int64_t> throttled_users;
  std::vector<int64_t> throttled_events;
  std::map<std::string, int64_t> exceeded_daily_quota_users;
  std::map<std::string, int64_t> exceeded_daily_quota_devices;
};

// 429 {"code":429,"error":"Too many requests for some devices and users","eps_threshold":...,
// "throttled_devices":{...},"throttled_users":{...},"throttled_events":[...],
// "exceeded_daily_quota_users":{...},"exceeded_daily_quota_devices":{...}}.
Response ThrottledResponse(const Throttling& throttling);

}  // namespace cohort::ingest::amplitude
