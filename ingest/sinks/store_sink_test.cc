#include "ingest/sinks/store_sink.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "analytics/store/embedded_event_store.h"
#include "ingest/sinks/json_lines_file.h"

namespace cohort::ingest::sinks {
namespace {

// Delivery without a runner: never cancelled; counts dead letters.
class CountingControl final : public DeliveryControl {
 public:
  bool cancelled() const override { return false; }
  bool WaitUntil(absl::Time) override { return true; }
  absl::Time Now() const override { return now; }
  uint64_t lag_bytes() const override { return 0; }
  void CountRetry() override {}
  void CountDeadLettered(const std::string&, int64_t n) override { dead_lettered += n; }
  int64_t dead_lettered = 0;
  absl::Time now = absl::FromUnixMillis(1'700'000'000'000);
};

Event Accepted(std::string user, std::string insert_id) {
  Event e;
  e.project = "shop";
  e.source = EventSource::kAmplitude;
  e.event_type = "click";
  e.user_id = std::move(user);
  e.time_ms = 1'700'000'000'000;
  e.insert_id = std::move(insert_id);
  return e;
}

class StoreSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/store_sink_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    analytics::store::SegmentStoreOptions store_options;
    store_options.dir = dir_ + "/store";
    store_options.merge_below_events = 100;
    store_options.merge_fan_in = 2;
    store_ = *analytics::store::EmbeddedEventStore::Open(store_options);
    letters_ = std::make_unique<DeadLetterFile>(
        *JsonLinesFile::Open({.path = dir_ + "/dead.jsonl", .env = &PosixEnv(), .max_bytes = 0}));
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  int64_t Stored() const {
    int64_t n = 0;
    for (const auto& s : store_->segments().GetSnapshot("shop").segments) n += s->event_count();
    return n;
  }

  static SinkBatch Batch(std::vector<Event> events) {
    SinkBatch batch;
    for (size_t i = 0; i < events.size(); ++i) {
      batch.positions.push_back(wal::Lsn{1, 100 * i});
    }
    for (const Event& e : events) {  // the store sink reads records (reads_records())
      AppendEncodedEvent(e, &batch.records.data);
      batch.records.EndRecord();
    }
    return batch;
  }

  std::string dir_;
  std::unique_ptr<analytics::store::EmbeddedEventStore> store_;
  std::unique_ptr<DeadLetterFile> letters_;
};

TEST_F(StoreSinkTest, EveryBatchIsStoredAndARedeliveryAddsNothing) {
  StoreSink sink({.store = store_.get(), .dead_letter = letters_.get()});
  CountingControl control;
  SinkBatch batch = Batch({Accepted("u1", "a"), Accepted("u2", "b"), Accepted("u1", "")});
  ASSERT_TRUE(sink.Deliver(batch, control).ok());
  EXPECT_EQ(Stored(), 3);
  ASSERT_TRUE(sink.Deliver(batch, control).ok());  // at-least-once: the same batch again
  EXPECT_EQ(Stored(), 3);
  // The event without insert_id was keyed by its log position.
  bool found = false;
  for (const auto& s : store_->segments().GetSnapshot("shop").segments) {
    for (size_t e = 0; e < s->event_count(); ++e) found |= s->insert_id(e) == "wal:1:200";
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(control.dead_lettered, 0);
}

TEST_F(StoreSinkTest, AnUndecodableRecordIsDeadLetteredAsBytes) {
  StoreSink sink({.store = store_.get(), .dead_letter = letters_.get()});
  CountingControl control;
  SinkBatch batch = Batch({Accepted("u1", "a")});
  batch.records.data += "\x01\xff";  // the runner checks records; a sink does not rely on it
  batch.records.EndRecord();
  batch.positions.push_back(wal::Lsn{1, 900});
  ASSERT_TRUE(sink.Deliver(batch, control).ok());
  EXPECT_EQ(Stored(), 1);
  EXPECT_EQ(control.dead_lettered, 1);
  std::ifstream in(dir_ + "/dead.jsonl");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("\"record_base64\":\"Af8=\""), std::string::npos) << all;
}

TEST_F(StoreSinkTest, DamagedEventsAreDeadLetteredAndTheRestStored) {
  StoreSink sink({.store = store_.get(), .dead_letter = letters_.get()});
  CountingControl control;
  Event damaged = Accepted("u3", "c");
  damaged.json_field(JsonField::kEventProperties) = "not json";
  Event anonymous = Accepted("", "d");
  ASSERT_TRUE(sink.Deliver(Batch({Accepted("u1", "a"), damaged, anonymous}), control).ok());
  EXPECT_EQ(Stored(), 1);
  EXPECT_EQ(control.dead_lettered, 2);
  std::ifstream in(dir_ + "/dead.jsonl");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("event_properties"), std::string::npos);
  EXPECT_NE(all.find("neither user_id nor device_id"), std::string::npos);
}

TEST_F(StoreSinkTest, SmallSegmentsAreMergedEveryFewBatches) {
  StoreSink sink(
      {.store = store_.get(), .dead_letter = letters_.get(), .maintain_every_batches = 3});
  CountingControl control;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sink.Deliver(Batch({Accepted(absl::StrCat("u", i), "x")}), control).ok());
  }
  EXPECT_EQ(store_->segments().GetSnapshot("shop").segments.size(), 1u);
  EXPECT_EQ(Stored(), 3);
}

TEST_F(StoreSinkTest, TheRetentionPeriodIsEnforcedOnceAnHourOfTheDeliveryClock) {
  StoreSink sink({.store = store_.get(),
                  .dead_letter = letters_.get(),
                  .retention = absl::Hours(24),
                  .expire_every = absl::Hours(1)});
  CountingControl control;
  const int64_t now_ms = absl::ToUnixMillis(control.now);
  Event old = Accepted("u1", "old");
  old.time_ms = now_ms - 25 * 3'600'000LL;
  Event recent = Accepted("u1", "recent");
  recent.time_ms = now_ms - 23 * 3'600'000LL;
  // The first batch enforces: the old event is refused, the recent one kept.
  ASSERT_TRUE(sink.Deliver(Batch({old, recent}), control).ok());
  EXPECT_EQ(Stored(), 1);
  // Two hours later the recent event is 25 h old too, and goes at the next hourly check.
  control.now += absl::Minutes(30);
  Event other = Accepted("u2", "other");
  other.time_ms = now_ms;
  ASSERT_TRUE(sink.Deliver(Batch({other}), control).ok());
  EXPECT_EQ(Stored(), 2);  // not yet an hour since the last check
  control.now += absl::Minutes(90);
  ASSERT_TRUE(sink.Deliver(Batch({}), control).ok());
  EXPECT_EQ(Stored(), 1);  // the recent event is now 25 h old; only `other` is left
}

}  // namespace
}  // namespace cohort::ingest::sinks
