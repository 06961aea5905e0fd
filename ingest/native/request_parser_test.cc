#include "ingest/native/request_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::native {
namespace {

const absl::Time kReceived = absl::FromUnixMillis(1'764'165'600'000);  // 2025-11-26T14:00:00Z

std::string Envelope(std::string id = "e-1", std::string extra = "") {
  return R"({"eventId":")" + id +
         R"(","eventType":"deploy","timestamp":"2025-11-26T13:59:00.250Z","source":"ci",)"
         R"("payload":{"user":{"id":"u-1"},"n":1.5,"ok":true,"none":null})" +
         extra + "}";
}

ParsedRequest Parse(std::string_view body, int64_t max_events = kDefaultMaxEvents) {
  RequestParser parser(ParserOptions{max_events});
  return parser.Parse(body, kReceived);
}

TEST(NativeRequestParserTest, SingleEnvelope) {
  const ParsedRequest r = Parse(Envelope());
  ASSERT_FALSE(r.rejection.has_value()) << r.rejection->Body();
  ASSERT_EQ(r.events.size(), 1u);
  const Event& e = r.events[0];
  EXPECT_EQ(e.source, EventSource::kNative);
  EXPECT_EQ(e.insert_id, "e-1");
  EXPECT_EQ(e.event_type, "deploy");
  EXPECT_EQ(e.time_ms, 1'764'165'540'250);
  EXPECT_EQ(e.server_received_time_ms, 1'764'165'600'000);
  EXPECT_EQ(e.json_field(JsonField::kEventProperties),
            R"({"user":{"id":"u-1"},"n":1.5,"ok":true,"none":null})");
  EXPECT_EQ(e.json_field(JsonField::kIngestionMetadata), R"({"source_name":"ci"})");
  EXPECT_EQ(e.user_id, "");
  EXPECT_EQ(e.device_id, "");
  EXPECT_EQ(e.project, "");
}

TEST(NativeRequestParserTest, ArrayAndEventsObjectAreTheSame) {
  const std::string list = "[" + Envelope("a") + "," + Envelope("b") + "]";
  const ParsedRequest array = Parse(list);
  const ParsedRequest wrapped = Parse(R"({"events":)" + list + R"(,"ignored":1})");
  ASSERT_FALSE(array.rejection.has_value());
  ASSERT_FALSE(wrapped.rejection.has_value());
  ASSERT_EQ(array.events.size(), 2u);
  EXPECT_EQ(array.events, wrapped.events);
  EXPECT_EQ(array.events[1].insert_id, "b");
}

TEST(NativeRequestParserTest, OptionalMembersAndUnknownOnes) {
  const ParsedRequest r = Parse(
      R"({"eventId":"x","eventType":"t","timestamp":"2025-11-26T15:00:00+01:00","source":null,)"
      R"("payload":null,"later":{"a":1},"eventId":"y"})");
  ASSERT_FALSE(r.rejection.has_value()) << r.rejection->Body();
  EXPECT_EQ(r.events[0].insert_id, "y");  // the last duplicate wins
  EXPECT_EQ(r.events[0].time_ms, 1'764'165'600'000);
  EXPECT_EQ(r.events[0].json_field(JsonField::kEventProperties), "");
  EXPECT_EQ(r.events[0].json_field(JsonField::kIngestionMetadata), "");
}

struct RejectCase {
  std::string body;
  int status;
  std::string field;
};

TEST(NativeRequestParserTest, Rejections) {
  const std::string ok = Envelope();
  auto with = [](std::string member) {
    return R"({"eventId":"e","eventType":"t","timestamp":"2025-11-26T13:00:00Z",)" + member + "}";
  };
  const std::vector<RejectCase> cases = {
      {"", 400, ""},
      {"{", 400, ""},
      {"\"text\"", 400, ""},
      {"42", 400, ""},
      {"[]", 400, "events"},
      {R"({"events":{}})", 400, "events"},
      {R"({"events":[]})", 400, "events"},
      {"[1]", 400, "events[0]"},
      {"[" + ok + ",null]", 400, "events[1]"},
      {R"({"eventType":"t","timestamp":"2025-11-26T13:00:00Z"})", 400, "eventId"},
      {R"({"eventId":"","eventType":"t","timestamp":"2025-11-26T13:00:00Z"})", 400, "eventId"},
      {R"({"eventId":7,"eventType":"t","timestamp":"2025-11-26T13:00:00Z"})", 400, "eventId"},
      {R"({"eventId":")" + std::string(1025, 'x') +
           R"(","eventType":"t","timestamp":"2025-11-26T13:00:00Z"})",
       400, "eventId"},
      {R"({"eventId":"e","timestamp":"2025-11-26T13:00:00Z"})", 400, "eventType"},
      {R"({"eventId":"e","eventType":"","timestamp":"2025-11-26T13:00:00Z"})", 400, "eventType"},
      {R"({"eventId":"e","eventType":"t"})", 400, "timestamp"},
      {R"({"eventId":"e","eventType":"t","timestamp":1764165600000})", 400, "timestamp"},
      {with(R"("source":1)"), 400, "source"},
      {with(R"("payload":[1])"), 400, "payload"},
      {with(R"("payload":"{}")"), 400, "payload"},
      {with(R"("payload":)" + std::string(41, '[') + std::string(41, ']')), 400, "payload"},
      {"[" + ok + "," + ok + "," +
           R"({"eventId":"e","eventType":"t","timestamp":"2025-11-26 13:00:00Z"})" + "]",
       400, "events[2].timestamp"},
      {R"({"events":[)" + ok + R"(,{"eventId":"e","eventType":"t","timestamp":"x"}]})", 400,
       "events[1].timestamp"},
      {"\xff", 400, ""},
  };
  for (const RejectCase& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 120));
    const ParsedRequest r = Parse(c.body);
    ASSERT_TRUE(r.rejection.has_value());
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(r.rejection->status, c.status);
    EXPECT_EQ(r.rejection->field, c.field) << r.rejection->error;
    const nlohmann::json body = nlohmann::json::parse(r.rejection->Body());
    EXPECT_EQ(body["code"], c.status);
    EXPECT_EQ(body["field"], c.field);
    EXPECT_FALSE(body["error"].get<std::string>().empty());
  }
}

TEST(NativeRequestParserTest, TooManyEventsIs413) {
  const ParsedRequest r = Parse("[" + Envelope("a") + "," + Envelope("b") + "]", 1);
  ASSERT_TRUE(r.rejection.has_value());
  EXPECT_EQ(r.rejection->status, 413);
  EXPECT_EQ(r.rejection->field, "events");
  EXPECT_FALSE(Parse("[" + Envelope("a") + "]", 1).rejection.has_value());
}

TEST(NativeRequestParserTest, TimestampBounds) {
  auto at = [](std::string ts) {
    return Parse(R"({"eventId":"e","eventType":"t","timestamp":")" + ts + R"("})");
  };
  EXPECT_FALSE(at("2025-11-26T15:00:00Z").rejection.has_value());  // exactly 1 h ahead
  EXPECT_TRUE(at("2025-11-26T15:00:00.001Z").rejection.has_value());
  EXPECT_FALSE(at("1970-01-01T00:00:00Z").rejection.has_value());
  EXPECT_TRUE(at("1969-12-31T23:59:59Z").rejection.has_value());
}

TEST(NativeRequestParserTest, Rfc3339) {
  struct Case {
    std::string text;
    std::optional<int64_t> ms;
  };
  const std::vector<Case> cases = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01t00:00:01z", 1000},
      {"1970-01-01T00:00:00.1Z", 100},
      {"1970-01-01T00:00:00.123456789Z", 123},
      {"1970-01-01T01:00:00+01:00", 0},
      {"1969-12-31T23:30:00-00:30", 0},
      {"2024-02-29T00:00:00Z", 1'709'164'800'000},
      {"2025-02-29T00:00:00Z", std::nullopt},
      {"2025-13-01T00:00:00Z", std::nullopt},
      {"2025-01-01T24:00:00Z", std::nullopt},
      {"2025-01-01T23:59:60Z", std::nullopt},
      {"2025-01-01T00:00:00", std::nullopt},
      {"2025-01-01T00:00:00.Z", std::nullopt},
      {"2025-01-01T00:00:00+0100", std::nullopt},
      {"2025-01-01 00:00:00Z", std::nullopt},
      {" 2025-01-01T00:00:00Z", std::nullopt},
      {"2025-01-01T00:00:00Z ", std::nullopt},
      {"2025-1-01T00:00:00Z", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseRfc3339Ms(c.text), c.ms) << c.text;
  }
}

TEST(NativeRequestParserTest, PayloadStringsAreTruncatedAndEscaped) {
  const std::string long_value(1100, 'v');
  const ParsedRequest r = Parse(
      R"({"eventId":"e","eventType":"t","timestamp":"2025-11-26T13:00:00Z","payload":{"k":")" +
      long_value + R"(","q":"a\"b\u00e9\n"}})");
  ASSERT_FALSE(r.rejection.has_value());
  EXPECT_EQ(r.events[0].json_field(JsonField::kEventProperties),
            R"({"k":")" + std::string(1024, 'v') + R"(","q":"a\"bé\n"})");
}

TEST(NativeRequestParserTest, GarbageNeverCrashes) {
  RequestParser parser;
  const std::string seed = "[" + Envelope("a") + "," + Envelope("b") + "]";
  for (size_t cut = 0; cut <= seed.size(); ++cut) {
    const ParsedRequest r = parser.Parse(seed.substr(0, cut), kReceived);
    EXPECT_EQ(r.rejection.has_value(), cut != seed.size());
  }
  for (size_t i = 0; i < seed.size(); ++i) {
    std::string mutated = seed;
    mutated[i] = static_cast<char>(mutated[i] ^ 0x5a);
    const ParsedRequest r = parser.Parse(mutated, kReceived);
    EXPECT_TRUE(r.rejection.has_value() || r.events.size() == 2u);
  }
}

}  // namespace
}  // namespace cohort::ingest::native
