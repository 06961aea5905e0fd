#include "ingest/wal/wal.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/fault_env.h"
#include "gtest/gtest.h"
#include "ingest/wal/wal_verify.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest::wal {
namespace {

namespace fs = std::filesystem;

std::string MakeTempDir() {
  std::string tmpl = ::testing::TempDir() + "/wal_test.XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

// Fatal errors are recorded instead of aborting.
struct FatalRecorder {
  absl::Mutex mu;
  std::vector<absl::Status> errors;
  std::function<void(const absl::Status&)> Hook() {
    return [this](const absl::Status& s) {
      absl::MutexLock lock(&mu);
      errors.push_back(s);
    };
  }
  size_t count() {
    absl::MutexLock lock(&mu);
    return errors.size();
  }
};

WalOptions Options(const std::string& dir, Env& env, FatalRecorder& fatal) {
  WalOptions o;
  o.dir = dir;
  o.env = &env;
  o.on_fatal = fatal.Hook();
  o.min_free_bytes = 0;
  return o;
}

std::unique_ptr<Wal> OpenOrDie(WalOptions o) {
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(std::move(o));
  EXPECT_TRUE(wal.ok()) << wal.status();
  return wal.ok() ? std::move(*wal) : nullptr;
}

// Every durable record from `from`, without waiting.
std::vector<std::string> ReadAll(Wal& wal, Lsn from = Lsn{}, Lsn* end = nullptr) {
  std::vector<std::string> out;
  WalReaderPtr reader = wal.NewReader(from);
  while (true) {
    absl::StatusOr<std::optional<WalRecord>> rec = reader->Next(absl::InfinitePast());
    EXPECT_TRUE(rec.ok()) << rec.status();
    if (!rec.ok() || !rec->has_value()) break;
    out.emplace_back((*rec)->payload);
  }
  if (end != nullptr) *end = reader->position();
  return out;
}

std::string Rec(int i) { return absl::StrCat("record-", i, "-", std::string(i % 37, 'p')); }

absl::Status AppendOne(Wal& wal, const std::string& r) {
  const std::string_view v = r;
  return wal.Append({&v, 1}).status();
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (ParseSegmentFileName(e.path().filename().string())) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(WalTest, AppendAndReadBackAcrossRotationsAndRestarts) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.segment_bytes = 2048;
  std::vector<std::string> expected;
  {
    std::unique_ptr<Wal> wal = OpenOrDie(o);
    ASSERT_TRUE(wal->recovery().clean());
    for (int i = 0; i < 300; i += 3) {
      std::vector<std::string> batch = {Rec(i), Rec(i + 1), Rec(i + 2)};
      std::vector<std::string_view> views(batch.begin(), batch.end());
      absl::StatusOr<Lsn> lsn = wal->Append(views);
      ASSERT_TRUE(lsn.ok()) << lsn.status();
      expected.insert(expected.end(), batch.begin(), batch.end());
    }
    EXPECT_EQ(ReadAll(*wal), expected);
    EXPECT_GT(wal->stats().segments, 5);
    EXPECT_EQ(wal->stats().appended_records, 300);
  }
  // Every segment but the last is sealed and intact.
  absl::StatusOr<VerifyReport> report = VerifyWal(PosixEnv(), dir);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  for (size_t i = 0; i + 1 < report->segments.size(); ++i) EXPECT_TRUE(report->segments[i].sealed);

  std::unique_ptr<Wal> wal = OpenOrDie(o);
  EXPECT_TRUE(wal->recovery().clean()) << wal->recovery().ToString();
  EXPECT_EQ(wal->recovery().records, 300);
  EXPECT_TRUE(wal->recovery().sealed_on_open.has_value());
  ASSERT_TRUE(AppendOne(*wal, "after restart").ok());
  expected.push_back("after restart");
  EXPECT_EQ(ReadAll(*wal), expected);
}

TEST(WalTest, OneWalPerDirectory) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  {
    std::unique_ptr<Wal> wal = OpenOrDie(o);
    ASSERT_TRUE(AppendOne(*wal, "first").ok());
    // A second server on the same volume is refused before it touches a segment.
    absl::StatusOr<std::unique_ptr<Wal>> second = Wal::Open(o);
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
    EXPECT_NE(second.status().message().find(dir + "/LOCK"), std::string::npos);
    ASSERT_TRUE(AppendOne(*wal, "second").ok());
  }
  // Released with the Wal: the next open recovers both records.
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  EXPECT_EQ(ReadAll(*wal), (std::vector<std::string>{"first", "second"}));
}

TEST(WalTest, RejectsBadInput) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.max_record_bytes = 100;
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  EXPECT_TRUE(absl::IsInvalidArgument(wal->Append({}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(AppendOne(*wal, std::string(101, 'x'))));
  EXPECT_TRUE(AppendOne(*wal, std::string(100, 'x')).ok());
  WalOptions bad = o;
  bad.dir = "";
  EXPECT_FALSE(Wal::Open(bad).ok());
}

TEST(WalTest, ConcurrentAppendersAreAllDurableAndReadBackExactlyOnce) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.segment_bytes = 64 * 1024;
  constexpr int kThreads = 8;
  constexpr int kAppends = 60;
  std::set<std::string> expected;
  {
    std::unique_ptr<Wal> wal = OpenOrDie(o);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int a = 0; a < kAppends; ++a) {
          std::vector<std::string> batch;
          for (int r = 0; r <= a % 4; ++r) batch.push_back(absl::StrCat(t, "/", a, "/", r));
          std::vector<std::string_view> views(batch.begin(), batch.end());
          EXPECT_TRUE(wal->Append(views).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      for (int a = 0; a < kAppends; ++a) {
        for (int r = 0; r <= a % 4; ++r) expected.insert(absl::StrCat(t, "/", a, "/", r));
      }
    }
    const Wal::Stats stats = wal->stats();
    EXPECT_LE(stats.data_syncs, kThreads * kAppends);
    EXPECT_EQ(stats.appended_records, static_cast<int64_t>(expected.size()));
  }
  std::unique_ptr<Wal> wal = OpenOrDie(o);  // durable: read back after a restart
  const std::vector<std::string> got = ReadAll(*wal);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), expected);
  // A batch is contiguous and in order: "t/a/r" follows "t/a/r-1".
  for (size_t i = 1; i < got.size(); ++i) {
    const size_t slash = got[i].rfind('/');
    if (got[i].substr(slash + 1) != "0") {
      const int r = std::stoi(got[i].substr(slash + 1));
      EXPECT_EQ(got[i - 1], absl::StrCat(got[i].substr(0, slash + 1), r - 1));
    }
  }
}

TEST(WalTest, ReaderFollowsAppendsAndWaitsWithADeadline) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  SimulatedClock clock;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.clock = &clock;
  o.segment_bytes = 256;
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  WalReaderPtr reader = wal->NewReader();

  // Nothing yet: times out only when the simulated deadline passes.
  std::atomic<bool> timed_out{false};
  std::thread waiter([&] {
    absl::StatusOr<std::optional<WalRecord>> rec = reader->Next(clock.Now() + absl::Seconds(5));
    EXPECT_TRUE(rec.ok());
    timed_out = rec.ok() && !rec->has_value();
  });
  while (clock.waiters() == 0) std::this_thread::yield();
  clock.Advance(absl::Seconds(6));
  waiter.join();
  EXPECT_TRUE(timed_out);

  // A waiting reader wakes on an append, also across a rotation.
  std::vector<std::string> got;
  std::thread consumer([&] {
    while (got.size() < 20) {
      absl::StatusOr<std::optional<WalRecord>> rec = reader->Next(absl::InfiniteFuture());
      ASSERT_TRUE(rec.ok()) << rec.status();
      ASSERT_TRUE(rec->has_value());
      got.emplace_back((*rec)->payload);
    }
  });
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    expected.push_back(Rec(i));
    ASSERT_TRUE(AppendOne(*wal, expected.back()).ok());
  }
  consumer.join();
  EXPECT_EQ(got, expected);
  EXPECT_GT(wal->stats().segments, 2);

  // Close wakes a waiting reader with kCancelled.
  std::thread closer_waiter([&] {
    absl::StatusOr<std::optional<WalRecord>> rec = reader->Next(absl::InfiniteFuture());
    EXPECT_TRUE(absl::IsCancelled(rec.status())) << rec.status();
  });
  while (clock.waiters() == 0) std::this_thread::yield();
  wal->Close();
  closer_waiter.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(AppendOne(*wal, "late")));
}

// Crash simulation: the final records are cut at every byte offset; recovery keeps exactly the
// complete records before the cut.
TEST(WalTest, TornTailAtEveryOffsetKeepsExactlyTheCompletePrefix) {
  const std::string src = MakeTempDir();
  FatalRecorder fatal;
  std::vector<std::string> records;
  std::vector<uint64_t> ends;  // file offset after each record
  {
    std::unique_ptr<Wal> wal = OpenOrDie(Options(src, PosixEnv(), fatal));
    for (int i = 0; i < 8; ++i) {
      records.push_back(Rec(i));
      ASSERT_TRUE(AppendOne(*wal, records.back()).ok());
      ends.push_back(wal->stats().durable_end.offset);
    }
  }
  const std::vector<std::string> files = SegmentFiles(src);
  ASSERT_EQ(files.size(), 1u);
  const std::string name = fs::path(files[0]).filename().string();
  const uint64_t full = fs::file_size(files[0]);
  ASSERT_EQ(full, ends.back());
  const uint64_t from = ends[ends.size() - 4];  // the last three records

  for (uint64_t cut = from; cut <= full; ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    const std::string dir = MakeTempDir();
    fs::copy_file(files[0], dir + "/" + name);
    fs::resize_file(dir + "/" + name, cut);
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;

    std::unique_ptr<Wal> wal = OpenOrDie(Options(dir, PosixEnv(), fatal));
    ASSERT_NE(wal, nullptr);
    const RecoveryReport& r = wal->recovery();
    EXPECT_TRUE(r.quarantined.empty()) << r.ToString();
    EXPECT_EQ(r.torn_tail.has_value(), cut != ends[complete - 1]) << r.ToString();
    EXPECT_EQ(ReadAll(*wal), std::vector<std::string>(records.begin(), records.begin() + complete));
    // The log keeps working after recovery, and the repaired directory verifies.
    ASSERT_TRUE(AppendOne(*wal, "next").ok());
    wal.reset();
    absl::StatusOr<VerifyReport> v = VerifyWal(PosixEnv(), dir);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->ok());
    fs::remove_all(dir);
  }
  EXPECT_EQ(fatal.count(), 0u);
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c ^= 0x20;
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

TEST(WalTest, AFlippedByteMidSegmentIsQuarantinedAndItsPrefixStillDelivered) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  std::vector<std::string> records;
  uint64_t third = 0;
  {
    std::unique_ptr<Wal> wal = OpenOrDie(Options(dir, PosixEnv(), fatal));
    for (int i = 0; i < 6; ++i) {
      if (i == 2) third = wal->stats().durable_end.offset;
      records.push_back(Rec(i));
      ASSERT_TRUE(AppendOne(*wal, records.back()).ok());
    }
  }
  const std::string file = SegmentFiles(dir).at(0);
  FlipByte(file, third + kRecordHeaderSize + 2);  // the payload of record 2

  std::unique_ptr<Wal> wal = OpenOrDie(Options(dir, PosixEnv(), fatal));
  const RecoveryReport& r = wal->recovery();
  ASSERT_EQ(r.quarantined.size(), 1u) << r.ToString();
  EXPECT_EQ(r.quarantined[0].damage_offset, third);
  EXPECT_EQ(r.quarantined[0].records_kept, 2);
  EXPECT_EQ(r.quarantined[0].reason, "record CRC mismatch");
  EXPECT_FALSE(r.torn_tail.has_value());
  EXPECT_TRUE(fs::exists(r.quarantined[0].path));
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(ReadAll(*wal), std::vector<std::string>(records.begin(), records.begin() + 2));
  ASSERT_TRUE(AppendOne(*wal, "new").ok());
  EXPECT_EQ(ReadAll(*wal), (std::vector<std::string>{records[0], records[1], "new"}));
  EXPECT_GE(wal->stats().total_bytes, r.quarantine_bytes);
  wal.reset();
  absl::StatusOr<VerifyReport> v = VerifyWal(PosixEnv(), dir);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->damaged(), 1);  // the quarantined file
}

TEST(WalTest, ChangedByteInASealedSegmentIsQuarantinedOnOpen) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.segment_bytes = 200;
  {
    std::unique_ptr<Wal> wal = OpenOrDie(o);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendOne(*wal, Rec(i)).ok());
  }
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_GT(files.size(), 2u);
  // A byte of the first record of the first (sealed) segment.
  FlipByte(files[0], kSegmentHeaderSize + kRecordHeaderSize);
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  const RecoveryReport& r = wal->recovery();
  ASSERT_EQ(r.quarantined.size(), 1u) << r.ToString();
  EXPECT_EQ(r.quarantined[0].segment,
            *ParseSegmentFileName(fs::path(files[0]).filename().string()));
  EXPECT_EQ(r.quarantined[0].records_kept, 0);
}

TEST(WalTest, FsyncFailureFiresTheFatalHookAndNoCallerSeesOk) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  FaultEnv env(PosixEnv());
  std::unique_ptr<Wal> wal = OpenOrDie(Options(dir, env, fatal));
  ASSERT_TRUE(AppendOne(*wal, "before").ok());
  env.set_fail_sync(true);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      if (AppendOne(*wal, absl::StrCat("t", t)).ok()) ++ok;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 0);
  EXPECT_EQ(fatal.count(), 1u);  // once: later callers see the failed log
  env.set_fail_sync(false);
  EXPECT_TRUE(absl::IsFailedPrecondition(AppendOne(*wal, "after")));
}

TEST(WalTest, DirectoryIsSyncedOnEverySegmentCreationAndItsFailureIsFatal) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  FaultEnv env(PosixEnv());
  WalOptions o = Options(dir, env, fatal);
  o.segment_bytes = 200;
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  const int64_t dir_syncs = env.dir_syncs();
  const int segments = wal->stats().segments;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendOne(*wal, Rec(i)).ok());
  const int created = wal->stats().segments - segments;
  ASSERT_GT(created, 2);
  EXPECT_GE(env.dir_syncs() - dir_syncs, created);
  EXPECT_EQ(fatal.count(), 0u);

  // A rotation whose directory fsync fails: fatal, and the batch is not acknowledged.
  env.set_fail_dir_sync(true);
  absl::Status status;
  int accepted = 0;
  for (int i = 0; i < 20 && status.ok(); ++i) {
    status = AppendOne(*wal, Rec(i));
    if (status.ok()) ++accepted;
  }
  EXPECT_FALSE(status.ok());
  EXPECT_LT(accepted, 19);  // failed at the next rotation, not at the end
  EXPECT_EQ(fatal.count(), 1u);
  ASSERT_EQ(fatal.errors.size(), 1u);
  EXPECT_NE(fatal.errors[0].message().find("directory fsync"), std::string::npos);
}

TEST(WalDeathTest, FsyncFailureAbortsByDefault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string dir = MakeTempDir();
  EXPECT_DEATH(
      {
        spdlog::set_default_logger(spdlog::stderr_logger_st("wal_death_test"));
        FaultEnv env(PosixEnv());
        WalOptions o;
        o.dir = dir;
        o.env = &env;
        o.min_free_bytes = 0;
        std::unique_ptr<Wal> wal = std::move(*Wal::Open(o));
        env.set_fail_sync(true);
        AppendOne(*wal, "x").IgnoreError();
      },
      "fatal I/O error");
}

TEST(WalTest, DiskCapRefusesWithResourceExhaustedAndStoresNothingOfTheRefusedBatch) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.max_total_bytes = 4096;
  o.segment_bytes = 1024;
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  ASSERT_TRUE(wal->RegisterSink("store").ok());
  std::vector<std::string> accepted;
  absl::Status refused;
  for (int i = 0; i < 1000 && refused.ok(); ++i) {
    refused = AppendOne(*wal, Rec(i));
    if (refused.ok()) accepted.push_back(Rec(i));
  }
  EXPECT_TRUE(absl::IsResourceExhausted(refused)) << refused;
  EXPECT_LE(wal->stats().total_bytes, o.max_total_bytes);
  EXPECT_GT(wal->stats().refused_appends, 0);
  uint64_t on_disk = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) on_disk += e.file_size();
  }
  EXPECT_LE(on_disk, o.max_total_bytes + 100);  // plus the sink position file
  Lsn end;
  EXPECT_EQ(ReadAll(*wal, Lsn{}, &end), accepted);

  // Acknowledging frees sealed segments, and appends are accepted again.
  ASSERT_TRUE(wal->Ack("store", end).ok());
  EXPECT_GT(wal->stats().deleted_segments, 0);
  EXPECT_TRUE(AppendOne(*wal, "room again").ok());
}

TEST(WalTest, FreeSpaceReserveAndEnospcAreResourceExhausted) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  FaultEnv env(PosixEnv());
  WalOptions o = Options(dir, env, fatal);
  o.min_free_bytes = 1 << 20;
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  ASSERT_TRUE(AppendOne(*wal, "a").ok());

  env.set_free_bytes(1 << 20);             // under the reserve once a record is added
  ASSERT_TRUE(AppendOne(*wal, "b").ok());  // the figure is refreshed after each commit
  EXPECT_TRUE(absl::IsResourceExhausted(AppendOne(*wal, "c")));
  env.set_free_bytes(-1);
  ASSERT_TRUE(AppendOne(*wal, "d").ok());

  env.set_no_space(true);  // the disk fills between the check and the write
  EXPECT_TRUE(absl::IsResourceExhausted(AppendOne(*wal, "e")));
  env.set_no_space(false);
  env.TearNextWrite(5);  // part of a batch reaches the file, then the write fails
  EXPECT_FALSE(AppendOne(*wal, "f-torn").ok());
  ASSERT_TRUE(AppendOne(*wal, "g").ok());
  EXPECT_EQ(ReadAll(*wal), (std::vector<std::string>{"a", "b", "d", "g"}));
  EXPECT_EQ(fatal.count(), 0u);
  wal.reset();
  std::unique_ptr<Wal> reopened = OpenOrDie(o);
  EXPECT_TRUE(reopened->recovery().clean()) << reopened->recovery().ToString();
  EXPECT_EQ(ReadAll(*reopened), (std::vector<std::string>{"a", "b", "d", "g"}));
}

TEST(WalTest, SinkPositionsArePersistedAndResumed) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  Lsn acked;
  {
    std::unique_ptr<Wal> wal = OpenOrDie(o);
    EXPECT_TRUE(absl::IsInvalidArgument(wal->RegisterSink("Bad Name").status()));
    EXPECT_TRUE(absl::IsInvalidArgument(wal->RegisterSink("").status()));
    absl::StatusOr<Lsn> start = wal->RegisterSink("amplitude");
    ASSERT_TRUE(start.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(AppendOne(*wal, Rec(i)).ok());
    WalReaderPtr reader = wal->NewReader(*start);
    for (int i = 0; i < 5; ++i) {
      absl::StatusOr<std::optional<WalRecord>> rec = reader->Next(absl::InfinitePast());
      ASSERT_TRUE(rec.ok() && rec->has_value());
      acked = (*rec)->next;
    }
    ASSERT_TRUE(wal->Ack("amplitude", acked).ok());
    ASSERT_TRUE(wal->Ack("amplitude", *start).ok());  // older: ignored
    EXPECT_EQ(*wal->SinkPosition("amplitude"), acked);
    EXPECT_TRUE(absl::IsNotFound(wal->Ack("nope", acked)));
    EXPECT_TRUE(absl::IsInvalidArgument(wal->Ack("amplitude", Lsn{1000, 0})));
  }
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  EXPECT_EQ(wal->recovery().sinks, 1);
  absl::StatusOr<Lsn> pos = wal->RegisterSink("amplitude");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, acked);
  std::vector<std::string> rest;
  for (int i = 5; i < 10; ++i) rest.push_back(Rec(i));
  EXPECT_EQ(ReadAll(*wal, *pos), rest);
}

TEST(WalTest, CorruptSinkPositionRestartsFromTheBeginning) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  {
    std::unique_ptr<Wal> wal = OpenOrDie(o);
    ASSERT_TRUE(wal->RegisterSink("s").ok());
    ASSERT_TRUE(AppendOne(*wal, "x").ok());
    ASSERT_TRUE(wal->Ack("s", wal->stats().durable_end).ok());
  }
  FlipByte(dir + "/sinks/s.pos", 3);
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  EXPECT_EQ(wal->recovery().sinks_reset, std::vector<std::string>{"s"});
  EXPECT_EQ(ReadAll(*wal, *wal->SinkPosition("s")), std::vector<std::string>{"x"});
}

TEST(WalTest, SegmentsAreDeletedOnlyAfterEverySinkAcknowledged) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.segment_bytes = 256;
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  ASSERT_TRUE(wal->RegisterSink("a").ok());
  ASSERT_TRUE(wal->RegisterSink("b").ok());
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(AppendOne(*wal, Rec(i)).ok());
  const size_t segments = SegmentFiles(dir).size();
  ASSERT_GT(segments, 4u);

  Lsn end;
  ReadAll(*wal, Lsn{}, &end);
  ASSERT_TRUE(wal->Ack("a", end).ok());
  EXPECT_EQ(SegmentFiles(dir).size(), segments);  // b holds them
  EXPECT_EQ(wal->stats().deleted_segments, 0);

  // b consumes the first 20 records.
  WalReaderPtr reader = wal->NewReader();
  Lsn mid;
  for (int i = 0; i < 20; ++i) mid = (*reader->Next(absl::InfinitePast()))->next;
  const uint64_t before = wal->stats().total_bytes;
  ASSERT_TRUE(wal->Ack("b", mid).ok());
  EXPECT_EQ(wal->stats().deleted_segments, static_cast<int64_t>(mid.segment - 1));
  EXPECT_EQ(SegmentFiles(dir).size(), segments - (mid.segment - 1));
  EXPECT_LT(wal->stats().total_bytes, before);
  // What b still needs is all there.
  std::vector<std::string> rest;
  for (int i = 20; i < 40; ++i) rest.push_back(Rec(i));
  EXPECT_EQ(ReadAll(*wal, mid), rest);
  // Removing a lagging sink releases what it held.
  ASSERT_TRUE(wal->RemoveSink("b").ok());
  EXPECT_EQ(SegmentFiles(dir).size(), 1u);  // a is at the end: only the active segment is left
}

TEST(WalTest, NoSinkMeansNothingIsDeleted) {
  const std::string dir = MakeTempDir();
  FatalRecorder fatal;
  WalOptions o = Options(dir, PosixEnv(), fatal);
  o.segment_bytes = 256;
  std::unique_ptr<Wal> wal = OpenOrDie(o);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(AppendOne(*wal, Rec(i)).ok());
  ASSERT_TRUE(wal->RegisterSink("late").ok());
  EXPECT_EQ(ReadAll(*wal, *wal->SinkPosition("late")).size(), 40u);
}

}  // namespace
}  // namespace cohort::ingest::wal
