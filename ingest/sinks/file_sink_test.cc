#include "ingest/sinks/file_sink.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fault_env.h"
#include "gtest/gtest.h"
#include "ingest/sinks/dead_letter.h"
#include "ingest/sinks/event_json.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::sinks {
namespace {

std::string MakeTempDir() {
  std::string tmpl = ::testing::TempDir() + "/file_sink_test.XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class NoControl final : public DeliveryControl {
 public:
  bool cancelled() const override { return false; }
  bool WaitUntil(absl::Time) override { return true; }
  absl::Time Now() const override { return absl::Now(); }
  uint64_t lag_bytes() const override { return 0; }
  void CountRetry() override {}
  void CountDeadLettered(const std::string&, int64_t) override {}
};

Event FullEvent() {
  Event e;
  e.project = "shop";
  e.source = EventSource::kNative;
  e.event_type = "purchase \"big\"";
  e.user_id = "user-1";
  e.device_id = "device-1";
  e.time_ms = 1'700'000'000'123;
  e.insert_id = "ins-1";
  e.session_id = 1'700'000'000'000;
  e.event_id = 7;
  e.server_received_time_ms = 1'700'000'000'999;
  e.ip = "10.0.0.1";
  e.attribute(Attribute::kPlatform) = "Web";
  e.attribute(Attribute::kProductId) = "sku-1";
  e.price = 9.5;
  e.quantity = 2;
  e.revenue = 19;
  e.location_lat = 48.85;
  e.location_lng = 2.35;
  e.json_field(JsonField::kEventProperties) = R"({"a":[1,2],"b":"x"})";
  e.json_field(JsonField::kGroups) = R"({"org":"acme"})";
  return e;
}

TEST(EventJsonTest, AmplitudeFieldNamesAndOnlyPresentFields) {
  std::string out;
  AppendEventJson(FullEvent(), {}, &out);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j, nlohmann::json::parse(R"({
    "user_id":"user-1","device_id":"device-1","event_type":"purchase \"big\"",
    "time":1700000000123,"insert_id":"ins-1","session_id":1700000000000,"event_id":7,
    "ip":"10.0.0.1","platform":"Web","productId":"sku-1","price":9.5,"quantity":2,
    "revenue":19.0,"location_lat":48.85,"location_lng":2.35,
    "event_properties":{"a":[1,2],"b":"x"},"groups":{"org":"acme"}})"));

  Event minimal;
  minimal.event_type = "e";
  minimal.device_id = "d-12345";
  out.clear();
  AppendEventJson(minimal, {.cohort_fields = true}, &out);
  EXPECT_EQ(nlohmann::json::parse(out),
            nlohmann::json::parse(R"({"device_id":"d-12345","event_type":"e","time":0,
              "source":"amplitude","server_received_time":0})"));
}

TEST(FileSinkTest, AppendsOneLinePerEventWithCohortFields) {
  const std::string dir = MakeTempDir();
  absl::StatusOr<std::unique_ptr<FileSink>> sink = FileSink::Open({.path = dir + "/events.jsonl"});
  ASSERT_TRUE(sink.ok()) << sink.status();
  NoControl control;
  SinkBatch batch;
  batch.events = {FullEvent(), FullEvent()};
  batch.events[1].insert_id = "ins-2";
  ASSERT_TRUE((*sink)->Deliver(batch, control).ok());
  batch.events = {FullEvent()};
  batch.events[0].insert_id = "ins-3";
  ASSERT_TRUE((*sink)->Deliver(batch, control).ok());
  std::vector<nlohmann::json> lines = ReadLines(dir + "/events.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["insert_id"], "ins-1");
  EXPECT_EQ(lines[1]["insert_id"], "ins-2");
  EXPECT_EQ(lines[2]["insert_id"], "ins-3");
  EXPECT_EQ(lines[0]["project"], "shop");
  EXPECT_EQ(lines[0]["source"], "native");
  EXPECT_EQ(lines[0]["server_received_time"], 1'700'000'000'999);
}

TEST(FileSinkTest, RotatesBySize) {
  const std::string dir = MakeTempDir();
  absl::StatusOr<std::unique_ptr<JsonLinesFile>> file =
      JsonLinesFile::Open({.path = dir + "/f.jsonl", .max_bytes = 100});
  ASSERT_TRUE(file.ok());
  const std::string line = std::string(59, 'x') + "\n";  // 60 bytes
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*file)->Append(line).ok());
  EXPECT_EQ((*file)->rotations(), 2);
  EXPECT_EQ(std::filesystem::file_size(dir + "/f.jsonl.1"), 60u);
  EXPECT_EQ(std::filesystem::file_size(dir + "/f.jsonl.2"), 60u);
  EXPECT_EQ(std::filesystem::file_size(dir + "/f.jsonl"), 60u);
  // A record larger than max_bytes still goes in (to a fresh file), never dropped.
  ASSERT_TRUE((*file)->Append(std::string(200, 'y') + "\n").ok());
  EXPECT_EQ(std::filesystem::file_size(dir + "/f.jsonl"), 201u);
  EXPECT_EQ(std::filesystem::file_size(dir + "/f.jsonl.3"), 60u);
}

TEST(FileSinkTest, WriteAndSyncErrorsAreReportedAndNothingPartialStays) {
  const std::string dir = MakeTempDir();
  FaultEnv env(PosixEnv());
  absl::StatusOr<std::unique_ptr<FileSink>> sink =
      FileSink::Open({.path = dir + "/events.jsonl", .env = &env});
  ASSERT_TRUE(sink.ok());
  NoControl control;
  SinkBatch batch;
  batch.events = {FullEvent()};
  ASSERT_TRUE((*sink)->Deliver(batch, control).ok());
  const auto size = std::filesystem::file_size(dir + "/events.jsonl");
  env.TearNextWrite(10);  // a short write, then an error
  EXPECT_FALSE((*sink)->Deliver(batch, control).ok());
  EXPECT_EQ(std::filesystem::file_size(dir + "/events.jsonl"), size);
  env.set_fail_sync(true);
  EXPECT_FALSE((*sink)->Deliver(batch, control).ok());
  env.set_fail_sync(false);
  ASSERT_TRUE((*sink)->Deliver(batch, control).ok());
  EXPECT_GE(ReadLines(dir + "/events.jsonl").size(), 2u);
}

TEST(DeadLetterTest, LineHoldsEventReasonPositionAndResponse) {
  DeadLetter letter{.sink = "amp",
                    .reason = "invalid_field:time",
                    .position = wal::Lsn{3, 40},
                    .event = FullEvent(),
                    .response = R"({"code":400})"};
  std::string out;
  AppendDeadLetterJson(letter, absl::FromUnixMillis(5), &out);
  ASSERT_EQ(out.back(), '\n');
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["time"], 5);
  EXPECT_EQ(j["sink"], "amp");
  EXPECT_EQ(j["reason"], "invalid_field:time");
  EXPECT_EQ(j["position"], "3:40");
  EXPECT_EQ(j["event"]["insert_id"], "ins-1");
  EXPECT_EQ(j["response"], R"({"code":400})");
  EXPECT_FALSE(j.contains("record_base64"));
}

}  // namespace
}  // namespace cohort::ingest::sinks
