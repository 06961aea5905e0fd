#include "ingest/amplitude/response.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::amplitude {
namespace {

using nlohmann::json;

// Compares the parsed body with `expected` key by key, so a failure names the key.
void ExpectBody(const Response& response, int status, const json& expected) {
  EXPECT_EQ(response.status, status);
  json body = json::parse(response.body);
  ASSERT_TRUE(body.is_object()) << response.body;
  EXPECT_EQ(body["code"], status) << response.body;
  for (const auto& [key, value] : expected.items()) {
    ASSERT_TRUE(body.contains(key)) << key << " missing in " << response.body;
    EXPECT_EQ(body[key], value) << key;
  }
  for (const auto& [key, value] : body.items()) {
    EXPECT_TRUE(expected.contains(key)) << "unexpected key " << key;
  }
}

TEST(ResponseTest, Success) {
  ExpectBody(SuccessResponse(50, 1234, 1396381378123), 200,
             {{"code", 200},
              {"events_ingested", 50},
              {"payload_size_bytes", 1234},
              {"server_upload_time", 1396381378123}});
}

TEST(ResponseTest, Errors) {
  ExpectBody(InvalidApiKeyResponse(), 400, {{"code", 400}, {"error", "Invalid API key"}});
  ExpectBody(
      MissingFieldResponse("api_key"), 400,
      {{"code", 400}, {"error", "Request missing required field"}, {"missing_field", "api_key"}});
  ExpectBody(PayloadTooLargeResponse(), 413, {{"code", 413}, {"error", "Payload too large"}});
  ExpectBody(ErrorResponse(400, kInvalidJsonBody), 400,
             {{"code", 400}, {"error", "Invalid JSON request body"}});
  ExpectBody(ErrorResponse(503, "WAL full: \"not stored\"\n"), 503,
             {{"code", 503}, {"error", "WAL full: \"not stored\"\n"}});
}

TEST(ResponseTest, EventErrorsWithInvalidFields) {
  EventErrors errors;
  errors.invalid_fields["time"] = {3, 4, 7};
  errors.missing_fields["event_type"] = {3, 4, 7};
  errors.invalid_id_lengths["user_id"] = {1};
  ExpectBody(EventErrorsResponse(errors), 400,
             {{"code", 400},
              {"error", "Invalid field values on some events"},
              {"events_with_invalid_fields", {{"time", {3, 4, 7}}}},
              {"events_with_missing_fields", {{"event_type", {3, 4, 7}}}},
              {"events_with_invalid_id_lengths", {{"user_id", {1}}}}});
}

TEST(ResponseTest, EventErrorsWithOnlyMissingFields) {
  EventErrors errors;
  errors.missing_fields["event_type"] = {0};
  ExpectBody(EventErrorsResponse(errors), 400,
             {{"code", 400},
              {"error", "Request missing required field"},
              {"events_with_invalid_fields", json::object()},
              {"events_with_missing_fields", {{"event_type", {0}}}},
              {"events_with_invalid_id_lengths", json::object()}});
}

TEST(ResponseTest, Throttled) {
  Throttling t;
  t.eps_threshold = 30;
  t.throttled_devices = {{"dev-\"1\"", 31}};
  t.throttled_users = {{"user-1", 32}};
  t.throttled_events = {3, 4, 7};
  t.exceeded_daily_quota_users = {{"user-2", 500001}};
  ExpectBody(ThrottledResponse(t), 429,
             {{"code", 429},
              {"error", "Too many requests for some devices and users"},
              {"eps_threshold", 30},
              {"throttled_devices", {{"dev-\"1\"", 31}}},
              {"throttled_users", {{"user-1", 32}}},
              {"throttled_events", {3, 4, 7}},
              {"exceeded_daily_quota_users", {{"user-2", 500001}}},
              {"exceeded_daily_quota_devices", json::object()}});
}

}  // namespace
}  // namespace cohort::ingest::amplitude
