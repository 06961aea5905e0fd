// NativeEndpoint end to end over loopback HTTP: the real HttpServer, a real WAL in a temporary
// directory, the rate limiter, the dedup window and real mapping rules (identity copied from the
// payload); only the clock is simulated.
#include "ingest/server/native_endpoint.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ingest/event/event_codec.h"
#include "ingest/http/test_client.h"
#include "ingest/mapping/rule_set.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest {
namespace {

using http::testing::MakeRequest;
using http::testing::RoundTrip;
using http::testing::TestResponse;
using nlohmann::json;

constexpr char kKeys[] =
    "0123456789abcdef0123456789abcdef web amplitude\n"
    "nativekey0000000000000000000000a backend native\n";
constexpr char kAmplitudeKey[] = "0123456789abcdef0123456789abcdef";
constexpr char kKey[] = "nativekey0000000000000000000000a";

std::vector<config::MappingRule> IdentityRules() {
  config::MappingRule user;
  user.name = "user-from-payload";
  user.action = config::Action::kCopy;
  user.from = "payload.user.id";
  user.target = "user_id";
  config::MappingRule device = user;
  device.name = "device-from-payload";
  device.from = "payload.device";
  device.target = "device_id";
  config::MappingRule drop;
  drop.name = "drop-heartbeats";
  drop.action = config::Action::kDrop;
  drop.match.event_type = "heartbeat";
  return {user, device, drop};
}

class NativeEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*max_wal_bytes=*/uint64_t{1} << 30); }

  void Start(uint64_t max_wal_bytes, int64_t max_events = 100) {
    server_.reset();
    endpoint_.reset();
    intake_.reset();
    writer_.reset();
    wal_.reset();
    absl::StatusOr<config::ApiKeySet> keys = config::ApiKeySet::Parse(kKeys);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = std::make_shared<const config::ApiKeySet>(*std::move(keys));
    absl::StatusOr<mapping::RuleSet> rules = mapping::RuleSet::Compile(IdentityRules());
    ASSERT_TRUE(rules.ok()) << rules.status();
    auto shared_rules = std::make_shared<const mapping::RuleSet>(*std::move(rules));
    wal::WalOptions wal_options;
    wal_options.dir = dir_ + "/wal";
    wal_options.max_total_bytes = max_wal_bytes;
    wal_options.min_free_bytes = 0;
    absl::StatusOr<std::unique_ptr<wal::Wal>> wal = wal::Wal::Open(wal_options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = *std::move(wal);
    writer_ = std::make_unique<DurableWriter>(*wal_, DurableWriterOptions{.threads = 2});
    intake_ = std::make_unique<EventIntake>(
        EventIntakeOptions{.mapper = [shared_rules](Event& e) { return shared_rules->Apply(e); },
                           .limiter = limiter_.get(),
                           .dedup = &dedup_,
                           .writer = writer_.get()});
    NativeEndpointOptions options;
    options.keys = [this] { return keys_; };
    options.parser.max_events_per_request = max_events;
    options.intake = intake_.get();
    options.clock = &clock_;
    endpoint_ = std::make_unique<NativeEndpoint>(options);
    server_ = std::make_unique<http::HttpServer>(http::HttpServerOptions{});
    ASSERT_TRUE(server_->AddRoute(endpoint_->MakeRoute(1 << 20)).ok());
    ASSERT_TRUE(server_->Start().ok());
  }

  TestResponse Post(const std::string& body, std::vector<http::Header> headers) {
    headers.push_back({"Content-Type", "application/json"});
    absl::StatusOr<TestResponse> r =
        RoundTrip(server_->port(), MakeRequest("POST", "/v1/events", body, headers));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TestResponse{};
  }
  TestResponse Post(const json& body) {
    return Post(body.dump(), {{"Authorization", absl::StrCat("Bearer ", kKey)}});
  }

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

  static json Envelopes(int n, std::string device = "device-1", std::string prefix = "id",
                        std::string type = "deploy") {
    json events = json::array();
    for (int i = 0; i < n; ++i) {
      events.push_back({{"eventId", absl::StrCat(prefix, "-", i)},
                        {"eventType", type},
                        {"timestamp", "2023-11-14T22:13:20.000Z"},  // 1'700'000'000'000
                        {"source", "ci"},
                        {"payload", {{"user", {{"id", "u-7"}}}, {"device", device}, {"i", i}}}});
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
  std::unique_ptr<EventIntake> intake_;
  std::unique_ptr<NativeEndpoint> endpoint_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(NativeEndpointTest, AcceptedEventsAreDurableAndMappedBeforeThe200) {
  TestResponse r = Post(json{{"events", Envelopes(3)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body),
            json({{"code", 200}, {"accepted", 3}, {"duplicates", 0}, {"dropped", 0}}));
  std::vector<Event> stored = Stored();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].project, "backend") << "the key's project";
  EXPECT_EQ(stored[0].source, EventSource::kNative);
  EXPECT_EQ(stored[0].user_id, "u-7") << "copied from the payload by a rule";
  EXPECT_EQ(stored[0].device_id, "device-1");
  EXPECT_EQ(stored[2].insert_id, "id-2");
  EXPECT_EQ(stored[2].time_ms, 1'700'000'000'000);
  EXPECT_EQ(stored[2].server_received_time_ms, 1'700'000'100'000);
  EXPECT_EQ(stored[2].json_field(JsonField::kEventProperties),
            R"({"device":"device-1","i":2,"user":{"id":"u-7"}})");
}

TEST_F(NativeEndpointTest, SingleEnvelopeAndArrayBodies) {
  ASSERT_EQ(Post(Envelopes(1, "d", "single")[0]).status, 200);
  ASSERT_EQ(Post(Envelopes(2, "d", "array")).status, 200);
  EXPECT_EQ(Stored().size(), 3u);
}

TEST_F(NativeEndpointTest, KeysAreCheckedFirstAndStoreNothingWhenWrong) {
  const std::string body = json{{"events", Envelopes(1)}}.dump();
  const std::vector<std::vector<http::Header>> refused = {
      {},
      {{"Authorization", "Bearer ffffffffffffffffffffffffffffffff"}},
      {{"Authorization", absl::StrCat("Bearer ", kAmplitudeKey)}},  // not granted native
      {{"Authorization", absl::StrCat("Basic ", kKey)}},
      {{"Authorization", "Bearer "}},
      {{"X-Api-Key", "ffffffffffffffffffffffffffffffff"}},
  };
  for (const std::vector<http::Header>& headers : refused) {
    TestResponse r = Post(body, headers);
    EXPECT_EQ(r.status, 401) << r.body;
    json parsed = json::parse(r.body);
    EXPECT_EQ(parsed["code"], 401);
    EXPECT_EQ(parsed["field"], "Authorization");
  }
  // An invalid body with no key is still a 401: the body is not looked at.
  EXPECT_EQ(Post("not json", {}).status, 401);
  EXPECT_TRUE(Stored().empty());
  EXPECT_EQ(Post(body, {{"X-Api-Key", kKey}}).status, 200);
  EXPECT_EQ(Post(json{{"events", Envelopes(1, "d2", "b")}}.dump(),
                 {{"authorization", absl::StrCat("bearer  ", kKey)}})
                .status,
            200);
  EXPECT_EQ(Stored().size(), 2u);
}

TEST_F(NativeEndpointTest, AnInvalidEventIs400NamingTheFieldAndStoresNothing) {
  json events = Envelopes(4);
  events[3]["timestamp"] = "yesterday";
  TestResponse r = Post(json{{"events", events}});
  ASSERT_EQ(r.status, 400) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["code"], 400);
  EXPECT_EQ(body["field"], "events[3].timestamp");
  EXPECT_TRUE(Stored().empty());
}

TEST_F(NativeEndpointTest, AnEventTheRulesLeaveWithoutIdentityIs400AndStoresNothing) {
  json events = Envelopes(3);
  events[1]["payload"] = {{"note", "no user, no device"}};
  TestResponse r = Post(json{{"events", events}});
  ASSERT_EQ(r.status, 400) << r.body;
  const json body = json::parse(r.body);
  EXPECT_EQ(body["code"], 400);
  EXPECT_EQ(body["field"], "events[1].payload");
  EXPECT_TRUE(absl::StrContains(body["error"].get<std::string>(), "user_id or device_id"));
  EXPECT_TRUE(Stored().empty());

  TestResponse single = Post(events[1]);
  ASSERT_EQ(single.status, 400) << single.body;
  EXPECT_EQ(json::parse(single.body)["field"], "payload");
  EXPECT_TRUE(Stored().empty());
}

TEST_F(NativeEndpointTest, TooManyEventsIs413) {
  Start(uint64_t{1} << 30, /*max_events=*/2);
  TestResponse r = Post(json{{"events", Envelopes(3)}});
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(json::parse(r.body)["field"], "events");
  EXPECT_TRUE(Stored().empty());
}

TEST_F(NativeEndpointTest, RetriesAreAnsweredButNotStoredTwiceAndDropsAreCounted) {
  const json request = {{"events", Envelopes(3)}};
  ASSERT_EQ(Post(request).status, 200);
  clock_.Advance(absl::Seconds(5));
  TestResponse again = Post(request);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["duplicates"], 3);
  EXPECT_EQ(Stored().size(), 3u);
  TestResponse dropped = Post(json{{"events", Envelopes(2, "d", "hb", "heartbeat")}});
  ASSERT_EQ(dropped.status, 200);
  EXPECT_EQ(json::parse(dropped.body)["dropped"], 2);
  EXPECT_EQ(Stored().size(), 3u);
}

TEST_F(NativeEndpointTest, AThrottledRequestStoresNothingAndNamesTheActors) {
  // 1 event/s over 10 s: a bucket of 10 per device and per user (the user is u-7 throughout).
  ASSERT_EQ(Post(json{{"events", Envelopes(8, "device-a", "a")}}).status, 200);
  TestResponse r = Post(json{{"events", Envelopes(3, "device-a", "b")}});
  ASSERT_EQ(r.status, 429) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["code"], 429);
  EXPECT_EQ(body["throttled_devices"], json({{"device-a", 2}}));
  EXPECT_EQ(body["throttled_users"], json({{"u-7", 2}}));
  EXPECT_EQ(body["throttled_events"], json::array({0, 1, 2}));
  EXPECT_EQ(Stored().size(), 8u);
}

TEST_F(NativeEndpointTest, AFullDiskIsA503AndStoresNothing) {
  Start(/*max_wal_bytes=*/1);
  TestResponse r = Post(json{{"events", Envelopes(1)}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(json::parse(r.body)["code"], 503);
  EXPECT_TRUE(Stored().empty());
  Start(/*max_wal_bytes=*/uint64_t{1} << 30);
  EXPECT_EQ(Post(json{{"events", Envelopes(1)}}).status, 200);
  EXPECT_EQ(Stored().size(), 1u);
}

TEST_F(NativeEndpointTest, TheServersOwnRejectionsAreJson) {
  // What the HTTP layer answers for this route when it rejects a request itself (413, 408, 503).
  const http::Route route = endpoint_->MakeRoute(1 << 20);
  EXPECT_EQ(route.path, "/v1/events");
  EXPECT_EQ(route.max_request_bytes, 1 << 20);
  ASSERT_TRUE(route.error_formatter);
  const http::Response r = route.error_formatter(413, "request body too large");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body),
            json({{"code", 413}, {"error", "request body too large"}, {"field", ""}}));
}

}  // namespace
}  // namespace cohort::ingest
