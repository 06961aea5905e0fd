// AmplitudeEndpoint end to end over loopback HTTP: the real HttpServer, a real WAL in a temporary
// directory, the rate limiter and the dedup window; only the clock is simulated.
#include "ingest/server/amplitude_endpoint.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
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

constexpr char kKeys[] =
    "0123456789abcdef0123456789abcdef web amplitude\n"
    "nativeonlykey0000000000000000000 backend native\n";
constexpr char kKey[] = "0123456789abcdef0123456789abcdef";

class AmplitudeEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*max_wal_bytes=*/uint64_t{1} << 30); }

  void Start(uint64_t max_wal_bytes) {
    server_.reset();
    endpoint_.reset();
    intake_.reset();
    writer_.reset();
    wal_.reset();
    absl::StatusOr<config::ApiKeySet> keys = config::ApiKeySet::Parse(kKeys);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = std::make_shared<const config::ApiKeySet>(*std::move(keys));
    wal::WalOptions wal_options;
    wal_options.dir = dir_ + "/wal";
    wal_options.max_total_bytes = max_wal_bytes;
    wal_options.min_free_bytes = 0;
    absl::StatusOr<std::unique_ptr<wal::Wal>> wal = wal::Wal::Open(wal_options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = *std::move(wal);
    writer_ = std::make_unique<DurableWriter>(*wal_, DurableWriterOptions{.threads = 4});
    AmplitudeEndpointOptions options;
    options.keys = [this] { return keys_; };
    options.trusted_proxies = {*http::ParseCidr("127.0.0.0/8")};
    intake_ = std::make_unique<EventIntake>(EventIntakeOptions{
        .mapper = mapper_, .limiter = limiter_.get(), .dedup = &dedup_, .writer = writer_.get()});
    options.intake = intake_.get();
    options.clock = &clock_;
    endpoint_ = std::make_unique<AmplitudeEndpoint>(options);
    server_ = std::make_unique<http::HttpServer>(http::HttpServerOptions{});
    ASSERT_TRUE(
        server_->AddRoute(endpoint_->MakeRoute(amplitude::Endpoint::kHttpApi, 1 << 20)).ok());
    ASSERT_TRUE(
        server_->AddRoute(endpoint_->MakeRoute(amplitude::Endpoint::kBatch, 20 << 20)).ok());
    ASSERT_TRUE(server_->Start().ok());
  }

  TestResponse Post(const json& body, std::string path = "/2/httpapi",
                    std::vector<http::Header> headers = {}) {
    headers.push_back({"Content-Type", "application/json"});
    absl::StatusOr<TestResponse> r =
        RoundTrip(server_->port(), MakeRequest("POST", path, body.dump(), headers));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TestResponse{};
  }

  // Every event in the WAL, decoded.
  std::vector<Event> Stored() {
    std::vector<Event> out;
    wal::WalReaderPtr reader = wal_->NewReader();
    while (true) {
      absl::StatusOr<std::optional<wal::WalRecord>> r = reader->Next(absl::InfinitePast());
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || !r->has_value()) break;
      absl::StatusOr<Event> e = DecodeEvent((*r)->payload);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(*std::move(e));
    }
    return out;
  }

  static json Events(int n, std::string device = "device-1", std::string prefix = "id") {
    json events = json::array();
    for (int i = 0; i < n; ++i) {
      events.push_back({{"device_id", device},
                        {"event_type", "click"},
                        {"time", 1'700'000'000'000 + i},
                        {"insert_id", absl::StrCat(prefix, "-", i)},
                        {"ip", "$remote"}});
    }
    return events;
  }

  SimulatedClock clock_{absl::FromUnixMillis(1'700'000'100'000)};
  std::string dir_ = http::testing::MakeTempDir();
  std::shared_ptr<const config::ApiKeySet> keys_;
  std::unique_ptr<ActorRateLimiter> limiter_ =
      *ActorRateLimiter::Create({.events_per_second = 1, .window = absl::Seconds(10)}, clock_);
  DedupWindow dedup_{{}, clock_};
  std::unique_ptr<wal::Wal> wal_;
  std::unique_ptr<DurableWriter> writer_;
  EventMapper mapper_;
  std::unique_ptr<EventIntake> intake_;
  std::unique_ptr<AmplitudeEndpoint> endpoint_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(AmplitudeEndpointTest, AcceptedEventsAreDurableBeforeThe200) {
  TestResponse r = Post({{"api_key", kKey}, {"events", Events(3)}}, "/2/httpapi",
                        {{"X-Forwarded-For", "203.0.113.7"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["code"], 200);
  EXPECT_EQ(body["events_ingested"], 3);
  EXPECT_EQ(body["server_upload_time"], 1'700'000'100'000);
  std::vector<Event> stored = Stored();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].project, "web") << "the key's project";
  EXPECT_EQ(stored[0].ip, "203.0.113.7") << "$remote from a trusted proxy's X-Forwarded-For";
  EXPECT_EQ(stored[2].insert_id, "id-2");
}

TEST_F(AmplitudeEndpointTest, AKeyThatIsUnknownOrNotForAmplitudeStoresNothing) {
  for (const char* key : {"ffffffffffffffffffffffffffffffff", "nativeonlykey0000000000000000000"}) {
    TestResponse r = Post({{"api_key", key}, {"events", Events(1)}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["error"], "Invalid API key");
  }
  EXPECT_TRUE(Stored().empty());
}

TEST_F(AmplitudeEndpointTest, AnInvalidEventStoresNothing) {
  json events = Events(2);
  events[1]["device_id"] = "null";  // a forbidden id
  TestResponse r = Post({{"api_key", kKey}, {"events", events}});
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["events_with_invalid_fields"]["device_id"], json::array({1}));
  EXPECT_TRUE(Stored().empty());
}

TEST_F(AmplitudeEndpointTest, AThrottledRequestStoresNothingAndNamesTheActors) {
  // 1 event/s over 10 s: a bucket of 10.
  ASSERT_EQ(Post({{"api_key", kKey}, {"events", Events(8, "device-a", "a")}}).status, 200);
  json events = Events(3, "device-a", "b");
  events.push_back(Events(1, "device-b", "c")[0]);
  TestResponse r = Post({{"api_key", kKey}, {"events", events}});
  ASSERT_EQ(r.status, 429) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["throttled_devices"], json({{"device-a", 2}}));  // (8 + 3) / 10 s, rounded up
  EXPECT_EQ(body["throttled_events"], json::array({0, 1, 2}));
  EXPECT_EQ(Stored().size(), 8u);
  // device-b was not charged, device-a keeps its last 2 tokens.
  EXPECT_EQ(Post({{"api_key", kKey}, {"events", Events(2, "device-a", "e")}}).status, 200);
  EXPECT_EQ(Stored().size(), 10u);
}

TEST_F(AmplitudeEndpointTest, ARetryWithinTheWindowIsAnsweredButNotStoredTwice) {
  const json request = {{"api_key", kKey}, {"events", Events(3)}};
  ASSERT_EQ(Post(request).status, 200);
  clock_.Advance(absl::Seconds(5));
  TestResponse again = Post(request);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["events_ingested"], 3);
  EXPECT_EQ(Stored().size(), 3u);
}

TEST_F(AmplitudeEndpointTest, AFullDiskIsA503AndStoresNothing) {
  Start(/*max_wal_bytes=*/1);  // no room for anything
  TestResponse r = Post({{"api_key", kKey}, {"events", Events(1)}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(json::parse(r.body)["code"], 503);
  EXPECT_TRUE(Stored().empty());
  // The refused ids were not remembered: the retry after space came back is stored.
  Start(/*max_wal_bytes=*/uint64_t{1} << 30);
  EXPECT_EQ(Post({{"api_key", kKey}, {"events", Events(1)}}).status, 200);
  EXPECT_EQ(Stored().size(), 1u);
}

TEST_F(AmplitudeEndpointTest, MappingRulesRunBeforeTheLimitsAndThrottledIndexesStayTheClients) {
  // A rule that drops "noise" events and moves everything else onto device-a.
  mapper_ = [](Event& e) {
    if (e.event_type == "noise") return false;
    e.device_id = "device-a";
    return true;
  };
  Start(/*max_wal_bytes=*/uint64_t{1} << 30);
  json events = Events(9, "device-x", "a");
  events[0]["event_type"] = "noise";
  TestResponse ok = Post({{"api_key", kKey}, {"events", events}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["events_ingested"], 9);  // dropped events count as accepted
  std::vector<Event> stored = Stored();
  ASSERT_EQ(stored.size(), 8u);
  EXPECT_EQ(stored[0].device_id, "device-a");
  EXPECT_EQ(stored[0].insert_id, "a-1");

  // device-a has 2 tokens left; the request's event 0 is dropped by the rule, so the throttled
  // indexes are 1..3 of what the client sent, not 0..2 of what the rules kept.
  json more = Events(4, "device-y", "b");
  more[0]["event_type"] = "noise";
  more.push_back(Events(1, "device-z", "c")[0]);
  TestResponse r = Post({{"api_key", kKey}, {"events", more}});
  ASSERT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(json::parse(r.body)["throttled_events"], json::array({1, 2, 3, 4}));
  EXPECT_EQ(Stored().size(), 8u);
}

}  // namespace
}  // namespace cohort::ingest
