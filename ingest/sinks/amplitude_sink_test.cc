// The Amplitude destination against a real local receiver over loopback (ingest/http HttpServer):
// every request it receives is recorded (gzip undone by the server, the header checked) and
// answered by a per-test script.
#include "ingest/sinks/amplitude_sink.h"

#include <stdio.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ingest/event/event_codec.h"
#include "ingest/http/http_server.h"
#include "ingest/http/test_client.h"
#include "ingest/sinks/event_json.h"
#include "ingest/sinks/sink_runner.h"
#include "ingest/wal/wal.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::sinks {
namespace {

using nlohmann::json;

bool WaitFor(const std::function<bool()>& pred) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

struct Received {
  std::string path;
  bool gzip = false;
  json body;
  std::vector<std::string> insert_ids;
};

// Answer for the n-th request (0-based); nullopt: never answer (a timeout for the client).
using Script = std::function<std::optional<http::Response>(const Received&, int n)>;

class Receiver {
 public:
  explicit Receiver(std::optional<config::Tls> tls = std::nullopt)
      : server_(http::HttpServerOptions{.tls = std::move(tls)}) {
    for (const char* path : {"/2/httpapi", "/batch"}) {
      EXPECT_TRUE(server_
                      .AddRoute({.method = "POST",
                                 .path = path,
                                 .handler =
                                     [this](http::Request request, http::Responder responder) {
                                       Handle(std::move(request), std::move(responder));
                                     }})
                      .ok());
    }
    EXPECT_TRUE(server_.Start().ok());
  }
  ~Receiver() {
    {
      absl::MutexLock lock(&mu_);
      held_.clear();  // abandoned: answered 500 to nobody
    }
    (void)server_.Drain(absl::Now());
  }

  uint16_t port() const { return server_.port(); }
  void set_script(Script script) {
    absl::MutexLock lock(&mu_);
    script_ = std::move(script);
  }
  std::vector<Received> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return requests_.size();
  }
  // Every insert_id answered 200, with how often.
  std::multiset<std::string> accepted() const {
    absl::MutexLock lock(&mu_);
    return accepted_;
  }

 private:
  void Handle(http::Request request, http::Responder responder) {
    Received r;
    r.path = request.path;
    std::optional<std::string_view> encoding = request.FindHeader("Content-Encoding");
    r.gzip = encoding && *encoding == "gzip";
    r.body = json::parse(request.body, nullptr, false);
    if (r.body.is_object() && r.body.contains("events")) {
      for (const json& e : r.body["events"]) r.insert_ids.push_back(e.value("insert_id", ""));
    }
    absl::MutexLock lock(&mu_);
    const int n = static_cast<int>(requests_.size());
    requests_.push_back(r);
    std::optional<http::Response> answer =
        script_ ? script_(r, n) : http::JsonResponse(200, R"({"code":200,"events_ingested":1})");
    if (!answer) {
      held_.push_back(std::move(responder));
      return;
    }
    if (answer->status == 200) {
      for (const std::string& id : r.insert_ids) accepted_.insert(id);
    }
    responder.Respond(*std::move(answer));
  }

  http::HttpServer server_;
  mutable absl::Mutex mu_;
  Script script_ ABSL_GUARDED_BY(mu_);
  std::vector<Received> requests_ ABSL_GUARDED_BY(mu_);
  std::multiset<std::string> accepted_ ABSL_GUARDED_BY(mu_);
  std::vector<http::Responder> held_ ABSL_GUARDED_BY(mu_);
};

http::Response Ok() { return http::JsonResponse(200, R"({"code":200})"); }

class TestControl final : public DeliveryControl {
 public:
  bool cancelled() const override { return cancelled_.load(); }
  bool WaitUntil(absl::Time until) override {
    while (!cancelled_.load() && absl::Now() < until) {
      absl::SleepFor(std::min(absl::Milliseconds(1), until - absl::Now()));
    }
    return !cancelled_.load();
  }
  absl::Time Now() const override { return absl::Now(); }
  uint64_t lag_bytes() const override { return lag_.load(); }
  void CountRetry() override { ++retries; }
  void CountDeadLettered(const std::string& reason, int64_t events) override {
    absl::MutexLock lock(&mu);
    dead[reason] += events;
  }

  std::atomic<bool> cancelled_{false};
  std::atomic<uint64_t> lag_{0};
  std::atomic<int> retries{0};
  absl::Mutex mu;
  std::map<std::string, int64_t> dead;
};

Event MakeEvent(int i, std::string device = "") {
  Event e;
  e.project = "p";
  e.event_type = "view";
  e.device_id = device.empty() ? absl::StrCat("device-", i) : device;
  e.user_id = absl::StrCat("user-", i);
  e.insert_id = absl::StrCat("ins-", i);
  e.time_ms = 1'700'000'000'000 + i;
  e.json_field(JsonField::kEventProperties) = absl::StrCat(R"({"i":)", i, "}");
  return e;
}

SinkBatch MakeBatch(int n, const std::function<std::string(int)>& device = nullptr) {
  SinkBatch batch;
  for (int i = 0; i < n; ++i) {
    batch.events.push_back(MakeEvent(i, device ? device(i) : ""));
    batch.positions.push_back(wal::Lsn{1, static_cast<uint64_t>(100 + i)});
  }
  return batch;
}

std::vector<std::string> Ids(int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i < to; ++i) ids.push_back(absl::StrCat("ins-", i));
  return ids;
}

class AmplitudeSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = http::testing::MakeTempDir();
    WriteKey("key-1");
    absl::StatusOr<std::unique_ptr<JsonLinesFile>> dl =
        JsonLinesFile::Open({.path = dir_ + "/dead-letter.jsonl"});
    ASSERT_TRUE(dl.ok());
    dead_letter_ = std::make_unique<DeadLetterFile>(*std::move(dl));
    absl::StatusOr<std::unique_ptr<HttpClient>> client = MakeHttpClient(
        {.connect_timeout = absl::Seconds(5), .request_timeout = absl::Milliseconds(300)});
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }
  // Replaces the key file the way a Secret update does (a new file renamed over the old one).
  void WriteKey(const std::string& key) {
    const std::string tmp = dir_ + "/api-key.tmp";
    std::ofstream(tmp) << key << "\n";
    std::filesystem::rename(tmp, dir_ + "/api-key");
  }
  AmplitudeSinkOptions Options(int batch_size = 100) {
    AmplitudeSinkOptions o;
    o.name = "amp";
    o.destination.api_key_file = dir_ + "/api-key";
    o.destination.endpoint = absl::StrCat("http://127.0.0.1:", receiver_.port());
    o.destination.batch_size = batch_size;
    o.destination.max_retries = 3;
    o.retry_base = absl::Milliseconds(1);
    o.retry_cap = absl::Milliseconds(8);
    o.throttle_hold = absl::Milliseconds(150);
    o.key_check_interval = absl::Milliseconds(5);
    o.client = client_.get();
    o.dead_letter = dead_letter_.get();
    o.registry = &registry_;
    return o;
  }
  std::unique_ptr<AmplitudeSink> MakeSink(AmplitudeSinkOptions o) {
    absl::StatusOr<std::unique_ptr<AmplitudeSink>> sink = AmplitudeSink::Create(std::move(o));
    EXPECT_TRUE(sink.ok()) << sink.status();
    return *std::move(sink);
  }
  std::vector<json> DeadLetters() {
    std::ifstream in(dir_ + "/dead-letter.jsonl");
    std::vector<json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  }

  std::string dir_;
  Receiver receiver_;
  Registry registry_;
  std::unique_ptr<DeadLetterFile> dead_letter_;
  std::unique_ptr<HttpClient> client_;
  TestControl control_;
};

TEST_F(AmplitudeSinkTest, SendsGzippedUploadsInAmplitudeShapeWithinBatchSize) {
  auto sink = MakeSink(Options(/*batch_size=*/2));
  SinkBatch batch = MakeBatch(5);
  batch.events[0].attribute(Attribute::kPlatform) = "iOS";
  batch.events[0].revenue = 1.5;
  ASSERT_TRUE(sink->Deliver(batch, control_).ok());
  std::vector<Received> got = receiver_.requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].insert_ids, Ids(0, 2));
  EXPECT_EQ(got[1].insert_ids, Ids(2, 4));
  EXPECT_EQ(got[2].insert_ids, Ids(4, 5));
  for (const Received& r : got) {
    EXPECT_EQ(r.path, "/2/httpapi");
    EXPECT_TRUE(r.gzip);
    EXPECT_EQ(r.body["api_key"], "key-1");
    EXPECT_FALSE(r.body.contains("options"));
  }
  std::string expected;
  AppendEventJson(batch.events[0], {}, &expected);
  EXPECT_EQ(got[0].body["events"][0], json::parse(expected));
  EXPECT_EQ(got[0].body["events"][0]["platform"], "iOS");
  EXPECT_EQ(got[0].body["events"][0]["event_properties"], json::parse(R"({"i":0})"));
  EXPECT_EQ(sink->health().state, "ok");
}

TEST_F(AmplitudeSinkTest, MinIdLengthOptionAndBatchEndpointWhenDrainingABacklog) {
  AmplitudeSinkOptions o = Options();
  o.min_id_length = 3;
  o.backlog_bytes = 1000;
  auto sink = MakeSink(std::move(o));
  control_.lag_ = 500;
  ASSERT_TRUE(sink->Deliver(MakeBatch(1), control_).ok());
  control_.lag_ = 5000;
  ASSERT_TRUE(sink->Deliver(MakeBatch(1), control_).ok());
  std::vector<Received> got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/2/httpapi");
  EXPECT_EQ(got[1].path, "/batch");
  EXPECT_EQ(got[0].body["options"], json::parse(R"({"min_id_length":3})"));
}

TEST_F(AmplitudeSinkTest, ServerErrorsAndTimeoutsAreRetriedWithTheSameInsertIds) {
  receiver_.set_script([](const Received&, int n) -> std::optional<http::Response> {
    if (n == 0) return http::JsonError(500, "boom");
    if (n == 1) return std::nullopt;  // no answer: the client times out
    if (n == 2) return http::JsonError(503, "unavailable");
    return Ok();
  });
  auto sink = MakeSink(Options());
  ASSERT_TRUE(sink->Deliver(MakeBatch(4), control_).ok());
  std::vector<Received> got = receiver_.requests();
  ASSERT_EQ(got.size(), 4u);
  for (const Received& r : got) EXPECT_EQ(r.insert_ids, Ids(0, 4));
  EXPECT_EQ(control_.retries.load(), 3);
  EXPECT_EQ(receiver_.accepted().size(), 4u);
  EXPECT_EQ(sink->health().state, "ok");  // back to ok once delivered
}

TEST_F(AmplitudeSinkTest, KeepsRetryingPastMaxRetriesAsFailing) {
  std::atomic<bool> up{false};
  receiver_.set_script([&](const Received&, int) -> std::optional<http::Response> {
    return up.load() ? Ok() : http::JsonError(502, "bad gateway");
  });
  auto sink = MakeSink(Options());
  std::thread t([&] { EXPECT_TRUE(sink->Deliver(MakeBatch(2), control_).ok()); });
  ASSERT_TRUE(WaitFor([&] { return sink->health().state == "failing"; }));
  EXPECT_GE(receiver_.count(), 3u);
  EXPECT_EQ(registry_
                .AddGaugeFamily("cohort_destination_state",
                                "1 for the destination's current state.", {"destination", "state"})
                .WithLabels({"amp", "failing"})
                .Value(),
            1);
  up = true;
  t.join();
  EXPECT_EQ(receiver_.accepted(), (std::multiset<std::string>{"ins-0", "ins-1"}));
  EXPECT_EQ(sink->health().state, "ok");
}

TEST_F(AmplitudeSinkTest, PayloadTooLargeSplitsTheRequest) {
  receiver_.set_script([](const Received& r, int) -> std::optional<http::Response> {
    if (r.insert_ids.size() > 2) return http::JsonError(413, "Payload too large");
    return Ok();
  });
  auto sink = MakeSink(Options());
  ASSERT_TRUE(sink->Deliver(MakeBatch(8), control_).ok());
  std::vector<Received> got = receiver_.requests();
  ASSERT_EQ(got.size(), 6u);  // 8 -> 413, 4 -> 413, then 2 + 2 + 2 + 2
  EXPECT_EQ(got[0].insert_ids.size(), 8u);
  EXPECT_EQ(got[1].insert_ids, Ids(0, 4));
  EXPECT_EQ(got[2].insert_ids, Ids(0, 2));
  EXPECT_EQ(got[5].insert_ids, Ids(6, 8));
  EXPECT_EQ(receiver_.accepted().size(), 8u);
}

TEST_F(AmplitudeSinkTest, OversizedSingleEventIsDeadLetteredAfter413) {
  receiver_.set_script([](const Received& r, int) -> std::optional<http::Response> {
    for (const std::string& id : r.insert_ids) {
      if (id == "ins-1") return http::JsonError(413, "Payload too large");
    }
    return Ok();
  });
  auto sink = MakeSink(Options());
  ASSERT_TRUE(sink->Deliver(MakeBatch(3), control_).ok());
  EXPECT_EQ(receiver_.accepted(), (std::multiset<std::string>{"ins-0", "ins-2"}));
  std::vector<json> dead = DeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0]["reason"], "payload_too_large");
  EXPECT_EQ(dead[0]["event"]["insert_id"], "ins-1");
}

TEST_F(AmplitudeSinkTest, InvalidEventsGoToTheDeadLetterFileAndTheRestIsResent) {
  const std::string body400 =
      R"({"code":400,"error":"Invalid field values on some events",)"
      R"("events_with_invalid_fields":{"time":[1]},"events_with_missing_fields":{},)"
      R"("events_with_invalid_id_lengths":{"device_id":[3]},"silenced_events":[4]})";
  receiver_.set_script([&](const Received&, int n) -> std::optional<http::Response> {
    if (n == 0) return http::JsonResponse(400, body400);
    return Ok();
  });
  auto sink = MakeSink(Options());
  SinkBatch batch = MakeBatch(6);
  ASSERT_TRUE(sink->Deliver(batch, control_).ok());
  std::vector<Received> got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].insert_ids, Ids(0, 6));
  EXPECT_EQ(got[1].insert_ids, (std::vector<std::string>{"ins-0", "ins-2", "ins-5"}));
  std::vector<json> dead = DeadLetters();
  ASSERT_EQ(dead.size(), 3u);
  std::map<std::string, std::string> reasons;
  for (const json& d : dead) {
    reasons[d["event"]["insert_id"]] = d["reason"];
    EXPECT_EQ(d["response"], body400);
    EXPECT_EQ(d["sink"], "amp");
  }
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{{"ins-1", "invalid_field:time"},
                                                         {"ins-3", "invalid_id_length:device_id"},
                                                         {"ins-4", "silenced"}}));
  EXPECT_EQ(dead[0]["position"], "1:101");
  absl::MutexLock lock(&control_.mu);
  EXPECT_EQ(control_.dead["silenced"], 1);
}

TEST_F(AmplitudeSinkTest, InvalidApiKeyPausesUntilTheKeyFileChanges) {
  receiver_.set_script([](const Received& r, int) -> std::optional<http::Response> {
    if (r.body["api_key"] != "key-2") return http::JsonError(400, "Invalid API key");
    return Ok();
  });
  auto sink = MakeSink(Options());
  std::thread t([&] { EXPECT_TRUE(sink->Deliver(MakeBatch(3), control_).ok()); });
  ASSERT_TRUE(WaitFor([&] { return sink->health().state == "paused_invalid_api_key"; }));
  EXPECT_NE(sink->health().detail.find("Invalid API key"), std::string::npos);
  // Paused: no request while the key is the same (several key checks happen meanwhile).
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(receiver_.count(), 1u);
  WriteKey("key-2");
  t.join();
  EXPECT_EQ(receiver_.count(), 2u);
  EXPECT_EQ(receiver_.accepted().size(), 3u);
  EXPECT_EQ(sink->health().state, "ok");
  EXPECT_TRUE(DeadLetters().empty());
}

TEST_F(AmplitudeSinkTest, ThrottledIdsAreHeldBackWhileOthersProceed) {
  std::atomic<int> throttled{0};
  receiver_.set_script([&](const Received& r, int) -> std::optional<http::Response> {
    bool has_a = false;
    for (const json& e : r.body["events"]) has_a |= e["device_id"] == "device-a";
    if (has_a && throttled.fetch_add(1) == 0) {
      return http::JsonResponse(
          429, R"({"code":429,"error":"Too many requests for some devices and users",)"
               R"("eps_threshold":30,"throttled_devices":{"device-a":31},"throttled_users":{}})");
    }
    return Ok();
  });
  auto sink = MakeSink(Options());
  const absl::Time start = absl::Now();
  ASSERT_TRUE(
      sink->Deliver(MakeBatch(6, [](int i) { return i % 2 == 0 ? "device-a" : ""; }), control_)
          .ok());
  std::vector<Received> got = receiver_.requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].insert_ids, Ids(0, 6));
  EXPECT_EQ(got[1].insert_ids, (std::vector<std::string>{"ins-1", "ins-3", "ins-5"}));
  EXPECT_EQ(got[2].insert_ids, (std::vector<std::string>{"ins-0", "ins-2", "ins-4"}));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));  // the hold was honoured
  EXPECT_EQ(receiver_.accepted().size(), 6u);
}

TEST_F(AmplitudeSinkTest, EventsOverTheDailyQuotaAreDeadLetteredWhileThrottledOnesAreHeld) {
  const std::string body429 =
      R"({"code":429,"error":"Too many requests for some devices and users",)"
      R"("eps_threshold":30,"throttled_devices":{"device-t":31},"throttled_users":{},)"
      R"("exceeded_daily_quota_users":{},"exceeded_daily_quota_devices":{"device-q":500001}})";
  receiver_.set_script([&](const Received&, int n) -> std::optional<http::Response> {
    if (n == 0) return http::JsonResponse(429, body429);
    return Ok();
  });
  AmplitudeSinkOptions o = Options();
  o.throttle_hold = absl::Milliseconds(50);
  auto sink = MakeSink(std::move(o));
  ASSERT_TRUE(
      sink->Deliver(MakeBatch(6,
                              [](int i) {
                                return i % 3 == 0 ? "device-q" : i % 3 == 1 ? "device-t" : "";
                              }),
                    control_)
          .ok());
  std::vector<Received> got = receiver_.requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].insert_ids, Ids(0, 6));
  // The over-quota events are gone from the resend; the throttled device waits for its hold.
  EXPECT_EQ(got[1].insert_ids, (std::vector<std::string>{"ins-2", "ins-5"}));
  EXPECT_EQ(got[2].insert_ids, (std::vector<std::string>{"ins-1", "ins-4"}));
  std::vector<json> dead = DeadLetters();
  ASSERT_EQ(dead.size(), 2u);
  for (const json& d : dead) {
    EXPECT_EQ(d["reason"], "exceeded_daily_quota");
    EXPECT_EQ(d["event"]["device_id"], "device-q");
    EXPECT_EQ(d["response"], body429);
  }
  EXPECT_EQ(receiver_.accepted(), (std::multiset<std::string>{"ins-1", "ins-2", "ins-4", "ins-5"}));
  absl::MutexLock lock(&control_.mu);
  EXPECT_EQ(control_.dead["exceeded_daily_quota"], 2);
}

TEST_F(AmplitudeSinkTest, TooManyRequestsNamingNoSentIdBacksOffTheWholeRequest) {
  receiver_.set_script([](const Received&, int n) -> std::optional<http::Response> {
    if (n < 2) {
      return http::JsonResponse(429, R"({"code":429,"throttled_devices":{"someone-else":31}})");
    }
    return Ok();
  });
  AmplitudeSinkOptions o = Options();
  o.throttle_hold = absl::Milliseconds(40);
  auto sink = MakeSink(std::move(o));
  const absl::Time start = absl::Now();
  ASSERT_TRUE(sink->Deliver(MakeBatch(2), control_).ok());
  EXPECT_EQ(receiver_.count(), 3u);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(80));  // waited the hold each time
  EXPECT_EQ(control_.retries.load(), 2);
}

TEST_F(AmplitudeSinkTest, CancelledWhileRetryingReturnsCancelled) {
  receiver_.set_script([](const Received&, int) -> std::optional<http::Response> {
    return http::JsonError(500, "x");
  });
  auto sink = MakeSink(Options());
  std::thread t([&] { EXPECT_TRUE(absl::IsCancelled(sink->Deliver(MakeBatch(1), control_))); });
  ASSERT_TRUE(WaitFor([&] { return receiver_.count() >= 2; }));
  control_.cancelled_ = true;
  t.join();
}

TEST_F(AmplitudeSinkTest, HttpsWithHostnameVerification) {
  const std::string cert = dir_ + "/tls.crt", key = dir_ + "/tls.key";
  ASSERT_TRUE(http::testing::GenerateSelfSignedCertificate("localhost", cert, key).ok());
  Receiver tls_receiver(config::Tls{.cert_file = cert, .key_file = key});
  absl::StatusOr<std::unique_ptr<HttpClient>> client =
      MakeHttpClient({.request_timeout = absl::Seconds(5), .ca_file = cert});
  ASSERT_TRUE(client.ok());
  absl::StatusOr<HttpResponse> ok = (*client)->Post(
      absl::StrCat("https://localhost:", tls_receiver.port(), "/2/httpapi"), {}, "{}");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  // Same server, a name the certificate does not carry: refused.
  absl::StatusOr<HttpResponse> wrong = (*client)->Post(
      absl::StrCat("https://127.0.0.1:", tls_receiver.port(), "/2/httpapi"), {}, "{}");
  EXPECT_TRUE(absl::IsUnavailable(wrong.status())) << wrong.status();
  EXPECT_EQ(tls_receiver.count(), 1u);
  EXPECT_TRUE(absl::IsInvalidArgument((*client)->Post("ftp://x/", {}, "").status()));
}

// Through the WAL and a SinkRunner with concurrency: a receiver that answers 429, 500 and
// timeouts for a while loses nothing.
TEST_F(AmplitudeSinkTest, EndToEndFromTheLogEveryEventArrivesAtLeastOnce) {
  receiver_.set_script([](const Received& r, int n) -> std::optional<http::Response> {
    if (n < 12) {
      switch (n % 4) {
        case 0:
          return http::JsonError(500, "boom");
        case 1:
          return std::nullopt;
        case 2: {
          json body = {{"code", 429},
                       {"error", "Too many requests for some devices and users"},
                       {"throttled_devices", json::object()},
                       {"throttled_users", json::object()}};
          if (!r.body["events"].empty()) {
            body["throttled_devices"][r.body["events"][0]["device_id"].get<std::string>()] = 31;
          }
          return http::JsonResponse(429, body.dump());
        }
        default:
          break;
      }
    }
    return Ok();
  });
  absl::StatusOr<std::unique_ptr<wal::Wal>> wal = wal::Wal::Open({.dir = dir_ + "/wal"});
  ASSERT_TRUE(wal.ok());
  auto sink = MakeSink(Options(/*batch_size=*/7));
  SinkRunner runner(**wal, *sink,
                    {.name = "amp",
                     .max_batch_events = 20,
                     .flush_interval = absl::Milliseconds(5),
                     .concurrency = 3,
                     .poll_interval = absl::Milliseconds(1),
                     .retry_base = absl::Milliseconds(1),
                     .retry_cap = absl::Milliseconds(5),
                     .registry = &registry_,
                     .dead_letter = dead_letter_.get()});
  ASSERT_TRUE(runner.Start().ok());
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; i += 30) {
    std::vector<std::string> records;
    for (int j = i; j < i + 30; ++j)
      records.push_back(EncodeEvent(MakeEvent(j, absl::StrCat("d", j % 5))));
    std::vector<std::string_view> views(records.begin(), records.end());
    ASSERT_TRUE((*wal)->Append(views).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return runner.acked() == (*wal)->stats().durable_end; }));
  ASSERT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
  std::multiset<std::string> accepted = receiver_.accepted();
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_GE(accepted.count(absl::StrCat("ins-", i)), 1u) << i;
  }
  EXPECT_TRUE(DeadLetters().empty());
  EXPECT_GT(runner.stats().retries, 0);
}

}  // namespace
}  // namespace cohort::ingest::sinks
