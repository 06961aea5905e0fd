#include "ingest/amplitude/request_parser.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/amplitude/validation.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::amplitude {
namespace {

using nlohmann::json;

constexpr int64_t kUploadMs = 1'700'000'000'000;
const absl::Time kUpload = absl::FromUnixMillis(kUploadMs);

ParsedRequest ParseBody(std::string_view body, ParserOptions options = {},
                        Endpoint endpoint = Endpoint::kHttpApi) {
  RequestParser parser(options);
  return parser.Parse(body,
                      {.endpoint = endpoint, .upload_time = kUpload, .client_ip = "203.0.113.7"});
}

// A request with `events` (a JSON array text) and a valid key.
std::string Body(std::string_view events) {
  return R"({"api_key":"key-1","events":)" + std::string(events) + "}";
}

// Parses one event (JSON object text) that must be accepted.
Event ParseOne(std::string_view event_json) {
  ParsedRequest r = ParseBody(Body("[" + std::string(event_json) + "]"));
  EXPECT_FALSE(r.rejection.has_value()) << r.rejection->body;
  if (r.rejection || r.events.size() != 1) return Event{};
  return r.events[0];
}

// The rejection must have `status` and a body equal, key by key, to `expected`.
void ExpectRejection(const ParsedRequest& r, int status, const json& expected) {
  ASSERT_TRUE(r.rejection.has_value());
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.rejection->status, status);
  json body = json::parse(r.rejection->body);
  EXPECT_EQ(body["code"], status);
  EXPECT_TRUE(body["error"].is_string());
  for (const auto& [key, value] : expected.items()) {
    EXPECT_EQ(body[key], value) << key << " in " << r.rejection->body;
  }
  for (const auto& [key, value] : body.items()) {
    EXPECT_TRUE(expected.contains(key)) << "unexpected key " << key << " in " << r.rejection->body;
  }
}

json EventErrorBody(std::string_view error, json invalid, json missing, json id_lengths) {
  return {{"code", 400},
          {"error", error},
          {"events_with_invalid_fields", std::move(invalid)},
          {"events_with_missing_fields", std::move(missing)},
          {"events_with_invalid_id_lengths", std::move(id_lengths)}};
}

TEST(RequestParserTest, AcceptsAMinimalRequest) {
  std::string body = Body(R"([{"user_id":"user-1","event_type":"Sign Up"}])");
  ParsedRequest r = ParseBody(body);
  ASSERT_FALSE(r.rejection) << r.rejection->body;
  EXPECT_EQ(r.api_key, "key-1");
  EXPECT_EQ(r.payload_size_bytes, static_cast<int64_t>(body.size()));
  EXPECT_EQ(r.server_upload_time_ms, kUploadMs);
  ASSERT_EQ(r.events.size(), 1u);
  const Event& e = r.events[0];
  EXPECT_EQ(e.source, EventSource::kAmplitude);
  EXPECT_EQ(e.project, "");
  EXPECT_EQ(e.user_id, "user-1");
  EXPECT_EQ(e.device_id, "");
  EXPECT_EQ(e.event_type, "Sign Up");
  EXPECT_EQ(e.time_ms, kUploadMs);  // missing time: the upload time
  EXPECT_EQ(e.server_received_time_ms, kUploadMs);
  EXPECT_EQ(e.session_id, kNoSession);
  EXPECT_EQ(e.insert_id, "");  // absent stays empty
  EXPECT_FALSE(e.event_id.has_value());
}

TEST(RequestParserTest, ReadsEveryField) {
  Event e = ParseOne(R"({
    "user_id":"user-1","device_id":"device-1","event_type":"Purchase","time":1699999999000,
    "insert_id":"ins-1","session_id":1699999000000,"event_id":7,"ip":"198.51.100.1",
    "app_version":"1.2.3","platform":"iOS","os_name":"ios","os_version":"17","device_brand":"Apple",
    "device_manufacturer":"Apple","device_model":"iPhone","carrier":"T","country":"DE",
    "region":"Berlin","city":"Berlin","dma":"x","language":"de","productId":"p-1",
    "revenueType":"purchase","idfa":"a","idfv":"b","adid":"c","android_id":"d",
    "library":"amplitude-node/1.3","user_agent":"ua","version_name":"v","partner_id":"p",
    "price":9.99,"quantity":3,"revenue":29.97,"location_lat":52.52,"location_lng":13,
    "event_properties":{ "a" : [1, 2.5, {"b": null}], "c": true, "s": "x\u0001\"" },
    "user_properties":{"$set":{"plan":"pro"}},"groups":{"company":"acme"},
    "group_properties":{"size":10},"plan":{"branch":"main"},"ingestion_metadata":{"source_name":"s"},
    "unknown_key":{"ignored":[1,2,3]}
  })");
  EXPECT_EQ(e.user_id, "user-1");
  EXPECT_EQ(e.device_id, "device-1");
  EXPECT_EQ(e.event_type, "Purchase");
  EXPECT_EQ(e.time_ms, 1699999999000);
  EXPECT_EQ(e.insert_id, "ins-1");
  EXPECT_EQ(e.session_id, 1699999000000);
  EXPECT_EQ(e.event_id, 7);
  EXPECT_EQ(e.ip, "198.51.100.1");
  for (size_t i = 0; i < kAttributeCount; ++i) {
    EXPECT_FALSE(e.attributes[i].empty()) << AttributeKey(static_cast<Attribute>(i));
  }
  EXPECT_EQ(e.attribute(Attribute::kProductId), "p-1");
  EXPECT_EQ(e.attribute(Attribute::kLibrary), "amplitude-node/1.3");
  EXPECT_EQ(e.price, 9.99);
  EXPECT_EQ(e.quantity, 3);
  EXPECT_EQ(e.revenue, 29.97);
  EXPECT_EQ(e.location_lat, 52.52);
  EXPECT_EQ(e.location_lng, 13.0);
  EXPECT_EQ(e.json_field(JsonField::kEventProperties),
            R"({"a":[1,2.5,{"b":null}],"c":true,"s":"x\u0001\""})");
  EXPECT_EQ(e.json_field(JsonField::kUserProperties), R"({"$set":{"plan":"pro"}})");
  EXPECT_EQ(e.json_field(JsonField::kGroups), R"({"company":"acme"})");
  EXPECT_EQ(e.json_field(JsonField::kGroupProperties), R"({"size":10})");
  EXPECT_EQ(e.json_field(JsonField::kPlan), R"({"branch":"main"})");
  EXPECT_EQ(e.json_field(JsonField::kIngestionMetadata), R"({"source_name":"s"})");
}

TEST(RequestParserTest, RemoteIpIsTheClientAddress) {
  EXPECT_EQ(ParseOne(R"({"device_id":"device-1","event_type":"e","ip":"$remote"})").ip,
            "203.0.113.7");
  EXPECT_EQ(ParseOne(R"({"device_id":"device-1","event_type":"e"})").ip, "");
}

TEST(RequestParserTest, IgnoresUnknownTopLevelKeysAndReadsOptions) {
  ParsedRequest r = ParseBody(R"({"client_upload_time":"2024-01-01T00:00:00Z",
      "request_metadata":{"sdk":{"metrics":{}}},"api_key":"k","options":{"min_id_length":2,"x":1},
      "events":[{"user_id":"ab","event_type":"e"}]})");
  ASSERT_FALSE(r.rejection) << r.rejection->body;
  EXPECT_EQ(r.events[0].user_id, "ab");
}

TEST(RequestParserTest, DefaultMinIdLengthComesFromOptions) {
  std::string body = Body(R"([{"user_id":"abc","event_type":"e"}])");
  EXPECT_TRUE(ParseBody(body).rejection);  // default 5
  EXPECT_FALSE(ParseBody(body, {.default_min_id_length = 3}).rejection);
}

TEST(RequestParserTest, ScalarsAreCoercedToText) {
  ParsedRequest r = ParseBody(R"({"api_key":"k","options":{"min_id_length":1},"events":[
      {"user_id":1234567,"device_id":true,"event_type":12.5,"platform":false}]})");
  ASSERT_FALSE(r.rejection) << r.rejection->body;
  const Event& e = r.events[0];
  EXPECT_EQ(e.user_id, "1234567");
  EXPECT_EQ(e.device_id, "true");
  EXPECT_EQ(e.event_type, "12.5");
  EXPECT_EQ(e.attribute(Attribute::kPlatform), "false");
  // A coerced id is length-checked like a string (Amplitude rejects user_id 123 as too short).
  ExpectRejection(
      ParseBody(Body(R"([{"user_id":123,"event_type":"e"}])")), 400,
      EventErrorBody(kInvalidFieldValues, json::object(), json::object(), {{"user_id", {0}}}));
}

TEST(RequestParserTest, NullMeansAbsent) {
  Event e = ParseOne(R"({"user_id":null,"device_id":"device-1","event_type":"e","time":null,
      "session_id":null,"event_id":null,"price":null,"event_properties":null,"insert_id":null})");
  EXPECT_EQ(e.user_id, "");
  EXPECT_EQ(e.time_ms, kUploadMs);
  EXPECT_EQ(e.session_id, kNoSession);
  EXPECT_FALSE(e.price.has_value());
  EXPECT_EQ(e.json_field(JsonField::kEventProperties), "");
}

TEST(RequestParserTest, LastDuplicateKeyWins) {
  ParsedRequest r = ParseBody(R"({"api_key":"first","api_key":"second","events":[
      {"user_id":"x","user_id":"user-2","event_type":"a","event_type":"b","time":"bad",
       "time":1600000000000,"event_properties":{"k":1,"k":2}}]})");
  ASSERT_FALSE(r.rejection) << r.rejection->body;
  EXPECT_EQ(r.api_key, "second");
  EXPECT_EQ(r.events[0].user_id, "user-2");
  EXPECT_EQ(r.events[0].event_type, "b");
  EXPECT_EQ(r.events[0].time_ms, 1600000000000);
  // Inside property objects duplicates are kept as sent.
  EXPECT_EQ(r.events[0].json_field(JsonField::kEventProperties), R"({"k":1,"k":2})");
}

TEST(RequestParserTest, TruncatesLongStringsByCodePoint) {
  std::string long_ascii(1500, 'a');
  std::string long_cjk;
  for (int i = 0; i < 1100; ++i) long_cjk += "\xe4\xb8\xad";
  Event e = ParseOne(R"({"user_id":")" + long_ascii + R"(","device_id":")" + long_cjk +
                     R"(","event_type":")" + long_ascii + R"(","event_properties":{")" +
                     long_ascii + R"(":")" + long_cjk + R"("}})");
  EXPECT_EQ(e.user_id, std::string(1024, 'a'));
  EXPECT_EQ(e.device_id.size(), 3u * 1024);
  EXPECT_EQ(e.event_type.size(), 1024u);
  json props = json::parse(e.json_field(JsonField::kEventProperties));
  ASSERT_EQ(props.size(), 1u);
  EXPECT_EQ(props.begin().key(), std::string(1024, 'a'));
  EXPECT_EQ(props.begin().value().get<std::string>().size(), 3u * 1024);
  // Exactly 1024 is kept whole.
  EXPECT_EQ(ParseOne(R"({"user_id":")" + std::string(1024, 'b') + R"(","event_type":"e"})")
                .user_id.size(),
            1024u);
}

TEST(RequestParserTest, PropertyNestingLimit) {
  auto nested = [](int depth) {  // an object `depth` levels deep, counting the outer one
    std::string s;
    for (int i = 1; i < depth; ++i) s += R"({"n":)";
    s += "{}";
    for (int i = 1; i < depth; ++i) s += "}";
    return s;
  };
  auto body = [&](int depth) {
    return Body(R"([{"user_id":"user-1","event_type":"e","event_properties":)" + nested(depth) +
                "}]");
  };
  ParsedRequest ok = ParseBody(body(kMaxPropertyDepth));
  ASSERT_FALSE(ok.rejection) << ok.rejection->body;
  EXPECT_EQ(ok.events[0].json_field(JsonField::kEventProperties), nested(kMaxPropertyDepth));
  ExpectRejection(ParseBody(body(kMaxPropertyDepth + 1)), 400,
                  EventErrorBody(kInvalidFieldValues, {{"event_properties", {0}}}, json::object(),
                                 json::object()));
  // Arrays count as levels too.
  std::string arrays = std::string(kMaxPropertyDepth, '[') + std::string(kMaxPropertyDepth, ']');
  ExpectRejection(
      ParseBody(Body(R"([{"user_id":"user-1","event_type":"e","user_properties":{"a":)" + arrays +
                     "}}]")),
      400,
      EventErrorBody(kInvalidFieldValues, {{"user_properties", {0}}}, json::object(),
                     json::object()));
}

// One row of the per-event validation table: the events array, and the expected 400 body's
// maps (or accepted when all are empty).
struct EventCase {
  std::string name;
  std::string events;
  json invalid = json::object();
  json missing = json::object();
  json id_lengths = json::object();
};

class EventValidationTest : public testing::TestWithParam<EventCase> {};

TEST_P(EventValidationTest, Validates) {
  const EventCase& c = GetParam();
  ParsedRequest r = ParseBody(Body(c.events));
  if (c.invalid.empty() && c.missing.empty() && c.id_lengths.empty()) {
    EXPECT_FALSE(r.rejection) << r.rejection->body;
    return;
  }
  const bool invalid = !c.invalid.empty() || !c.id_lengths.empty();
  ExpectRejection(r, 400,
                  EventErrorBody(invalid ? kInvalidFieldValues : kMissingRequiredField, c.invalid,
                                 c.missing, c.id_lengths));
  EXPECT_EQ(r.api_key, "key-1");
}

const int64_t kFutureOk = kUploadMs + 3'600'000;
const int64_t kFutureBad = kUploadMs + 3'600'001;

INSTANTIATE_TEST_SUITE_P(
    Table, EventValidationTest,
    testing::Values(
        EventCase{"Valid", R"([{"user_id":"user-1","event_type":"e"},
                               {"device_id":"device-1","event_type":"e"}])"},
        EventCase{"MissingEventType",
                  R"([{"user_id":"user-1"},{"user_id":"user-1","event_type":"e"},
                                         {"user_id":"user-1","event_type":""}])",
                  json::object(),
                  {{"event_type", {0, 2}}}},
        EventCase{"MissingBothIds",
                  R"([{"event_type":"e"},{"user_id":null,"device_id":null,
                                       "event_type":"e"}])",
                  json::object(),
                  {{"user_id", {0, 1}}, {"device_id", {0, 1}}}},
        EventCase{"ForbiddenIds",
                  R"([{"user_id":"NULL","event_type":"e"},
                                     {"device_id":"Anonymous","event_type":"e"},
                                     {"user_id":"00000000-0000-0000-0000-000000000000","event_type":"e"},
                                     {"user_id":"user-1","device_id":"LMY47D","event_type":"e"},
                                     {"user_id":"","device_id":"device-1","event_type":"e"},
                                     {"user_id":-1,"event_type":"e"}])",
                  {{"user_id", {0, 2, 4, 5}}, {"device_id", {1, 3}}}},
        EventCase{"ShortIds",
                  R"([{"user_id":"abcd","event_type":"e"},
                                 {"device_id":"\u4e2d\u6587\u4e2d\u6587","event_type":"e"},
                                 {"device_id":"\u4e2d\u6587\u4e2d\u6587\u4e2d","event_type":"e"},
                                 {"user_id":"abcde","device_id":"abc","event_type":"e"}])",
                  json::object(),
                  json::object(),
                  {{"user_id", {0}}, {"device_id", {1, 3}}}},
        EventCase{"Time",
                  R"([{"user_id":"user-1","event_type":"e","time":)" + std::to_string(kFutureOk) +
                      R"(},{"user_id":"user-1","event_type":"e","time":)" +
                      std::to_string(kFutureBad) + R"(},
                      {"user_id":"user-1","event_type":"e","time":"1700000000000"},
                      {"user_id":"user-1","event_type":"e","time":1.7e12},
                      {"user_id":"user-1","event_type":"e","time":1700000000000.5},
                      {"user_id":"user-1","event_type":"e","time":18446744073709551615},
                      {"user_id":"user-1","event_type":"e","time":0}])",
                  {{"time", {1, 2, 3, 4, 5}}}},
        EventCase{"IntegerFields",
                  R"([{"user_id":"user-1","event_type":"e","session_id":"1"},
                                      {"user_id":"user-1","event_type":"e","event_id":1.5},
                                      {"user_id":"user-1","event_type":"e","quantity":[1]},
                                      {"user_id":"user-1","event_type":"e","session_id":-1,
                                       "event_id":0,"quantity":-2}])",
                  {{"session_id", {0}}, {"event_id", {1}}, {"quantity", {2}}}},
        EventCase{"NumberFields",
                  R"([{"user_id":"user-1","event_type":"e","price":"9.99"},
                                     {"user_id":"user-1","event_type":"e","revenue":true},
                                     {"user_id":"user-1","event_type":"e","location_lat":{}},
                                     {"user_id":"user-1","event_type":"e","location_lng":null,
                                      "price":1,"revenue":-2.5e3}])",
                  {{"price", {0}}, {"revenue", {1}}, {"location_lat", {2}}}},
        EventCase{"ObjectFields",
                  R"([{"user_id":"user-1","event_type":"e","event_properties":[]},
                                     {"user_id":"user-1","event_type":"e","user_properties":"x"},
                                     {"user_id":"user-1","event_type":"e","groups":1,"plan":{}}])",
                  {{"event_properties", {0}}, {"user_properties", {1}}, {"groups", {2}}}},
        EventCase{"StringFieldsRejectContainers",
                  R"([{"user_id":{"a":1},"event_type":"e"},{"user_id":"user-1","event_type":["e"]},
                      {"user_id":"user-1","event_type":"e","platform":{},"ip":[]}])",
                  {{"user_id", {0}}, {"event_type", {1}}, {"platform", {2}}, {"ip", {2}}},
                  {{"event_type", {1}}}},
        EventCase{"EveryProblemOfOneEventIsListed",
                  R"([{"user_id":"user-1","event_type":"e"},
                      {"user_id":"ab","device_id":"null","time":"x"}])",
                  {{"device_id", {1}}, {"time", {1}}},
                  {{"event_type", {1}}},
                  {{"user_id", {1}}}}),
    [](const testing::TestParamInfo<EventCase>& info) { return info.param.name; });

// One row of the request-level table.
struct RequestCase {
  std::string name;
  std::string body;
  int status;
  json expected;
};

class RequestValidationTest : public testing::TestWithParam<RequestCase> {};

TEST_P(RequestValidationTest, Rejects) {
  const RequestCase& c = GetParam();
  ExpectRejection(ParseBody(c.body), c.status, c.expected);
}

json Error(int code, std::string_view error) { return {{"code", code}, {"error", error}}; }
json Missing(std::string_view field) {
  return {{"code", 400}, {"error", kMissingRequiredField}, {"missing_field", field}};
}

std::string ManyEvents(int n) {
  std::string events = "[";
  for (int i = 0; i < n; ++i) {
    if (i > 0) events += ",";
    events += R"({"device_id":"device-1","event_type":"e"})";
  }
  return Body(events + "]");
}

INSTANTIATE_TEST_SUITE_P(
    Table, RequestValidationTest,
    testing::Values(
        RequestCase{"EmptyBody", "", 400, Error(400, kMissingRequestBody)},
        RequestCase{"NotJson", "api_key=x", 400, Error(400, kInvalidJsonBody)},
        RequestCase{"Truncated", R"({"api_key":"k","events":[{"user_id":"user-1")", 400,
                    Error(400, kInvalidJsonBody)},
        RequestCase{"TrailingGarbage", Body("[]") + "x", 400, Error(400, kInvalidJsonBody)},
        RequestCase{"TopLevelArray", R"([{"api_key":"k"}])", 400, Error(400, kInvalidJsonBody)},
        RequestCase{"InvalidUtf8", Body("[{\"user_id\":\"user-\xff\xfe\",\"event_type\":\"e\"}]"),
                    400, Error(400, kInvalidJsonBody)},
        RequestCase{"OverlongUtf8", Body("[{\"user_id\":\"user-\xc0\xaf\",\"event_type\":\"e\"}]"),
                    400, Error(400, kInvalidJsonBody)},
        RequestCase{"Utf16Surrogate",
                    Body("[{\"user_id\":\"user-\xed\xa0\x80\",\"event_type\":\"e\"}]"), 400,
                    Error(400, kInvalidJsonBody)},
        RequestCase{"LoneSurrogateEscape", Body(R"([{"user_id":"user-\ud800","event_type":"e"}])"),
                    400, Error(400, kInvalidJsonBody)},
        RequestCase{
            "HugeInteger",
            Body(
                R"([{"user_id":"user-1","event_type":"e","event_properties":{"n":123456789012345678901234567890}}])"),
            400, Error(400, kInvalidJsonBody)},
        RequestCase{"HugeExponent",
                    Body(R"([{"user_id":"user-1","event_type":"e","price":1e400}])"), 400,
                    Error(400, kInvalidJsonBody)},
        RequestCase{"DeepNesting", Body(std::string(5000, '[') + std::string(5000, ']')), 400,
                    Error(400, kInvalidJsonBody)},
        RequestCase{"BadOptions", R"({"api_key":"k","options":[],"events":[]})", 400,
                    Error(400, kInvalidJsonBody)},
        RequestCase{"NegativeMinIdLength",
                    R"({"api_key":"k","options":{"min_id_length":-1},"events":[]})", 400,
                    Error(400, kInvalidJsonBody)},
        RequestCase{"MissingApiKey", R"({"events":[{"user_id":"user-1","event_type":"e"}]})", 400,
                    Missing("api_key")},
        RequestCase{"EmptyApiKey", R"({"api_key":"","events":[]})", 400, Missing("api_key")},
        RequestCase{"NumericApiKey", R"({"api_key":12345,"events":[]})", 400, Missing("api_key")},
        RequestCase{"MissingEvents", R"({"api_key":"k"})", 400, Missing("events")},
        RequestCase{"NullEvents", R"({"api_key":"k","events":null})", 400, Missing("events")},
        RequestCase{"EmptyEvents", R"({"api_key":"k","events":[]})", 400, Missing("events")},
        RequestCase{"EventsNotArray", R"({"api_key":"k","events":{"user_id":"user-1"}})", 400,
                    Error(400, kInvalidEventJson)},
        RequestCase{"EventNotObject", Body(R"([{"user_id":"user-1","event_type":"e"},"x"])"), 400,
                    Error(400, kInvalidEventJson)},
        RequestCase{"TooManyEvents", ManyEvents(2001), 413, Error(413, kPayloadTooLarge)}),
    [](const testing::TestParamInfo<RequestCase>& info) { return info.param.name; });

TEST(RequestParserTest, EventLimitPerEndpointAndFromConfig) {
  EXPECT_FALSE(ParseBody(ManyEvents(2000)).rejection);
  EXPECT_FALSE(ParseBody(ManyEvents(2000), {}, Endpoint::kBatch).rejection);
  EXPECT_EQ(ParseBody(ManyEvents(2001), {}, Endpoint::kBatch).rejection->status, 413);
  EXPECT_EQ(ParseBody(ManyEvents(11), {.max_events_per_request = 10}).rejection->status, 413);
  EXPECT_FALSE(ParseBody(ManyEvents(2500), {.max_events_per_request = 3000}).rejection);
}

TEST(RequestParserTest, ApiKeyIsReturnedWhenEventsAreInvalid) {
  ParsedRequest r = ParseBody(R"({"api_key":"key-9","events":[{"event_type":"e"}]})");
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.api_key, "key-9");
}

TEST(RequestParserTest, ParserIsReusable) {
  RequestParser parser;
  RequestContext context{.upload_time = kUpload};
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(parser.Parse("{", context).rejection);
    ParsedRequest r = parser.Parse(Body(R"([{"user_id":"user-1","event_type":"e"}])"), context);
    ASSERT_FALSE(r.rejection);
    EXPECT_EQ(r.events.size(), 1u);
  }
}

// ---------------------------------------------------------------------------------------------
// Property-based round trip: valid events generated with nlohmann (fixed seed) come back intact.

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Coin() { return Int(0, 1) == 1; }

  // Valid UTF-8 text: ASCII incl. control characters and quotes, 2-, 3- and 4-byte characters.
  std::string Text(int min_len, int max_len) {
    static const std::vector<std::string> kPieces = {"a",
                                                     "Z",
                                                     "0",
                                                     " ",
                                                     "\"",
                                                     "\\",
                                                     "/",
                                                     "\n",
                                                     "\t",
                                                     std::string(1, '\x01'),
                                                     "\x7f",
                                                     "\xc3\xa9",
                                                     "\xe4\xb8\xad",
                                                     "\xf0\x9f\x98\x80",
                                                     "$",
                                                     "-"};
    std::string s;
    int n = Int(min_len, max_len);
    for (int i = 0; i < n; ++i) s += kPieces[Int(0, static_cast<int>(kPieces.size()) - 1)];
    return s;
  }

  std::string Id() { return "id-" + Text(2, 12); }  // >= 5 code points, never forbidden

  json Value(int depth) {
    switch (Int(0, depth >= 4 ? 4 : 6)) {
      case 0:
        return Text(0, 8);
      case 1:
        return std::uniform_int_distribution<int64_t>()(rng_);
      case 2:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
      case 3:
        return Coin();
      case 4:
        return nullptr;
      case 5: {
        json a = json::array();
        for (int i = Int(0, 3); i > 0; --i) a.push_back(Value(depth + 1));
        return a;
      }
      default:
        return Object(depth + 1);
    }
  }

  json Object(int depth) {
    json o = json::object();
    for (int i = Int(0, 4); i > 0; --i) o[Text(0, 6)] = Value(depth);
    return o;
  }

  json Event() {
    json e = json::object();
    e["event_type"] = Text(1, 20);
    if (Coin()) e["user_id"] = Id();
    if (Coin() || !e.contains("user_id")) e["device_id"] = Id();
    if (Coin()) e["time"] = kUploadMs - Int(0, 1'000'000'000);
    if (Coin()) e["insert_id"] = Text(0, 30);
    if (Coin()) e["session_id"] = kUploadMs - Int(0, 100000);
    if (Coin()) e["country"] = Text(0, 10);
    if (Coin()) e["price"] = std::uniform_real_distribution<double>(0, 1000)(rng_);
    if (Coin()) e["quantity"] = Int(-5, 100);
    if (Coin()) e["event_properties"] = Object(1);
    if (Coin()) e["user_properties"] = Object(1);
    if (Coin()) e["extra_sdk_key"] = Value(1);
    return e;
  }

 private:
  std::mt19937_64 rng_;
};

TEST(RequestParserTest, PropertyRoundTripOfGeneratedEvents) {
  Generator gen(20261126);
  RequestParser parser;
  int events_checked = 0;
  for (int request = 0; request < 200; ++request) {
    json body = {{"api_key", "key-" + std::to_string(request)}, {"events", json::array()}};
    for (int i = gen.Int(1, 20); i > 0; --i) body["events"].push_back(gen.Event());
    ParsedRequest r = parser.Parse(body.dump(), {.upload_time = kUpload});
    ASSERT_FALSE(r.rejection) << r.rejection->body << "\n" << body.dump();
    ASSERT_EQ(r.events.size(), body["events"].size());
    for (size_t i = 0; i < r.events.size(); ++i) {
      const json& in = body["events"][i];
      const Event& out = r.events[i];
      SCOPED_TRACE(in.dump());
      EXPECT_EQ(out.event_type, in["event_type"].get<std::string>());
      EXPECT_EQ(out.user_id, in.value("user_id", ""));
      EXPECT_EQ(out.device_id, in.value("device_id", ""));
      EXPECT_EQ(out.time_ms, in.value("time", kUploadMs));
      EXPECT_EQ(out.insert_id, in.value("insert_id", ""));
      EXPECT_EQ(out.session_id, in.value("session_id", kNoSession));
      EXPECT_EQ(out.attribute(Attribute::kCountry), in.value("country", ""));
      if (in.contains("price")) {
        EXPECT_EQ(out.price, in["price"].get<double>());
      } else {
        EXPECT_FALSE(out.price);
      }
      if (in.contains("quantity")) {
        EXPECT_EQ(out.quantity, in["quantity"].get<int64_t>());
      }
      for (auto [key, field] : {std::pair{"event_properties", JsonField::kEventProperties},
                                std::pair{"user_properties", JsonField::kUserProperties}}) {
        if (!in.contains(key)) {
          EXPECT_EQ(out.json_field(field), "");
          continue;
        }
        json reparsed = json::parse(out.json_field(field));
        EXPECT_EQ(reparsed, in[key]) << out.json_field(field);
        // Compact: nlohmann's dump of the same object has the same length or is longer only by
        // number formatting, never by whitespace.
        EXPECT_EQ(out.json_field(field).find(": "), std::string::npos);
      }
      ++events_checked;
    }
  }
  EXPECT_GT(events_checked, 1000);
}

// Every prefix of a valid body, and random byte mutations, parse without crashing; a prefix is
// never accepted.
TEST(RequestParserTest, TruncationsAndMutationsNeverCrash) {
  Generator gen(99);
  json body = {{"api_key", "k"}, {"events", json::array()}};
  for (int i = 0; i < 5; ++i) body["events"].push_back(gen.Event());
  std::string text = body.dump();
  RequestParser parser;
  RequestContext context{.upload_time = kUpload};
  for (size_t n = 0; n < text.size(); ++n) {
    ParsedRequest r = parser.Parse(std::string_view(text).substr(0, n), context);
    ASSERT_TRUE(r.rejection) << n;
    EXPECT_TRUE(r.events.empty());
  }
  std::mt19937 rng(5);
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string mutated = text;
    for (int k = rng() % 4; k >= 0; --k) mutated[rng() % mutated.size()] = static_cast<char>(rng());
    ParsedRequest r = parser.Parse(mutated, context);
    if (!r.rejection) {
      ++accepted;
    } else {
      EXPECT_TRUE(r.events.empty());
      EXPECT_TRUE(json::accept(r.rejection->body));
    }
  }
  EXPECT_GE(accepted, 0);
}

}  // namespace
}  // namespace cohort::ingest::amplitude
