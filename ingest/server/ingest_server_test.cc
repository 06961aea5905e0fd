// IngestServer over loopback: the start order (probes), events through the Amplitude API into a
// real WAL, /metrics, key rotation, refusing to start on bad secrets, and the shutdown order.
#include "ingest/server/ingest_server.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ingest/event/event_codec.h"
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

TEST_F(IngestServerTest, AnInvalidConfigIsRefusedNamingTheField) {
  config_.limits.max_connections = 0;
  absl::StatusOr<std::unique_ptr<IngestServer>> server = IngestServer::Start(config_, options_);
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::StrContains(server.status().message(), "limits.maxConnections"))
      << server.status();
}

}  // namespace
}  // namespace cohort::ingest
