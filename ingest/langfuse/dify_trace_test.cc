// Dify-shaped ingestion requests (shapes from shared/reference/dify-langfuse.md: Dify's
// langfuse_trace.py sends one item per request) through parse → assemble → events.
#include <map>
#include <string>
#include <vector>

#include "config/ingest_config.h"
#include "gtest/gtest.h"
#include "ingest/langfuse/ingestion_request.h"
#include "ingest/langfuse/trace_assembler.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::langfuse {
namespace {

using nlohmann::json;

json Item(const std::string& id, const std::string& type, json body) {
  // Dify's timestamps: Python naive datetimes (UTC).
  return {{"id", id}, {"timestamp", "2024-05-01T12:00:03.000000"}, {"type", type}, {"body", body}};
}

const json kMessageMetadata = {{"app_id", "app-1"},           {"app_name", "Support bot"},
                               {"tenant_id", "tenant-9"},     {"workspace_name", "Acme"},
                               {"conversation_id", "conv-1"}, {"message_id", "msg-1"},
                               {"from_source", "api"},        {"status", "succeeded"},
                               {"ls_provider", "openai"},     {"ls_model_name", "gpt-4o"}};

json MessageTrace() {
  return Item("env-trace", "trace-create",
              {{"id", "msg-1"},
               {"name", "message"},
               {"userId", "end-user-42"},
               {"sessionId", "conv-1"},
               {"input", "What is my order status?"},
               {"output", "It shipped."},
               {"metadata", kMessageMetadata},
               {"tags", {"chat"}}});
}

json MessageGeneration() {
  return Item("env-gen", "generation-create",
              {{"id", "gen-1"},
               {"traceId", "msg-1"},
               {"name", "llm"},
               {"model", "gpt-4o"},
               {"startTime", "2024-05-01T12:00:00.000000"},
               {"endTime", "2024-05-01T12:00:02.500000"},
               {"completionStartTime", "2024-05-01T12:00:00.400000"},
               {"input", json::array({{{"role", "user"}, {"content", "secret prompt"}}})},
               {"output", "secret answer"},
               {"usage",
                {{"input", 100},
                 {"output", 20},
                 {"total", 120},
                 {"unit", "TOKENS"},
                 {"totalCost", 0.0012}}},
               {"metadata", kMessageMetadata}});
}

class DifyTraceTest : public ::testing::Test {
 protected:
  // Sends each body as one request; marks what it made as stored (the 207 path) and returns the
  // events in order.
  std::vector<Event> Send(const std::vector<json>& requests, bool store = true) {
    std::vector<Event> events;
    for (const json& items : requests) {
      absl::StatusOr<ParsedIngestion> p = ParseIngestion(json{{"batch", items}}.dump(), {});
      EXPECT_TRUE(p.ok()) << p.status();
      EXPECT_TRUE(p->errors.empty()) << p->errors[0].message;
      Assembly a = assembler_.Apply(p->items, 1714564805000);
      if (store) assembler_.MarkEmitted(a.entity_keys);
      for (Event& e : a.events) events.push_back(std::move(e));
    }
    return events;
  }
  static json Props(const Event& e) {
    return json::parse(e.json_field(JsonField::kEventProperties));
  }

  SimulatedClock clock_{absl::FromUnixSeconds(1714564805)};
  AssemblerOptions options_{.clock = &clock_};
  TraceAssembler assembler_{options_};
};

TEST_F(DifyTraceTest, MessageTraceWithGeneration) {
  std::vector<Event> events =
      Send({json::array({MessageTrace()}), json::array({MessageGeneration()})});
  ASSERT_EQ(events.size(), 2u);
  const Event& m = events[0];
  EXPECT_EQ(m.event_type, "dify.message");
  EXPECT_EQ(m.project, config::kDifyProject);
  EXPECT_EQ(m.source, EventSource::kDify);
  EXPECT_EQ(m.user_id, "end-user-42");
  EXPECT_EQ(m.device_id, "");
  EXPECT_EQ(m.session_id, kNoSession);
  EXPECT_EQ(m.time_ms, 1714564803000);  // no body timestamp: the envelope's, read as UTC
  EXPECT_EQ(m.server_received_time_ms, 1714564805000);
  EXPECT_EQ(m.insert_id, InsertIdFor(Family::kTrace, "msg-1"));
  const json mp = Props(m);
  EXPECT_EQ(mp["conversation_id"], "conv-1");
  EXPECT_EQ(mp["app_id"], "app-1");
  EXPECT_EQ(mp["app_name"], "Support bot");
  EXPECT_EQ(mp["model"], "gpt-4o");
  EXPECT_EQ(mp["model_provider"], "openai");
  EXPECT_EQ(mp["status"], "succeeded");
  EXPECT_EQ(mp["trace_id"], "msg-1");
  EXPECT_EQ(mp["tags"], json::array({"chat"}));
  EXPECT_FALSE(mp.contains("input"));  // content is dropped by default
  EXPECT_FALSE(mp.contains("output"));

  const Event& g = events[1];
  EXPECT_EQ(g.event_type, "dify.llm_generation");
  EXPECT_EQ(g.user_id, "end-user-42");  // inherited from the trace
  EXPECT_EQ(g.time_ms, 1714564800000);  // startTime
  const json gp = Props(g);
  EXPECT_EQ(gp["trace_id"], "msg-1");
  EXPECT_EQ(gp["trace_name"], "message");
  EXPECT_EQ(gp["observation_id"], "gen-1");
  EXPECT_EQ(gp["conversation_id"], "conv-1");
  EXPECT_EQ(gp["input_tokens"], 100);
  EXPECT_EQ(gp["output_tokens"], 20);
  EXPECT_EQ(gp["total_tokens"], 120);
  EXPECT_EQ(gp["token_unit"], "TOKENS");
  EXPECT_DOUBLE_EQ(gp["cost"].get<double>(), 0.0012);
  EXPECT_EQ(gp["latency_ms"], 2500);
  EXPECT_EQ(gp["time_to_first_token_ms"], 400);
  EXPECT_EQ(gp.dump().find("secret"), std::string::npos);
}

TEST_F(DifyTraceTest, CaptureContentKeepsPromptAndAnswer) {
  AssemblerOptions options = options_;
  options.capture_content = true;
  TraceAssembler assembler(options);
  absl::StatusOr<ParsedIngestion> p =
      ParseIngestion(json{{"batch", {MessageTrace(), MessageGeneration()}}}.dump(), {});
  ASSERT_TRUE(p.ok());
  Assembly a = assembler.Apply(p->items, 0);
  ASSERT_EQ(a.events.size(), 2u);
  EXPECT_EQ(Props(a.events[0])["input"], "What is my order status?");
  EXPECT_EQ(Props(a.events[1])["output"], "secret answer");
}

TEST_F(DifyTraceTest, WorkflowWithNodeSpansAndOpenAiUsage) {
  const json trace = Item("e1", "trace-create",
                          {{"id", "run-1"},
                           {"name", "workflow"},
                           {"userId", "acct-7"},
                           {"sessionId", "conv-2"},
                           {"metadata", {{"app_id", "app-2"}, {"workflow_run_id", "run-1"}}}});
  const json code_node =
      Item("e2", "span-create",
           {{"id", "node-exec-1"},
            {"traceId", "run-1"},
            {"name", "Format answer"},
            {"startTime", "2024-05-01T12:00:00+00:00"},
            {"endTime", "2024-05-01T12:00:00.250+00:00"},
            {"metadata", {{"node_type", "code"}, {"status", "succeeded"}, {"node_id", "n1"}}}});
  const json llm_node =
      Item("e3", "generation-create",
           {{"id", "node-exec-2"},
            {"traceId", "run-1"},
            {"name", "LLM"},
            {"model", "claude-3"},
            {"startTime", "2024-05-01T12:00:01Z"},
            {"endTime", "2024-05-01T12:00:04Z"},
            {"usage", {{"promptTokens", 50}, {"completionTokens", 7}}},
            {"metadata", {{"node_type", "llm"}, {"node_name", "Answer"}, {"status", "failed"}}},
            {"level", "ERROR"},
            {"statusMessage", "rate limited"}});
  std::vector<Event> events =
      Send({json::array({trace}), json::array({code_node}), json::array({llm_node})});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event_type, "dify.workflow_run");
  EXPECT_EQ(events[1].event_type, "dify.workflow_node");
  const json np = Props(events[1]);
  EXPECT_EQ(np["node_type"], "code");
  EXPECT_EQ(np["node_name"], "Format answer");  // the span name
  EXPECT_EQ(np["status"], "succeeded");
  EXPECT_EQ(np["latency_ms"], 250);
  EXPECT_EQ(np["app_id"], "app-2");  // from the trace
  EXPECT_EQ(np["conversation_id"], "conv-2");
  EXPECT_EQ(events[1].user_id, "acct-7");
  EXPECT_EQ(events[2].event_type, "dify.llm_generation");
  const json lp = Props(events[2]);
  EXPECT_EQ(lp["node_type"], "llm");
  EXPECT_EQ(lp["node_name"], "Answer");
  EXPECT_EQ(lp["input_tokens"], 50);
  EXPECT_EQ(lp["output_tokens"], 7);
  EXPECT_EQ(lp["total_tokens"], 57);  // summed when not sent
  EXPECT_EQ(lp["model"], "claude-3");
  EXPECT_EQ(lp["level"], "ERROR");
  EXPECT_EQ(lp["status"], "failed");
  EXPECT_EQ(lp["status_message"], "rate limited");
  EXPECT_EQ(lp["latency_ms"], 3000);
}

TEST_F(DifyTraceTest, ToolModerationAndRetrievalSpans) {
  auto span = [](const std::string& id, const std::string& name, json metadata) {
    return Item("env-" + id, "span-create",
                {{"id", id},
                 {"traceId", "msg-1"},
                 {"name", name},
                 {"startTime", "2024-05-01T12:00:00Z"},
                 {"endTime", "2024-05-01T12:00:01Z"},
                 {"metadata", metadata}});
  };
  std::vector<Event> events =
      Send({json::array({MessageTrace()}),
            json::array({span("s1", "google_search", {{"message_id", "msg-1"}})}),
            json::array({span("s2", "moderation", json::object())}),
            json::array({span("s3", "dataset_retrieval", json::object())}),
            json::array({span("s5", "suggested_question", json::object())}),
            json::array({span("s4", "weather", {{"tool_name", "weather"}})})});
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[1].event_type, "dify.tool_call");
  EXPECT_EQ(Props(events[1])["tool_name"], "google_search");
  EXPECT_EQ(events[2].event_type, "dify.moderation");
  EXPECT_EQ(events[3].event_type, "dify.dataset_retrieval");
  EXPECT_EQ(events[4].event_type, "dify.suggested_question");
  EXPECT_EQ(events[5].event_type, "dify.tool_call");
  EXPECT_EQ(Props(events[5])["tool_name"], "weather");
}

TEST_F(DifyTraceTest, ConversationNameGenerationIsNotUserActivity) {
  const json trace = Item("e1", "trace-create",
                          {{"id", "gen-name-1"},
                           {"name", "generate_conversation_name"},
                           {"userId", "tenant-9"},
                           {"metadata", {{"tenant_id", "tenant-9"}}}});
  const json span = Item("e2", "span-create",
                         {{"id", "s1"},
                          {"traceId", "gen-name-1"},
                          {"name", "generate_conversation_name"},
                          {"startTime", "2024-05-01T12:00:00Z"},
                          {"endTime", "2024-05-01T12:00:01Z"}});
  absl::StatusOr<ParsedIngestion> p = ParseIngestion(json{{"batch", {trace, span}}}.dump(), {});
  ASSERT_TRUE(p.ok());
  Assembly a = assembler_.Apply(p->items, 0);
  EXPECT_TRUE(a.events.empty());
  EXPECT_EQ(a.dispositions, (std::vector<Disposition>{Disposition::kSystem, Disposition::kSystem}));
  // Its generation, sent alone (the trace known from before), is not user activity either.
  EXPECT_TRUE(Send({json::array({Item("e3", "generation-create",
                                      {{"id", "g1"},
                                       {"traceId", "gen-name-1"},
                                       {"name", "llm"},
                                       {"endTime", "2024-05-01T12:00:01Z"}})})})
                  .empty());
}

TEST_F(DifyTraceTest, UpdatesMergeIntoOneEvent) {
  const json create = Item("e1", "generation-create",
                           {{"id", "g1"},
                            {"traceId", "msg-1"},
                            {"name", "llm"},
                            {"model", "gpt-4o"},
                            {"startTime", "2024-05-01T12:00:00Z"},
                            {"metadata", {{"app_id", "app-1"}}}});
  const json update =
      Item("e2", "generation-update",
           {{"id", "g1"},
            {"endTime", "2024-05-01T12:00:01.5Z"},
            {"model", nullptr},  // null never overwrites
            {"usage", {{"promptTokens", 10}, {"completionTokens", 5}, {"totalTokens", 15}}},
            {"metadata", {{"status", "succeeded"}}}});
  std::vector<Event> events = Send({json::array({create})});
  EXPECT_TRUE(events.empty());  // not finished yet
  events = Send({json::array({update})});
  ASSERT_EQ(events.size(), 1u);
  const json p = Props(events[0]);
  EXPECT_EQ(p["model"], "gpt-4o");
  EXPECT_EQ(p["total_tokens"], 15);
  EXPECT_EQ(p["latency_ms"], 1500);
  EXPECT_EQ(p["app_id"], "app-1");
  EXPECT_EQ(p["status"], "succeeded");
  EXPECT_EQ(events[0].device_id, "dify-trace-msg-1");  // trace unknown: an actor all the same
  // A late update of a finished generation makes no second event.
  EXPECT_TRUE(Send({json::array({update})}).empty());
}

TEST_F(DifyTraceTest, TraceCreateThenUpdateIsOneEventAndRefreshesContext) {
  const json bare = Item("e0", "trace-create", {{"id", "t1"}});  // SDKs announce the id first
  const json named =
      Item("e1", "trace-create", {{"id", "t1"}, {"name", "message"}, {"userId", "u-1"}});
  const json update = Item("e2", "trace-create", {{"id", "t1"}, {"sessionId", "conv-9"}});
  const json gen = Item("e3", "generation-create",
                        {{"id", "g1"}, {"traceId", "t1"}, {"endTime", "2024-05-01T12:00:01Z"}});
  std::vector<Event> events =
      Send({json::array({bare}), json::array({named}), json::array({update}), json::array({gen})});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_type, "dify.message");
  EXPECT_EQ(events[0].user_id, "u-1");
  EXPECT_EQ(events[1].event_type, "dify.llm_generation");
  EXPECT_EQ(events[1].user_id, "u-1");
  EXPECT_EQ(Props(events[1])["conversation_id"], "conv-9");
}

TEST_F(DifyTraceTest, DuplicatesAndRetries) {
  // Same envelope twice in one batch and again later: one event.
  EXPECT_EQ(
      Send({json::array({MessageTrace(), MessageTrace()}), json::array({MessageTrace()})}).size(),
      1u);
  // A request whose outcome was not stored (429/503) is retried: the retry emits again, with the
  // same insert id, so the dedup window sees one event.
  std::vector<Event> first = Send({json::array({MessageGeneration()})}, /*store=*/false);
  std::vector<Event> retry = Send({json::array({MessageGeneration()})});
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(first[0], retry[0]);
  EXPECT_TRUE(Send({json::array({MessageGeneration()})}).empty());
}

TEST_F(DifyTraceTest, ScoresAndEvents) {
  std::vector<Event> events =
      Send({json::array({MessageTrace()}),
            json::array({Item("e1", "score-create",
                              {{"traceId", "msg-1"}, {"name", "user-feedback"}, {"value", 1}})}),
            json::array({Item("e2", "event-create", {{"traceId", "msg-1"}, {"name", "retry"}})}),
            json::array({Item("e3", "sdk-log", {{"log", "flushed"}})})});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].event_type, "dify.score");
  EXPECT_EQ(events[1].user_id, "end-user-42");
  EXPECT_EQ(Props(events[1])["value"], 1);
  EXPECT_EQ(events[1].insert_id, InsertIdFor(Family::kScore, "e1"));
  EXPECT_EQ(events[2].event_type, "dify.trace_event");
}

}  // namespace
}  // namespace cohort::ingest::langfuse
