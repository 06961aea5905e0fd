#include "ingest/langfuse/ingestion_request.h"

#include <string>

#include "gtest/gtest.h"
#include "ingest/langfuse/ingestion_response.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::langfuse {
namespace {

using nlohmann::json;

std::string Batch(const json& items) { return json{{"batch", items}}.dump(); }

json Envelope(const std::string& id, const std::string& type, json body) {
  return {{"id", id}, {"timestamp", "2024-05-01T12:00:00.000Z"}, {"type", type}, {"body", body}};
}

TEST(IngestionRequestTest, ParsesEveryType) {
  const json obs = {{"id", "o1"}, {"traceId", "t1"}, {"name", "n"}};
  json items = json::array({
      Envelope("e1", "trace-create", {{"id", "t1"}, {"name", "message"}}),
      Envelope("e2", "span-create", obs),
      Envelope("e3", "span-update", obs),
      Envelope("e4", "generation-create", obs),
      Envelope("e5", "generation-update", obs),
      Envelope("e6", "event-create", obs),
      Envelope("e7", "score-create", {{"traceId", "t1"}, {"name", "feedback"}, {"value", 1}}),
      Envelope("e8", "sdk-log", {{"log", "hello"}}),
      Envelope("e9", "observation-create", {{"id", "o2"}, {"type", "GENERATION"}}),
      Envelope("e10", "observation-update", {{"id", "o2"}, {"type", "SPAN"}}),
      Envelope("e11", "observation-create", {{"type", "EVENT"}}),
  });
  absl::StatusOr<ParsedIngestion> p = ParseIngestion(Batch(items), {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->errors.empty()) << p->errors[0].message;
  ASSERT_EQ(p->items.size(), 11u);
  EXPECT_EQ(p->batch_size, 11);
  EXPECT_EQ(p->items[0].family, Family::kTrace);
  EXPECT_EQ(p->items[0].timestamp_ms, 1714564800000);
  EXPECT_EQ(p->items[2].family, Family::kSpan);
  EXPECT_TRUE(p->items[2].is_update);
  EXPECT_EQ(p->items[4].family, Family::kGeneration);
  EXPECT_EQ(p->items[5].family, Family::kEvent);
  EXPECT_EQ(p->items[6].family, Family::kScore);
  EXPECT_EQ(p->items[6].body_id, "e7");  // no body id: the envelope id
  EXPECT_EQ(p->items[7].family, Family::kLog);
  EXPECT_EQ(p->items[8].family, Family::kGeneration);
  EXPECT_EQ(p->items[9].family, Family::kSpan);
  EXPECT_EQ(p->items[10].family, Family::kEvent);
  EXPECT_EQ(ItemTypeName(p->items[4].type), "generation-update");
}

TEST(IngestionRequestTest, BadItemsArePerItemErrorsNamingTheField) {
  struct Case {
    json entry;
    std::string id;
    std::string message_contains;
  };
  const Case cases[] = {
      {json("x"), "", "item"},
      {{{"timestamp", "2024-05-01T12:00:00Z"}, {"type", "sdk-log"}, {"body", {{"log", 1}}}},
       "",
       "id"},
      {{{"id", "a"}, {"timestamp", "yesterday"}, {"type", "sdk-log"}, {"body", {{"log", 1}}}},
       "a",
       "timestamp"},
      {Envelope("b", "trace-delete", json::object()), "b", "type: unknown type"},
      {{{"id", "c"}, {"timestamp", "2024-05-01T12:00:00Z"}, {"type", "trace-create"}}, "c", "body"},
      {Envelope("d", "trace-create", {{"userId", 5}}), "d", "body.userId"},
      {Envelope("e", "trace-create", {{"tags", json::array({"a", 1})}}), "e", "body.tags"},
      {Envelope("f", "span-create", {{"startTime", "soon"}}), "f", "body.startTime"},
      {Envelope("g", "generation-create", {{"usage", {{"input", "ten"}}}}), "g", "body.usage"},
      {Envelope("h", "generation-create", {{"level", "LOUD"}}), "h", "body.level"},
      {Envelope("i", "span-update", {{"name", "no id"}}), "i", "body.id"},
      {Envelope("j", "score-create", {{"traceId", "t"}, {"value", 1}}), "j", "body.name"},
      {Envelope("k", "score-create", {{"traceId", "t"}, {"name", "n"}, {"value", true}}), "k",
       "body.value"},
      {Envelope("l", "observation-create", {{"type", "TOOL"}}), "l", "body.type"},
      {Envelope("m", "sdk-log", json::object()), "m", "body.log"},
      {Envelope("n", "generation-create", {{"promptVersion", 1.5}}), "n", "body.promptVersion"},
  };
  for (const Case& c : cases) {
    json items = json::array({c.entry, Envelope("ok", "sdk-log", {{"log", "x"}})});
    absl::StatusOr<ParsedIngestion> p = ParseIngestion(Batch(items), {});
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_EQ(p->errors.size(), 1u) << c.entry.dump();
    EXPECT_EQ(p->errors[0].id, c.id);
    EXPECT_EQ(p->errors[0].status, 400);
    EXPECT_NE(p->errors[0].message.find(c.message_contains), std::string::npos)
        << p->errors[0].message;
    ASSERT_EQ(p->items.size(), 1u);  // the good item survives
    EXPECT_EQ(p->items[0].id, "ok");
  }
}

TEST(IngestionRequestTest, ErrorsCarryTheDeclaredTypeWhenKnown) {
  json items = json::array({Envelope("a", "span-create", {{"startTime", 1}}),
                            Envelope("b", "span-explode", json::object()),
                            Envelope("c", std::string(100, 't'), json::object())});
  absl::StatusOr<ParsedIngestion> p = ParseIngestion(Batch(items), {});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->errors.size(), 3u);
  EXPECT_EQ(p->errors[0].type, "span-create");
  EXPECT_EQ(p->errors[1].type, "unknown");
  EXPECT_EQ(p->errors[1].message, "type: unknown type \"span-explode\"");
  EXPECT_EQ(p->errors[2].message, "type: unknown type");  // long values are not quoted
}

TEST(IngestionRequestTest, NullFieldsAndUnknownKeysAreFine) {
  json items = json::array({Envelope("a", "generation-create",
                                     {{"id", "g"},
                                      {"endTime", nullptr},
                                      {"usage", {{"promptTokens", 3}, {"unit", "TOKENS"}}},
                                      {"somethingNew", {1, 2}}})});
  absl::StatusOr<ParsedIngestion> p = ParseIngestion(Batch(items), {});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->errors.empty());
  EXPECT_EQ(p->items.size(), 1u);
}

TEST(IngestionRequestTest, WholeRequestErrors) {
  for (const std::string& body :
       {std::string("not json"), std::string("[]"), std::string("{\"batch\":{}}"),
        std::string("{}"), std::string(1000, '[') + std::string(1000, ']')}) {
    absl::StatusOr<ParsedIngestion> p = ParseIngestion(body, {});
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << body.substr(0, 20);
  }
  json items = json::array();
  for (int i = 0; i < 3; ++i) items.push_back(Envelope("x", "sdk-log", {{"log", 1}}));
  EXPECT_FALSE(ParseIngestion(Batch(items), {.max_items = 2}).ok());
  EXPECT_TRUE(ParseIngestion(Batch(items), {.max_items = 3}).ok());
  // Brackets inside strings do not count as nesting.
  json deep_string = json::array({Envelope("s", "sdk-log", {{"log", std::string(500, '[')}})});
  EXPECT_TRUE(ParseIngestion(Batch(deep_string), {}).ok());
}

TEST(IngestionResponseTest, MultiStatusBody) {
  const json body = json::parse(MultiStatusBody({"a", "b\""}, {{"c", 400, "body.x: bad"}}));
  EXPECT_EQ(body, json::parse(R"({"successes":[{"id":"a","status":201},{"id":"b\"","status":201}],
    "errors":[{"id":"c","status":400,"message":"body.x: bad"}]})"));
  const json error = json::parse(ErrorBody(401, "Unauthorized"));
  EXPECT_EQ(error["code"], 401);
  EXPECT_EQ(error["message"], "Unauthorized");
}

}  // namespace
}  // namespace cohort::ingest::langfuse
