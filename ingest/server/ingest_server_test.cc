// IngestServer over loopback: the start order (probes), events through the Amplitude API into a
// real WAL, /metrics, key rotation, refusing to start on bad secrets, and the shutdown order.
#include "ingest/server/ingest_server.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ingest/event/event_codec.h"
#include "ingest/http/http_server.h"
#include "ingest/http/test_client.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest {
namespace {

using http::testing::MakeRequest;
using http::testing::RoundTrip;
using http::testing::TestResponse;
using nlohmann::json;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";
constexpr char kOtherKey[] = "fedcba9876543210fedcba9876543210";

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, path);  // atomic, as a Secret volume update is
}

class IngestServerTest : public ::testing::Test {
 protected:
  IngestServerTest() {
    config_.listeners.address = "127.0.0.1";
    config_.listeners.ingest_port = 0;
    config_.listeners.query_port = 0;
    config_.listeners.metrics_port = 0;
    config_.paths.data_dir = dir_ + "/data";
    config_.auth.api_keys_file = dir_ + "/secrets/api-keys";
    WriteFile(config_.auth.api_keys_file, absl::StrCat(kKey, " web amplitude\n"));
    options_.clock = &clock_;
    options_.secret_check_interval = absl::Seconds(10);
    options_.wal_min_free_bytes = 0;
  }

  void StartServer() {
    absl::StatusOr<std::unique_ptr<IngestServer>> server = IngestServer::Start(config_, options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  TestResponse Get(uint16_t port, const std::string& path) {
    absl::StatusOr<TestResponse> r = RoundTrip(port, MakeRequest("GET", path, ""));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TestResponse{};
  }

  TestResponse PostEvents(const std::string& key, int n, const std::string& prefix) {
    json events = json::array();
    for (int i = 0; i < n; ++i) {
      events.push_back({{"device_id", "device-" + prefix},
                        {"event_type", "click"},
                        {"insert_id", absl::StrCat(prefix, "-", i)}});
    }
    absl::StatusOr<TestResponse> r = RoundTrip(
        server_->ingest_port(),
        MakeRequest("POST", "/2/httpapi", json({{"api_key", key}, {"events", events}}).dump(),
                    {{"Content-Type", "application/json"}}));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TestResponse{};
  }

  int64_t StoredEvents() {
    int64_t n = 0;
    wal::WalReaderPtr reader = server_->wal().NewReader();
    while (true) {
      absl::StatusOr<std::optional<wal::WalRecord>> r = reader->Next(absl::InfinitePast());
      if (!r.ok() || !r->has_value()) break;
      EXPECT_TRUE(DecodeEvent((*r)->payload).ok());
      ++n;
    }
    return n;
  }

  std::string dir_ = http::testing::MakeTempDir();
  SimulatedClock clock_{absl::FromUnixSeconds(1'750'000'000)};
  config::IngestConfig config_ = config::Defaults();
  IngestServerOptions options_;
  std::unique_ptr<IngestServer> server_;
};

TEST_F(IngestServerTest, AcceptsAmplitudeEventsDurablyAndReportsThem) {
  StartServer();
  EXPECT_TRUE(server_->ready());
  EXPECT_EQ(Get(server_->metrics_port(), "/livez").status, 200);
  EXPECT_EQ(Get(server_->metrics_port(), "/readyz").status, 200);

  TestResponse r = PostEvents(kKey, 3, "a");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["events_ingested"], 3);
  EXPECT_EQ(StoredEvents(), 3);
  EXPECT_EQ(PostEvents(kOtherKey, 1, "b").status, 400);

  const std::string metrics = Get(server_->metrics_port(), "/metrics").body;
  EXPECT_TRUE(absl::StrContains(
      metrics, R"(cohort_ingest_events_total{source="amplitude",outcome="stored"} 3)"))
      << metrics;
  EXPECT_TRUE(absl::StrContains(
      metrics,
      R"(cohort_ingest_rejected_requests_total{source="amplitude",reason="unauthorized"} 1)"));
  EXPECT_TRUE(absl::StrContains(
      metrics, R"(cohort_ingest_requests_total{route="amplitude_httpapi",code="200"} 1)"));
  EXPECT_TRUE(absl::StrContains(metrics, "cohort_wal_appended_records_total 3"));
  EXPECT_TRUE(absl::StrContains(metrics, "cohort_ingest_ready 1"));
  EXPECT_TRUE(absl::StrContains(metrics, "process_resident_memory_bytes"));
  const json health = json::parse(Get(server_->metrics_port(), "/healthz").body);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_GT(health["wal"]["bytes"].get<int64_t>(), 0);
}

TEST_F(IngestServerTest, ARotatedKeyFileIsPickedUpAndABrokenOneKeepsTheOldKeys) {
  StartServer();
  WriteFile(config_.auth.api_keys_file, absl::StrCat(kOtherKey, " web amplitude\n"));
  clock_.Advance(absl::Seconds(11));
  // The watcher rereads on its own thread: wait for the new key to be in service.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (PostEvents(kOtherKey, 1, "rotated").status != 200 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(PostEvents(kOtherKey, 1, "rotated2").status, 200);
  EXPECT_EQ(PostEvents(kKey, 1, "old").status, 400);

  // A file that does not parse keeps the keys in service and is counted.
  WriteFile(config_.auth.api_keys_file, "not a key file\n");
  clock_.Advance(absl::Seconds(11));
  const absl::Time deadline2 = absl::Now() + absl::Seconds(20);
  std::string metrics;
  while (absl::Now() < deadline2) {
    metrics = Get(server_->metrics_port(), "/metrics").body;
    if (absl::StrContains(metrics, "cohort_ingest_secret_reload_failures_total")) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(absl::StrContains(metrics,
                                R"(cohort_ingest_secret_reload_failures_total{file="api-keys"} 1)"))
      << metrics;
  EXPECT_EQ(PostEvents(kOtherKey, 1, "still").status, 200);
}

TEST_F(IngestServerTest, RefusesToStartWithoutItsKeysAndNamesTheFileNotItsContents) {
  WriteFile(config_.auth.api_keys_file, "secret-value-with-a-bang! web amplitude\n");
  absl::StatusOr<std::unique_ptr<IngestServer>> server = IngestServer::Start(config_, options_);
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::StrContains(server.status().message(), "auth.apiKeysFile")) << server.status();
  EXPECT_FALSE(absl::StrContains(server.status().message(), "secret-value-with-a-bang"));

  std::filesystem::remove(config_.auth.api_keys_file);
  server = IngestServer::Start(config_, options_);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound) << server.status();
}

TEST_F(IngestServerTest, ShutdownFailsReadinessStopsTheListenersAndKeepsWhatWasAcknowledged) {
  StartServer();
  ASSERT_EQ(PostEvents(kKey, 5, "a").status, 200);
  const uint16_t ingest_port = server_->ingest_port();
  EXPECT_TRUE(server_->Shutdown(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_FALSE(server_->ready());
  EXPECT_FALSE(RoundTrip(ingest_port, MakeRequest("GET", "/", "")).ok());
  server_.reset();

  // A restart recovers the log with the acknowledged events in it.
  StartServer();
  EXPECT_EQ(StoredEvents(), 5);
  EXPECT_EQ(PostEvents(kKey, 1, "after").status, 200);
  EXPECT_EQ(StoredEvents(), 6);
}

TEST_F(IngestServerTest, NativeAndDifyApisWithTheConfigsMappingRules) {
  config_.sources.dify.enabled = true;
  config_.auth.dify_keys =
      config::DifyKeyFiles{dir_ + "/secrets/dify-public", dir_ + "/secrets/dify-secret"};
  WriteFile(config_.auth.dify_keys->public_key_file, "pk-lf-0123456789\n");
  WriteFile(config_.auth.dify_keys->secret_key_file, "sk-lf-abcdefghij\n");
  WriteFile(config_.auth.api_keys_file, absl::StrCat(kKey, " web amplitude,native\n"));
  config::MappingRule identity;
  identity.name = "native-identity";
  identity.match.source = config::Source::kNative;
  identity.action = config::Action::kCopy;
  identity.from = "event_properties.user.id";
  identity.target = "user_id";
  config::MappingRule rename;
  rename.name = "rename-message";
  rename.match.event_type = "dify.message";
  rename.action = config::Action::kRename;
  rename.target = "chat message";
  config_.mapping = {identity, rename};
  StartServer();

  // Native: identity from the payload by the rule.
  absl::StatusOr<TestResponse> native = RoundTrip(
      server_->ingest_port(), MakeRequest("POST", "/v1/events",
                                          json({{"eventId", "native-1"},
                                                {"eventType", "signup"},
                                                {"timestamp", "2025-06-15T15:00:00Z"},
                                                {"source", "web"},
                                                {"payload", {{"user", {{"id", "user-12345"}}}}}})
                                              .dump(),
                                          {{"Content-Type", "application/json"},
                                           {"Authorization", absl::StrCat("Bearer ", kKey)}}));
  ASSERT_TRUE(native.ok()) << native.status();
  ASSERT_EQ(native->status, 200) << native->body;

  // Dify: a message trace with its generation, as Dify sends them.
  const std::string basic =
      "Basic " + absl::Base64Escape(std::string("pk-lf-0123456789:sk-lf-abcdefghij"));
  json batch = json::array();
  batch.push_back({{"id", "env-trace"},
                   {"timestamp", "2025-06-15T15:00:03.000000"},
                   {"type", "trace-create"},
                   {"body",
                    {{"id", "msg-1"},
                     {"name", "message"},
                     {"userId", "end-user-42"},
                     {"sessionId", "conv-1"},
                     {"metadata", {{"app_id", "app-1"}, {"app_name", "Support bot"}}}}}});
  batch.push_back({{"id", "env-gen"},
                   {"timestamp", "2025-06-15T15:00:03.000000"},
                   {"type", "generation-create"},
                   {"body",
                    {{"id", "gen-1"},
                     {"traceId", "msg-1"},
                     {"name", "llm"},
                     {"model", "gpt-4o"},
                     {"startTime", "2025-06-15T15:00:00.000000"},
                     {"endTime", "2025-06-15T15:00:02.000000"},
                     {"usage", {{"promptTokens", 10}, {"completionTokens", 5}}}}}});
  absl::StatusOr<TestResponse> dify =
      RoundTrip(server_->ingest_port(),
                MakeRequest("POST", "/dify/api/public/ingestion", json({{"batch", batch}}).dump(),
                            {{"Content-Type", "application/json"}, {"Authorization", basic}}));
  ASSERT_TRUE(dify.ok()) << dify.status();
  ASSERT_EQ(dify->status, 207) << dify->body;
  EXPECT_EQ(json::parse(dify->body)["errors"], json::array());
  absl::StatusOr<TestResponse> projects =
      RoundTrip(server_->ingest_port(),
                MakeRequest("GET", "/dify/api/public/projects", "", {{"Authorization", basic}}));
  ASSERT_TRUE(projects.ok());
  EXPECT_EQ(projects->status, 200) << projects->body;

  std::vector<Event> stored;
  wal::WalReaderPtr reader = server_->wal().NewReader();
  while (true) {
    absl::StatusOr<std::optional<wal::WalRecord>> r = reader->Next(absl::InfinitePast());
    if (!r.ok() || !r->has_value()) break;
    absl::StatusOr<Event> e = DecodeEvent((*r)->payload);
    ASSERT_TRUE(e.ok());
    stored.push_back(*std::move(e));
  }
  ASSERT_GE(stored.size(), 2u);
  EXPECT_EQ(stored[0].source, EventSource::kNative);
  EXPECT_EQ(stored[0].project, "web");
  EXPECT_EQ(stored[0].user_id, "user-12345");
  bool chat_message = false;
  for (const Event& e : stored) {
    if (e.source != EventSource::kDify) continue;
    EXPECT_EQ(e.project, config::kDifyProject);
    EXPECT_EQ(e.user_id, "end-user-42");
    chat_message = chat_message || e.event_type == "chat message";
  }
  EXPECT_TRUE(chat_message) << "the rename rule did not apply to dify.message";
}

TEST_F(IngestServerTest, StoredEventsReachTheAmplitudeDestinationAndTheJsonLinesSink) {
  // A local stand-in for Amplitude that records the insert_ids of every upload.
  absl::Mutex mu;
  std::set<std::string> received;
  http::HttpServer amplitude({});
  http::Route route;
  route.method = "POST";
  route.path = "/2/httpapi";
  route.handler = [&](http::Request request, http::Responder responder) {
    const json body = json::parse(request.body);  // the server decodes gzip
    absl::MutexLock lock(&mu);
    for (const json& e : body["events"]) received.insert(e["insert_id"].get<std::string>());
    responder.Respond(http::JsonResponse(200, R"({"code":200})"));
  };
  ASSERT_TRUE(amplitude.AddRoute(route).ok());
  ASSERT_TRUE(amplitude.Start().ok());
  WriteFile(dir_ + "/secrets/amplitude-key", "amplitude-project-key\n");
  config::Destination destination;
  destination.name = "product";
  destination.amplitude = config::AmplitudeDestination{};
  destination.amplitude->api_key_file = dir_ + "/secrets/amplitude-key";
  destination.amplitude->endpoint = absl::StrCat("http://127.0.0.1:", amplitude.port());
  destination.amplitude->batch_size = 3;
  config_.destinations = {destination};
  options_.jsonl_sink_path = dir_ + "/events.jsonl";
  StartServer();

  ASSERT_EQ(PostEvents(kKey, 6, "fwd").status, 200);
  // Batches close at 3 events (Amplitude) or after the flush interval (the file): move the clock.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  auto delivered = [&] {
    absl::MutexLock lock(&mu);
    return received.size() == 6;
  };
  // The file sink may write the 6 events in more than one batch: wait for all of them.
  auto file_lines = [&] {
    std::vector<std::string> lines;
    std::ifstream in(options_.jsonl_sink_path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  };
  while (absl::Now() < deadline && !(delivered() && file_lines().size() == 6)) {
    clock_.Advance(absl::Seconds(2));
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(delivered());
  const std::vector<std::string> lines = file_lines();
  EXPECT_EQ(lines.size(), 6u);
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StrContains(json::parse(line)["insert_id"].get<std::string>(), "fwd-"));
  }
  const json health = json::parse(Get(server_->metrics_port(), "/healthz").body);
  ASSERT_EQ(health["sinks"].size(), 3u) << health.dump();  // jsonl-file, store, amplitude
  EXPECT_EQ(health["sinks"][1]["name"], "store");
  EXPECT_EQ(health["sinks"][2]["name"], "amplitude.product");
  EXPECT_EQ(health["sinks"][2]["state"], "ok");
  EXPECT_TRUE(server_->Shutdown(absl::Now() + absl::Seconds(10)).ok());
  (void)amplitude.Drain(absl::Now() + absl::Seconds(5));
}

TEST_F(IngestServerTest, AcknowledgedEventsAreAnsweredByTheQueryApiWithinASecond) {
  constexpr char kReadKey[] = "aaaabbbbccccddddaaaabbbbccccdddd";
  constexpr char kOtherProjectKey[] = "11112222333344441111222233334444";
  config_.auth.query_keys_file = dir_ + "/secrets/query-keys";
  WriteFile(*config_.auth.query_keys_file,
            absl::StrCat(kReadKey, " *\n", kOtherProjectKey, " elsewhere\n"));
  StartServer();
  ASSERT_NE(server_->query_port(), 0);
  ASSERT_EQ(PostEvents(kKey, 3, "a").status, 200);
  ASSERT_EQ(PostEvents(kKey, 2, "b").status, 200);

  const int64_t now = absl::ToUnixMillis(clock_.Now());
  const std::string active_users =
      json({{"type", "activeUsers"},
            {"project", "web"},
            {"range", {{"from", now - 3'600'000}, {"to", now + 3'600'000}}},
            {"interval", "hour"}})
          .dump();
  auto query = [&](const std::string& body, const std::string& key) {
    absl::StatusOr<TestResponse> r =
        RoundTrip(server_->query_port(),
                  MakeRequest("POST", "/v1/query", body, {{"Authorization", "Bearer " + key}}));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TestResponse{};
  };
  // The store sink flushes every 200 ms of the server's (simulated) clock.
  int64_t active = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (active < 2 && absl::Now() < deadline) {
    clock_.Advance(absl::Milliseconds(250));
    TestResponse r = query(active_users, kReadKey);
    ASSERT_EQ(r.status, 200) << r.body;
    active = 0;
    const json answer = json::parse(r.body);
    for (const json& v : answer["result"]["values"]) active += v.get<int64_t>();
  }
  EXPECT_EQ(active, 2);  // two devices
  // The stored segment is read in place from its mapped file.
  const std::string metrics = Get(server_->metrics_port(), "/metrics").body;
  EXPECT_TRUE(absl::StrContains(metrics, "cohort_store_heap_bytes ")) << metrics;
  EXPECT_FALSE(absl::StrContains(metrics, "cohort_store_mapped_bytes 0\n")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "cohort_store_mapped_bytes ")) << metrics;
  // Views made for the queries above, each counted once.
  EXPECT_TRUE(absl::StrContains(metrics, "cohort_query_views_made_total ")) << metrics;
  EXPECT_FALSE(absl::StrContains(metrics, "cohort_query_views_made_total 0\n")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "cohort_query_views_extended_total ")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "cohort_query_view_compactions_total ")) << metrics;

  // A repeat is answered from the result cache, until the data changes. The answer above may
  // have come from a view built before the last of the five events landed (the sink may deliver
  // a request's events in two batches, and a query may be answered from the previous view within
  // the staleness bound while the background builder catches up): once the data and the views
  // settle, a repeat must be a cache hit.
  bool cached = false;
  TestResponse repeat;
  for (int i = 0; i < 50 && !cached; ++i) {
    repeat = query(active_users, kReadKey);
    ASSERT_EQ(repeat.status, 200) << repeat.body;
    cached = json::parse(repeat.body)["cached"] == true;
    if (!cached) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(cached);
  ASSERT_EQ(PostEvents(kKey, 1, "c").status, 200);
  json fresh;
  while (active < 3 && absl::Now() < deadline) {
    clock_.Advance(absl::Milliseconds(250));
    TestResponse r = query(active_users, kReadKey);
    ASSERT_EQ(r.status, 200) << r.body;
    fresh = json::parse(r.body);
    active = 0;
    for (const json& v : fresh["result"]["values"]) active += v.get<int64_t>();
  }
  EXPECT_EQ(active, 3);
  EXPECT_EQ(fresh["cached"], false);
  EXPECT_NE(fresh["dataVersion"], json::parse(repeat.body)["dataVersion"]);

  TestResponse missing = query(active_users, "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(json::parse(missing.body)["field"], "Authorization");
  TestResponse forbidden = query(active_users, kOtherProjectKey);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(json::parse(forbidden.body)["field"], "project");
  TestResponse invalid =
      query(R"({"type":"funnel","range":{"from":0,"to":1},"steps":[]})", kReadKey);
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(json::parse(invalid.body)["field"], "steps");
  // Every query type is answered; a funnel over the two devices' clicks.
  const json funnel_query = {{"type", "funnel"},
                             {"project", "web"},
                             {"range", {{"from", now - 3'600'000}, {"to", now + 1}}},
                             {"steps", {{{"eventType", "click"}}, {{"eventType", "click"}}}}};
  TestResponse funnel = query(funnel_query.dump(), kReadKey);
  ASSERT_EQ(funnel.status, 200) << funnel.body;
  const json steps = json::parse(funnel.body)["result"]["all"]["steps"];
  EXPECT_EQ(steps[0]["actors"], 2);
  EXPECT_EQ(steps[1]["actors"], 2);  // both devices clicked at least twice

  // Drill-down: the actors behind step 2, a page at a time.
  auto actors = [&](const json& body) {
    absl::StatusOr<TestResponse> r = RoundTrip(
        server_->query_port(), MakeRequest("POST", "/v1/actors", body.dump(),
                                           {{"Authorization", absl::StrCat("Bearer ", kReadKey)}}));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TestResponse{};
  };
  TestResponse page1 =
      actors({{"query", funnel_query}, {"cell", {{"row", -1}, {"column", 1}}}, {"limit", 1}});
  ASSERT_EQ(page1.status, 200) << page1.body;
  EXPECT_EQ(json::parse(page1.body)["actors"], json::array({"device:device-a"}));
  EXPECT_EQ(json::parse(page1.body)["more"], true);
  TestResponse page2 = actors({{"query", funnel_query},
                               {"cell", {{"column", 1}}},
                               {"after", json::parse(page1.body)["next"]}});
  ASSERT_EQ(page2.status, 200) << page2.body;
  EXPECT_EQ(json::parse(page2.body)["actors"], json::array({"device:device-b"}));
  EXPECT_EQ(json::parse(page2.body)["more"], false);
  TestResponse no_cell = actors({{"query", funnel_query}, {"cell", {{"column", 2}}}});
  EXPECT_EQ(no_cell.status, 400);
  EXPECT_EQ(json::parse(no_cell.body)["field"], "cell");
  json bad_query = funnel_query;
  bad_query["steps"] = json::array();
  TestResponse invalid_query = actors({{"query", bad_query}, {"cell", {{"column", 0}}}});
  EXPECT_EQ(invalid_query.status, 400);
  EXPECT_EQ(json::parse(invalid_query.body)["field"], "query.steps");
  TestResponse unknown = actors({{"query", funnel_query}, {"cell", {{"column", 0}}}, {"x", 1}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(json::parse(unknown.body)["field"], "x");
  EXPECT_TRUE(server_->Shutdown(absl::Now() + absl::Seconds(10)).ok());
}

TEST_F(IngestServerTest, AnInvalidConfigIsRefusedNamingTheField) {
  config_.limits.max_connections = 0;
  absl::StatusOr<std::unique_ptr<IngestServer>> server = IngestServer::Start(config_, options_);
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::StrContains(server.status().message(), "limits.maxConnections"))
      << server.status();
}

}  // namespace
}  // namespace cohort::ingest
