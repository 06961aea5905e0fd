#include "ingest/sinks/sink_runner.h"

#include <stdlib.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ingest/event/event_codec.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::sinks {
namespace {

using wal::Lsn;
using wal::Wal;

std::string MakeTempDir() {
  std::string tmpl = ::testing::TempDir() + "/sink_runner_test.XXXXXX";
  char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

// Polls `pred` (real time) until it holds or 20 s pass.
bool WaitFor(const std::function<bool()>& pred) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

Event MakeEvent(int i) {
  Event e;
  // (Constructed strings, not assigned literals: GCC 12's -Wrestrict misfires on those here.)
  e.project = std::string("p");
  e.event_type = std::string("click");
  e.device_id = absl::StrCat("device-", i % 7);
  e.insert_id = absl::StrCat("id-", i);
  e.time_ms = 1'700'000'000'000 + i;
  return e;
}

// Appends events [from, to), one record each.
void AppendEvents(Wal& wal, int from, int to) {
  std::vector<std::string> records;
  for (int i = from; i < to; ++i) records.push_back(EncodeEvent(MakeEvent(i)));
  std::vector<std::string_view> views(records.begin(), records.end());
  absl::StatusOr<Lsn> first = wal.Append(views);
  EXPECT_TRUE(first.ok()) << first.status();
}

// Records each delivered batch; `hook` decides the answer (default OK).
class FakeSink final : public Sink {
 public:
  absl::Status Deliver(const SinkBatch& batch, DeliveryControl& control) override {
    absl::Status s = hook ? hook(batch, control) : absl::OkStatus();
    absl::MutexLock lock(&mu);
    ++attempts;
    if (s.ok()) {
      delivered.push_back(batch);
      for (const Event& e : batch.events) ids.push_back(e.insert_id);
      EventView view;
      for (size_t i = 0; i < batch.records.size(); ++i) {
        EXPECT_TRUE(DecodeEventView(batch.records.record(i), view).ok());
        ids.emplace_back(view.insert_id);
      }
    }
    return s;
  }
  bool reads_records() const override { return reads; }
  std::vector<std::string> Ids() {
    absl::MutexLock lock(&mu);
    return ids;
  }
  size_t Batches() {
    absl::MutexLock lock(&mu);
    return delivered.size();
  }

  std::function<absl::Status(const SinkBatch&, DeliveryControl&)> hook;
  bool reads = false;  // reads_records()
  absl::Mutex mu;
  std::vector<SinkBatch> delivered;
  std::vector<std::string> ids;
  std::atomic<int> attempts{0};  // read by the tests without `mu`
};

class SinkRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    OpenWal();
    absl::StatusOr<std::unique_ptr<JsonLinesFile>> dl =
        JsonLinesFile::Open({.path = dir_ + "/dead-letter.jsonl"});
    ASSERT_TRUE(dl.ok()) << dl.status();
    dead_letter_ = std::make_unique<DeadLetterFile>(*std::move(dl));
  }
  void OpenWal() {
    wal_.reset();
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open({.dir = dir_ + "/wal", .clock = clock_});
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = *std::move(wal);
  }
  SinkRunnerOptions Options() {
    return {.name = "fake",
            .max_batch_events = 10,
            .flush_interval = absl::Milliseconds(5),
            .concurrency = 1,
            .poll_interval = absl::Milliseconds(1),
            .retry_base = absl::Milliseconds(1),
            .retry_cap = absl::Milliseconds(4),
            .clock = clock_,
            .registry = &registry_,
            .dead_letter = dead_letter_.get()};
  }
  std::vector<std::string> ExpectedIds(int from, int to) {
    std::vector<std::string> ids;
    for (int i = from; i < to; ++i) ids.push_back(absl::StrCat("id-", i));
    return ids;
  }

  Clock* clock_ = &RealClock::Get();
  std::string dir_;
  Registry registry_;
  std::unique_ptr<DeadLetterFile> dead_letter_;
  std::unique_ptr<Wal> wal_;
};

TEST_F(SinkRunnerTest, DeliversEverythingInOrderWithPositionsAndAcks) {
  AppendEvents(*wal_, 0, 25);
  FakeSink sink;
  SinkRunner runner(*wal_, sink, Options());
  ASSERT_TRUE(runner.Start().ok());
  AppendEvents(*wal_, 25, 40);  // while running
  ASSERT_TRUE(WaitFor([&] { return sink.Ids().size() == 40; }));
  EXPECT_EQ(sink.Ids(), ExpectedIds(0, 40));
  const Lsn end = wal_->stats().durable_end;
  ASSERT_TRUE(WaitFor([&] { return runner.acked() == end; }));
  EXPECT_EQ(*wal_->SinkPosition("fake"), end);

  // Every event's position is the record's in the log; batches are contiguous.
  wal::WalReaderPtr reader = wal_->NewReader();
  absl::MutexLock lock(&sink.mu);
  Lsn expected_begin;
  bool first = true;
  for (const SinkBatch& batch : sink.delivered) {
    EXPECT_LE(batch.events.size(), 10u);
    if (!first) {
      EXPECT_EQ(batch.begin, expected_begin);
    }
    first = false;
    expected_begin = batch.end;
    ASSERT_EQ(batch.events.size(), batch.positions.size());
    for (size_t i = 0; i < batch.events.size(); ++i) {
      absl::StatusOr<std::optional<wal::WalRecord>> rec = reader->Next(absl::InfinitePast());
      ASSERT_TRUE(rec.ok() && rec->has_value());
      EXPECT_EQ(batch.positions[i], (*rec)->lsn);
      EXPECT_EQ(*DecodeEvent((*rec)->payload), batch.events[i]);
    }
    EXPECT_EQ(batch.end, reader->position());
  }
  EXPECT_EQ(expected_begin, end);
  ASSERT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(runner.stats().delivered_events, 40);
}

// Batches complete out of order; the log is acknowledged only up to the contiguous prefix.
TEST_F(SinkRunnerTest, AcksOnlyTheContiguousPrefixOfCompletedBatches) {
  AppendEvents(*wal_, 0, 30);  // three full batches of 10
  const Lsn start = *wal_->RegisterSink("fake");
  absl::Mutex gate_mu;
  std::set<uint64_t> released;
  std::set<uint64_t> started;
  FakeSink sink;
  sink.hook = [&](const SinkBatch& batch, DeliveryControl& control) {
    absl::MutexLock lock(&gate_mu);
    started.insert(batch.sequence);
    // Cancellable, so a failed expectation below ends in a failure, not a hang.
    const auto go = [&] { return released.count(batch.sequence) > 0 || control.cancelled(); };
    while (!gate_mu.AwaitWithTimeout(absl::Condition(&go), absl::Milliseconds(10))) {
    }
    return control.cancelled() ? absl::CancelledError("stopping") : absl::OkStatus();
  };
  SinkRunnerOptions options = Options();
  options.concurrency = 3;
  // Batches close by size only: a slow reader (sanitizers) must not split them by time.
  options.flush_interval = absl::Hours(1);
  SinkRunner runner(*wal_, sink, options);
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&gate_mu);
    return started.size() == 3;
  }));
  const auto release = [&](uint64_t seq) {
    absl::MutexLock lock(&gate_mu);
    released.insert(seq);
  };
  const auto batch_end = [&](uint64_t seq) {
    absl::MutexLock lock(&sink.mu);
    for (const SinkBatch& b : sink.delivered) {
      if (b.sequence == seq) return std::optional<Lsn>(b.end);
    }
    return std::optional<Lsn>();
  };
  release(2);
  ASSERT_TRUE(WaitFor([&] { return batch_end(2).has_value(); }));
  release(1);
  ASSERT_TRUE(WaitFor([&] { return batch_end(1).has_value(); }));
  // 1 and 2 are done, 0 is not: nothing may be acknowledged.
  EXPECT_EQ(runner.acked(), start);
  EXPECT_EQ(*wal_->SinkPosition("fake"), start);
  release(0);
  ASSERT_TRUE(WaitFor([&] { return runner.acked() == *batch_end(2); }));
  EXPECT_EQ(*wal_->SinkPosition("fake"), wal_->stats().durable_end);
  ASSERT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
}

// Stop with a batch that never completes: it is cancelled at the deadline, the prefix before it
// is acknowledged, and a new runner (after reopening the log) starts again from it.
TEST_F(SinkRunnerTest, StopAtDeadlineThenRestartResumesFromLastAck) {
  AppendEvents(*wal_, 0, 20);
  {
    FakeSink sink;
    std::atomic<bool> second_in_flight{false};
    sink.hook = [&](const SinkBatch& batch, DeliveryControl& control) {
      if (batch.sequence == 0) return absl::OkStatus();
      second_in_flight = true;
      // Blocks until the runner cancels it.
      while (control.WaitUntil(control.Now() + absl::Milliseconds(1))) {
      }
      return absl::CancelledError("stopping");
    };
    SinkRunnerOptions options = Options();
    options.flush_interval = absl::Hours(1);  // batches of exactly 10, whatever the reader's speed
    SinkRunner runner(*wal_, sink, options);
    ASSERT_TRUE(runner.Start().ok());
    ASSERT_TRUE(WaitFor([&] { return sink.Batches() == 1 && sink.attempts >= 1; }));
    ASSERT_TRUE(WaitFor([&] { return runner.acked() != Lsn{}; }));
    // Stop only once the second batch is being delivered (a slow machine may not be there yet,
    // and then there is nothing for the deadline to cut).
    ASSERT_TRUE(WaitFor([&] { return second_in_flight.load(); }));
    absl::Status stopped = runner.Stop(absl::Now() + absl::Milliseconds(50));
    EXPECT_TRUE(absl::IsDeadlineExceeded(stopped)) << stopped;
    EXPECT_EQ(sink.Ids(), ExpectedIds(0, 10));
    EXPECT_EQ(*wal_->SinkPosition("fake"), sink.delivered[0].end);
  }
  OpenWal();  // as after a crash
  AppendEvents(*wal_, 20, 25);
  FakeSink sink;
  SinkRunner runner(*wal_, sink, Options());
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return sink.Ids().size() == 15; }));
  EXPECT_EQ(sink.Ids(), ExpectedIds(10, 25));
  EXPECT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(*wal_->SinkPosition("fake"), wal_->stats().durable_end);
}

// A graceful stop lets a slow in-flight batch and the partial batch being assembled finish.
TEST_F(SinkRunnerTest, GracefulStopDrainsInFlightAndPartialBatches) {
  std::atomic<bool> slow{true};
  FakeSink sink;
  sink.hook = [&](const SinkBatch&, DeliveryControl& control) {
    if (slow.exchange(false)) control.WaitUntil(control.Now() + absl::Milliseconds(50));
    return absl::OkStatus();
  };
  SinkRunnerOptions options = Options();
  options.flush_interval = absl::Hours(1);  // only size or Stop closes a batch
  SinkRunner runner(*wal_, sink, options);
  ASSERT_TRUE(runner.Start().ok());
  AppendEvents(*wal_, 0, 13);
  ASSERT_TRUE(WaitFor([&] { return sink.attempts >= 1; }));
  EXPECT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(sink.Ids(), ExpectedIds(0, 13));
  EXPECT_EQ(*wal_->SinkPosition("fake"), wal_->stats().durable_end);
}

TEST_F(SinkRunnerTest, FlushIntervalOnTheInjectedClock) {
  SimulatedClock sim;
  clock_ = &sim;
  OpenWal();
  FakeSink sink;
  SinkRunnerOptions options = Options();
  options.flush_interval = absl::Seconds(10);
  SinkRunner runner(*wal_, sink, options);
  ASSERT_TRUE(runner.Start().ok());
  AppendEvents(*wal_, 0, 3);
  // Read but not flushed: the batch is not full and no simulated time passed.
  ASSERT_TRUE(WaitFor([&] {
    return registry_
               .AddGaugeFamily("cohort_sink_lag_records",
                               "Records the sink has not acknowledged (the unread part "
                               "estimated from bytes).",
                               {"sink"})
               .WithLabels({"fake"})
               .Value() == 3;
  }));
  absl::SleepFor(absl::Milliseconds(20));  // give a wrong implementation the chance to flush
  EXPECT_EQ(sink.Batches(), 0u);
  sim.Advance(absl::Seconds(9));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(sink.Batches(), 0u);
  sim.Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return sink.Batches() == 1; }));
  EXPECT_EQ(sink.Ids(), ExpectedIds(0, 3));
  EXPECT_TRUE(runner.Stop(sim.Now() + absl::Seconds(10)).ok());
}

TEST_F(SinkRunnerTest, RetriesFailedDeliveriesWithoutDropping) {
  std::atomic<int> failures{3};
  FakeSink sink;
  sink.hook = [&](const SinkBatch&, DeliveryControl&) {
    return failures.fetch_sub(1) > 0 ? absl::UnavailableError("destination down")
                                     : absl::OkStatus();
  };
  SinkRunner runner(*wal_, sink, Options());
  ASSERT_TRUE(runner.Start().ok());
  AppendEvents(*wal_, 0, 5);
  ASSERT_TRUE(WaitFor([&] { return sink.Ids().size() == 5; }));
  EXPECT_EQ(sink.Ids(), ExpectedIds(0, 5));
  EXPECT_EQ(runner.stats().retries, 3);
  EXPECT_EQ(registry_
                .AddCounterFamily("cohort_sink_retries_total",
                                  "Delivery attempts retried after an error.", {"sink"})
                .WithLabels({"fake"})
                .Value(),
            3);
  EXPECT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
}

TEST_F(SinkRunnerTest, UndecodableRecordsGoToTheDeadLetterFileAndDoNotBlock) {
  std::string newer = EncodeEvent(MakeEvent(1));
  newer[0] = static_cast<char>(kEventRecordVersion + 1);
  std::vector<std::string> records = {EncodeEvent(MakeEvent(0)), std::string("\x01\xff"), newer,
                                      EncodeEvent(MakeEvent(2))};
  std::vector<std::string_view> views(records.begin(), records.end());
  ASSERT_TRUE(wal_->Append(views).ok());
  std::string only_bad = "\x01";
  ASSERT_TRUE(wal_->Append({std::string_view(only_bad)}).ok());  // a batch of dead letters only
  FakeSink sink;
  SinkRunner runner(*wal_, sink, Options());
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return runner.acked() == wal_->stats().durable_end; }));
  EXPECT_EQ(sink.Ids(), (std::vector<std::string>{"id-0", "id-2"}));
  EXPECT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(runner.stats().dead_lettered, 3);

  std::ifstream in(dir_ + "/dead-letter.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["reason"], "undecodable_record");
  EXPECT_EQ(lines[0]["record_base64"], "Af8=");
  EXPECT_EQ(lines[0]["sink"], "fake");
  EXPECT_EQ(lines[1]["reason"], "unsupported_record_version");
  EXPECT_EQ(lines[2]["reason"], "undecodable_record");
  EXPECT_EQ(lines[2]["record_base64"], "AQ==");
}

TEST_F(SinkRunnerTest, ASinkThatReadsRecordsGetsThemCheckedAndUndecoded) {
  std::vector<std::string> records = {EncodeEvent(MakeEvent(0)), std::string("\x01\xff"),
                                      EncodeEvent(MakeEvent(1)), EncodeEvent(MakeEvent(2))};
  std::vector<std::string_view> views(records.begin(), records.end());
  ASSERT_TRUE(wal_->Append(views).ok());
  FakeSink sink;
  sink.reads = true;
  SinkRunner runner(*wal_, sink, Options());
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return runner.acked() == wal_->stats().durable_end; }));
  EXPECT_TRUE(runner.Stop(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(sink.Ids(), (std::vector<std::string>{"id-0", "id-1", "id-2"}));
  EXPECT_EQ(runner.stats().dead_lettered, 1) << "the runner still checks every record";
  EXPECT_EQ(runner.stats().delivered_events, 3);
  absl::MutexLock lock(&sink.mu);
  for (const SinkBatch& batch : sink.delivered) {
    EXPECT_TRUE(batch.events.empty());
    ASSERT_EQ(batch.records.size(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ(*DecodeEvent(batch.records.record(i)), *DecodeEvent(records[i == 0 ? 0 : i + 1]))
          << "record " << i << " as written";
    }
  }
}

TEST_F(SinkRunnerTest, RejectsBadOptions) {
  FakeSink sink;
  SinkRunnerOptions options = Options();
  options.concurrency = 0;
  SinkRunner runner(*wal_, sink, options);
  EXPECT_TRUE(absl::IsInvalidArgument(runner.Start()));
  SinkRunnerOptions bad_name = Options();
  bad_name.name = "Bad Name";
  SinkRunner runner2(*wal_, sink, bad_name);
  EXPECT_TRUE(absl::IsInvalidArgument(runner2.Start()));
}

}  // namespace
}  // namespace cohort::ingest::sinks
