// The cohort-ingest binary as a pod runs it, over loopback with real clients: the official
// Amplitude Node SDK (npm @amplitude/analytics-node, tests/clients/amplitude-node) sends 10,000
// events and reacts to our 400/413/429 answers as it does to Amplitude's; kill -9 in the middle
// of a load run loses no acknowledged event; SIGTERM exits cleanly. What was stored is read back
// from the write-ahead log with the WAL library after the process has exited. TLS: the SDK over
// HTTPS and a certificate renewed without a restart.
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ingest/event/event_codec.h"
#include "ingest/http/test_client.h"
#include "ingest/wal/wal.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"
#include "tests/support/wait.h"

namespace cohort::ingest {
namespace {

using nlohmann::json;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class IngestProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ + "/secrets");
    std::ofstream(dir_ + "/secrets/api-keys") << kKey << " web amplitude,native\n";
  }

  void TearDown() override {
    if (process_ != nullptr) process_->Stop(SIGKILL, absl::Seconds(5));
  }

  // `extra` is YAML appended to the config (e.g. a limits block).
  void WriteConfig(const std::string& extra = "") {
    std::ofstream(dir_ + "/config.yaml")
        << "version: cohort.dev/ingest-config/v1\n"
        << "auth:\n  apiKeysFile: " << dir_ << "/secrets/api-keys\n"
        << "listeners:\n  address: 127.0.0.1\n"
        << "  ingestPort: 0\n  queryPort: 0\n  metricsPort: 0\n"
        << "paths:\n  dataDir: " << dir_ << "/data\n"
        << extra;
  }

  // `extra_args`: e.g. {"--jsonl-sink", path}.
  void StartIngest(std::vector<std::string> extra_args = {}) {
    const std::string ready = dir_ + "/ready.json";
    std::filesystem::remove(ready);
    std::vector<std::string> argv = {COHORT_INGEST_PATH, "--config", dir_ + "/config.yaml",
                                     "--ready-file", ready};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    absl::StatusOr<std::unique_ptr<testing::ChildProcess>> child =
        testing::ChildProcess::Spawn(argv, dir_ + "/ingest.log", SIGKILL);
    ASSERT_TRUE(child.ok()) << child.status();
    process_ = *std::move(child);
    ASSERT_TRUE(testing::WaitFor("cohort-ingest ready", absl::Seconds(60), [&] {
                  return std::filesystem::exists(ready) || !process_->Running();
                }).ok());
    ASSERT_TRUE(std::filesystem::exists(ready)) << ReadText(dir_ + "/ingest.log");
    const json ports = json::parse(ReadText(ready));
    ingest_port_ = ports["ingestPort"].get<uint16_t>();
    metrics_port_ = ports["metricsPort"].get<uint16_t>();
  }

  // SIGTERM; returns the exit status.
  int StopIngest() {
    const int status = process_->Stop(SIGTERM, absl::Seconds(60));
    process_.reset();
    return status;
  }

  // Every insert_id in the WAL (the process must have exited), with its count.
  std::map<std::string, int> StoredInsertIds() {
    wal::WalOptions options;
    options.dir = dir_ + "/data/wal";
    options.min_free_bytes = 0;
    absl::StatusOr<std::unique_ptr<wal::Wal>> log = wal::Wal::Open(options);
    EXPECT_TRUE(log.ok()) << log.status();
    std::map<std::string, int> ids;
    if (!log.ok()) return ids;
    wal::WalReaderPtr reader = (*log)->NewReader();
    while (true) {
      absl::StatusOr<std::optional<wal::WalRecord>> r = reader->Next(absl::InfinitePast());
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || !r->has_value()) break;
      absl::StatusOr<Event> e = DecodeEvent((*r)->payload);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) ++ids[e->insert_id];
    }
    return ids;
  }

  // `ca_file`: a certificate the SDK (Node) trusts besides the system's, for https.
  json RunSdk(std::vector<std::string> args, absl::Duration timeout = absl::Minutes(3),
              const std::string& ca_file = "") {
    std::vector<std::string> argv = {
        "node",
        std::string(COHORT_SOURCE_DIR) + "/tests/clients/amplitude-node/send.js",
        "--server-url",
        absl::StrCat(ca_file.empty() ? "http" : "https", "://127.0.0.1:", ingest_port_,
                     "/2/httpapi"),
        "--api-key",
        kKey};
    argv.insert(argv.end(), args.begin(), args.end());
    testing::RunOptions options;
    options.timeout = timeout;
    if (!ca_file.empty()) options.env["NODE_EXTRA_CA_CERTS"] = ca_file;
    absl::StatusOr<std::string> out = testing::RunCommandOk(argv, options);
    EXPECT_TRUE(out.ok()) << out.status()
                          << "\n(npm ci in tests/clients/amplitude-node installs the SDK; "
                             "tools/test.sh does it)";
    return out.ok() ? json::parse(*out) : json();
  }

  std::string Metrics() {
    absl::StatusOr<http::testing::TestResponse> r =
        http::testing::RoundTrip(metrics_port_, http::testing::MakeRequest("GET", "/metrics", ""));
    return r.ok() ? r->body : "";
  }

  std::string dir_ = http::testing::MakeTempDir();
  std::unique_ptr<testing::ChildProcess> process_;
  uint16_t ingest_port_ = 0;
  uint16_t metrics_port_ = 0;
};

TEST_F(IngestProcessTest, TheAmplitudeNodeSdkSends10000EventsAndAllAreStoredOnce) {
  WriteConfig();
  StartIngest();
  const json result = RunSdk({"--events", "10000", "--devices", "40", "--prefix", "sdk"});
  EXPECT_EQ(result["codes"], json({{"200", 10000}}));
  EXPECT_TRUE(absl::StrContains(
      Metrics(), R"(cohort_ingest_events_total{source="amplitude",outcome="stored"} 10000)"));
  const int status = StopIngest();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(absl::StrContains(ReadText(dir_ + "/ingest.log"), "cohort-ingest stopped"));

  const std::map<std::string, int> stored = StoredInsertIds();
  ASSERT_EQ(stored.size(), 10000u);
  for (const json& id : result["accepted"]) {
    auto it = stored.find(id.get<std::string>());
    ASSERT_NE(it, stored.end()) << id;
    EXPECT_EQ(it->second, 1) << id;
  }
}

// TLS as a pipeline with `spec.tls` runs it: the certificate and key from files, TLS 1.3 only by
// default; the official SDK sends over HTTPS (trusting our certificate, and checking it names
// 127.0.0.1); a renewed certificate written over the files is served to new connections without
// a restart (the server looks every 10 s).
TEST_F(IngestProcessTest, ServesTheSdkOverTlsAndPicksUpARenewedCertificate) {
  const std::string tls_dir = dir_ + "/tls";
  std::filesystem::create_directories(tls_dir);
  const std::string cert = tls_dir + "/tls.crt", key = tls_dir + "/tls.key";
  ASSERT_TRUE(
      http::testing::GenerateSelfSignedCertificate("first", cert, key, "IP:127.0.0.1").ok());
  WriteConfig(absl::StrCat("tls:\n  certFile: ", cert, "\n  keyFile: ", key, "\n"));
  StartIngest();

  const json result = RunSdk({"--events", "300", "--prefix", "tls"}, absl::Minutes(2), cert);
  EXPECT_EQ(result["codes"], json({{"200", 300}}));
  // Plain HTTP on the TLS port gets no HTTP answer; TLS 1.2 is refused (minVersion 1.3).
  EXPECT_FALSE(
      http::testing::RoundTrip(ingest_port_, http::testing::MakeRequest("GET", "/", "")).ok());
  http::testing::TlsClientOptions tls12;
  tls12.max_version = TLS1_2_VERSION;
  EXPECT_FALSE(http::testing::TestConnection::Connect(ingest_port_, tls12).ok());

  const auto served = [&]() -> std::string {
    absl::StatusOr<std::unique_ptr<http::testing::TestConnection>> c =
        http::testing::TestConnection::Connect(ingest_port_, http::testing::TlsClientOptions{});
    return c.ok() ? (*c)->PeerCertificatePem() : "";
  };
  const std::string first = served();
  ASSERT_FALSE(first.empty());
  // Renewal as a Secret update lands: new files renamed over the old ones.
  ASSERT_TRUE(http::testing::GenerateSelfSignedCertificate("second", tls_dir + "/new.crt",
                                                           tls_dir + "/new.key", "IP:127.0.0.1")
                  .ok());
  std::filesystem::rename(tls_dir + "/new.key", key);
  std::filesystem::rename(tls_dir + "/new.crt", cert);
  ASSERT_TRUE(testing::WaitFor("the renewed certificate served", absl::Seconds(40),
                               [&] {
                                 const std::string now = served();
                                 return !now.empty() && now != first;
                               })
                  .ok())
      << ReadText(dir_ + "/ingest.log");
  // The SDK, now trusting only the new certificate, still gets through.
  const json again = RunSdk({"--events", "50", "--prefix", "renewed"}, absl::Minutes(2), cert);
  EXPECT_EQ(again["codes"], json({{"200", 50}}));

  const int status = StopIngest();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(StoredInsertIds().size(), 350u);
}

TEST_F(IngestProcessTest, TheSdkReactsToOur400And413And429AsToAmplitudes) {
  // 50 events per request at most (the SDK's batches of 100 get 413 and are halved); 1 event/s
  // per device over a 30 s window (a device's 50 events get 429 after its first 30, and the SDK
  // resends the throttled ones 30 s later); every 25th event has a 3-character user_id (400
  // naming its index: the SDK drops it and resends the rest).
  WriteConfig(
      "limits:\n  maxEventsPerRequest: 50\n  eventsPerSecondPerDevice: 1\n"
      "  eventsPerSecondPerUser: 1000\n");
  StartIngest();
  const json result = RunSdk({"--events", "100", "--devices", "2", "--prefix", "react",
                              "--flush-queue-size", "100", "--bad-every", "25", "--results"});
  EXPECT_EQ(result["codes"], json({{"200", 96}, {"400", 4}})) << result.dump();
  const std::string metrics = Metrics();
  EXPECT_TRUE(absl::StrContains(metrics, R"(route="amplitude_httpapi",code="413")")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, R"(route="amplitude_httpapi",code="429")")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, R"(route="amplitude_httpapi",code="400")")) << metrics;
  EXPECT_EQ(StopIngest() >> 8, 0);

  const std::map<std::string, int> stored = StoredInsertIds();
  std::set<std::string> accepted;
  for (const json& id : result["accepted"]) accepted.insert(id.get<std::string>());
  ASSERT_EQ(stored.size(), accepted.size());
  for (const auto& [id, count] : stored) {
    EXPECT_TRUE(accepted.contains(id)) << id;
    EXPECT_EQ(count, 1) << id;
  }
  for (const json& r : result["results"]) {
    if (r["code"] == 400) {
      const int index = std::stoi(r["insertId"].get<std::string>().substr(6));
      EXPECT_EQ(index % 25, 24) << r.dump();
    }
  }
}

// The issue's at-least-once check: kill -9 in the middle of a load run, restart, and every
// acknowledged insert_id is in the log and reaches a sink (here the JSON-lines file sink, which
// resumes from its persisted position; duplicates are allowed, losses are not).
TEST_F(IngestProcessTest, KillDashNineDuringLoadLosesNoAcknowledgedEvent) {
  WriteConfig();
  const std::vector<std::string> sink = {"--jsonl-sink", dir_ + "/sink.jsonl"};
  StartIngest(sink);
  absl::Mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t, port = ingest_port_] {
      for (int batch = 0; !stop.load(); ++batch) {
        json events = json::array();
        std::vector<std::string> ids;
        for (int i = 0; i < 100; ++i) {
          ids.push_back(absl::StrCat("k", t, "-", batch, "-", i));
          events.push_back({{"device_id", absl::StrCat("device-", t, "-", i % 50)},
                            {"event_type", "load"},
                            {"insert_id", ids.back()}});
        }
        absl::StatusOr<http::testing::TestResponse> r = http::testing::RoundTrip(
            port, http::testing::MakeRequest("POST", "/2/httpapi",
                                             json({{"api_key", kKey}, {"events", events}}).dump(),
                                             {{"Content-Type", "application/json"}}));
        if (!r.ok()) return;  // the server is gone
        if (r->status == 200) {
          absl::MutexLock lock(&mu);
          acknowledged.insert(acknowledged.end(), ids.begin(), ids.end());
          answered.fetch_add(1);
        }
      }
    });
  }
  ASSERT_TRUE(testing::WaitFor("100 acknowledged requests", absl::Seconds(60), [&] {
                return answered.load() >= 100;
              }).ok());
  ASSERT_EQ(kill(process_->pid(), SIGKILL), 0);
  for (std::thread& s : senders) s.join();
  stop = true;
  process_->Stop(SIGKILL, absl::Seconds(5));
  process_.reset();

  // The restarted server recovers the log (a torn tail at most), serves again, and its sink
  // catches up from where it had acknowledged.
  StartIngest(sink);
  const std::string log = ReadText(dir_ + "/ingest.log");
  EXPECT_TRUE(absl::StrContains(log, "write-ahead log recovered")) << log;
  absl::MutexLock lock(&mu);
  ASSERT_GE(acknowledged.size(), 10000u);
  std::set<std::string> in_sink;
  auto missing_from_sink = [&] {
    std::ifstream in(dir_ + "/sink.jsonl");
    for (std::string line; std::getline(in, line);) {
      const json e = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!e.is_discarded() && e.contains("insert_id"))
        in_sink.insert(e["insert_id"].get<std::string>());
    }
    size_t missing = 0;
    for (const std::string& id : acknowledged) missing += in_sink.contains(id) ? 0 : 1;
    return missing;
  };
  EXPECT_TRUE(testing::WaitFor("every acknowledged event in the sink", absl::Seconds(60),
                               [&] { return missing_from_sink() == 0; })
                  .ok())
      << missing_from_sink() << " of " << acknowledged.size()
      << " acknowledged are not in the sink";
  EXPECT_EQ(StopIngest() >> 8, 0);

  // (All of it is still in the log: the sink's acknowledgements free only sealed 64 MiB segments.)
  const std::map<std::string, int> stored = StoredInsertIds();
  size_t missing = 0;
  for (const std::string& id : acknowledged) missing += stored.contains(id) ? 0 : 1;
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged are not in the log";
}

}  // namespace
}  // namespace cohort::ingest
