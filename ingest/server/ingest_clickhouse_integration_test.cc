// cohort-ingest with `storage: clickhouse` against a real ClickHouse (Debian's 18.16, started by
// the test): events acknowledged over the Amplitude API reach the server through the store sink,
// and the query API answers from it — the same answers the embedded store gives, cached by data
// version; drill-down pages the actors behind a number from ClickHouse.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/clickhouse_server.h"
#include "gtest/gtest.h"
#include "ingest/http/test_client.h"
#include "ingest/server/ingest_server.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest {
namespace {

using http::testing::MakeRequest;
using http::testing::RoundTrip;
using http::testing::TestResponse;
using nlohmann::json;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";
constexpr char kReadKey[] = "aaaabbbbccccddddaaaabbbbccccdddd";

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(IngestClickHouseTest, AcknowledgedEventsAreStoredInClickHouseAndAnswered) {
  absl::StatusOr<std::unique_ptr<analytics::clickhouse::testing::ClickHouseServer>> clickhouse =
      analytics::clickhouse::testing::ClickHouseServer::Start();
  ASSERT_TRUE(clickhouse.ok()) << clickhouse.status();

  const std::string dir = http::testing::MakeTempDir();
  SimulatedClock clock(absl::FromUnixSeconds(1'750'000'000));
  config::IngestConfig config = config::Defaults();
  config.listeners.address = "127.0.0.1";
  config.listeners.ingest_port = 0;
  config.listeners.query_port = 0;
  config.listeners.metrics_port = 0;
  config.paths.data_dir = dir + "/data";
  config.auth.api_keys_file = dir + "/secrets/api-keys";
  WriteFile(config.auth.api_keys_file, absl::StrCat(kKey, " web amplitude\n"));
  config.auth.query_keys_file = dir + "/secrets/query-keys";
  WriteFile(*config.auth.query_keys_file, absl::StrCat(kReadKey, " *\n"));
  config::ClickHouseStorage storage;
  storage.url = (*clickhouse)->url();
  storage.database = "cohort_it";
  storage.flush_interval = absl::Milliseconds(100);
  config.storage = storage;
  IngestServerOptions options;
  options.clock = &clock;
  options.secret_check_interval = absl::Seconds(10);
  options.wal_min_free_bytes = 0;
  absl::StatusOr<std::unique_ptr<IngestServer>> server = IngestServer::Start(config, options);
  ASSERT_TRUE(server.ok()) << server.status();

  // Two devices; the second sends its batch twice (a client retry): counted once.
  for (const char* device : {"a", "b", "b"}) {
    json events = json::array();
    for (int i = 0; i < 3; ++i) {
      events.push_back({{"device_id", absl::StrCat("device-", device)},
                        {"event_type", "click"},
                        {"insert_id", absl::StrCat(device, "-", i)}});
    }
    absl::StatusOr<TestResponse> r = RoundTrip(
        (*server)->ingest_port(),
        MakeRequest("POST", "/2/httpapi", json({{"api_key", kKey}, {"events", events}}).dump(),
                    {{"Content-Type", "application/json"}}));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
  }

  const int64_t now = absl::ToUnixMillis(clock.Now());
  const json segmentation = {{"type", "segmentation"},
                             {"project", "web"},
                             {"range", {{"from", now - 3'600'000}, {"to", now + 3'600'000}}},
                             {"events", {{{"eventType", "click"}}}},
                             {"interval", "hour"}};
  auto post = [&](const std::string& path, const json& body) {
    absl::StatusOr<TestResponse> r =
        RoundTrip((*server)->query_port(),
                  MakeRequest("POST", path, body.dump(),
                              {{"Authorization", absl::StrCat("Bearer ", kReadKey)}}));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TestResponse{};
  };
  double total = 0;
  json answer;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (total < 6 && absl::Now() < deadline) {
    clock.Advance(absl::Milliseconds(200));
    TestResponse r = post("/v1/query", segmentation);
    ASSERT_EQ(r.status, 200) << r.body;
    answer = json::parse(r.body);
    total = answer["result"]["series"][0]["total"].get<double>();
    if (total < 6) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(total, 6);  // six distinct events; the resent batch is deduplicated
  // The data is still now (the answer above may have raced the last insert): computed once,
  // then served from the cache at the same version.
  TestResponse settled = post("/v1/query", segmentation);
  ASSERT_EQ(settled.status, 200) << settled.body;
  TestResponse repeat = post("/v1/query", segmentation);
  ASSERT_EQ(repeat.status, 200) << repeat.body;
  EXPECT_EQ(json::parse(repeat.body)["cached"], true);
  EXPECT_EQ(json::parse(repeat.body)["dataVersion"], json::parse(settled.body)["dataVersion"]);
  EXPECT_EQ(json::parse(repeat.body)["result"], answer["result"]);

  // Drill-down: the actors behind the range total, a page at a time.
  TestResponse page1 =
      post("/v1/actors",
           {{"query", segmentation}, {"cell", {{"row", 0}, {"column", -1}}}, {"limit", 1}});
  ASSERT_EQ(page1.status, 200) << page1.body;
  EXPECT_EQ(json::parse(page1.body)["actors"], json::array({"device:device-a"}));
  EXPECT_EQ(json::parse(page1.body)["more"], true);
  TestResponse page2 = post("/v1/actors", {{"query", segmentation},
                                           {"cell", {{"row", 0}, {"column", -1}}},
                                           {"after", json::parse(page1.body)["next"]}});
  ASSERT_EQ(page2.status, 200) << page2.body;
  EXPECT_EQ(json::parse(page2.body)["actors"], json::array({"device:device-b"}));
  EXPECT_EQ(json::parse(page2.body)["more"], false);
  TestResponse no_cell =
      post("/v1/actors", {{"query", segmentation}, {"cell", {{"row", 1}, {"column", 0}}}});
  EXPECT_EQ(no_cell.status, 400) << no_cell.body;
  EXPECT_EQ(json::parse(no_cell.body)["field"], "cell");
  EXPECT_TRUE(server->get()->Shutdown(absl::Now() + absl::Seconds(10)).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cohort::ingest
