#include "analytics/store/segment_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fault_env.h"

namespace cohort::analytics::store {
namespace {

Event Make(std::string project, std::string user, std::string device, int64_t time,
           std::string insert_id, std::string type = "click") {
  Event e;
  e.project = std::move(project);
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.time_ms = time;
  e.insert_id = std::move(insert_id);
  e.event_type = std::move(type);
  return e;
}

class SegmentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/segment_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<SegmentStore> Open(Env* env = &PosixEnv(), OpenReport* report = nullptr,
                                     uint64_t merge_below = 1'000'000) {
    SegmentStoreOptions options;
    options.dir = dir_;
    options.env = env;
    options.merge_below_events = merge_below;
    options.merge_fan_in = 2;  // two same-tier neighbours merge: small cases stay small
    absl::StatusOr<std::unique_ptr<SegmentStore>> store = SegmentStore::Open(options, report);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static int64_t Count(const SegmentStore& store, const std::string& project) {
    int64_t n = 0;
    for (const SegmentPtr& s : store.GetSnapshot(project).segments) n += s->event_count();
    return n;
  }

  std::vector<std::string> Files(const std::string& project) {
    absl::StatusOr<std::vector<std::string>> files =
        PosixEnv().ListDir(dir_ + "/p-" + absl::BytesToHexString(project));
    std::vector<std::string> out = files.ok() ? *files : std::vector<std::string>{};
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
};

TEST_F(SegmentStoreTest, TheFirstCopyWinsWithinACallAndAgainstWhatIsStored) {
  auto store = Open();
  absl::StatusOr<AppendResult> r =
      store->Append({Make("p", "u1", "", 10, "a", "first"), Make("p", "u1", "", 99, "a", "second"),
                     Make("p", "u2", "", 10, "a"), Make("q", "u1", "", 10, "a")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stored, 3);
  EXPECT_EQ(r->duplicates, 1);
  Snapshot p = store->GetSnapshot("p");
  ASSERT_EQ(p.segments.size(), 1u);
  EXPECT_EQ(p.segments[0]->ToEvent(0).event_type, "first");
  // A replay of the same events (at-least-once delivery) stores nothing.
  r = store->Append({Make("p", "u1", "d7", 10, "a"), Make("q", "u1", "", 10, "a")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stored, 0);
  EXPECT_EQ(r->duplicates, 2);
  EXPECT_EQ(store->GetSnapshot("p").version, p.version);  // nothing written, nothing changed
  // The dedup key is the storage group: a device-only event with the same insert_id is new.
  r = store->Append({Make("p", "", "d7", 10, "a")});
  EXPECT_EQ(r->stored, 1);
  EXPECT_GT(store->GetSnapshot("p").version, p.version);
  EXPECT_EQ(store->projects(), (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(store->GetSnapshot("nobody").segments.size(), 0u);
}

TEST_F(SegmentStoreTest, InvalidEventsStoreNothing) {
  auto store = Open();
  absl::StatusOr<AppendResult> r =
      store->Append({Make("p", "u1", "", 10, "a"), Make("p", "", "", 10, "b")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("event 1"), std::string::npos);
  EXPECT_EQ(Count(*store, "p"), 0);
}

TEST_F(SegmentStoreTest, WhatWasAcknowledgedSurvivesAReopenAndDedupStillHolds) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Append({Make("p", "u1", "", 1, "a"), Make("p", "", "d1", 2, "b")}).ok());
    ASSERT_TRUE(store->Append({Make("p", "u2", "d1", 3, "c")}).ok());
  }
  OpenReport report;
  auto store = Open(&PosixEnv(), &report);
  EXPECT_EQ(report.segments, 2);
  EXPECT_EQ(report.events, 3);
  EXPECT_TRUE(report.quarantined.empty());
  EXPECT_EQ(Count(*store, "p"), 3);
  absl::StatusOr<AppendResult> r = store->Append({Make("p", "u2", "d1", 3, "c")});
  EXPECT_EQ(r->duplicates, 1);
  // Sequence numbers continue after the loaded ones.
  ASSERT_TRUE(store->Append({Make("p", "u3", "", 4, "d")}).ok());
  EXPECT_EQ(Files("p").back(), "00000000000000000003-00000000000000000003.seg");
}

TEST_F(SegmentStoreTest, AFailedSyncStoresNothingAndTheRetryStoresOnce) {
  FaultEnv faults(PosixEnv());
  auto store = Open(&faults);
  faults.set_fail_sync(true);
  absl::StatusOr<AppendResult> r = store->Append({Make("p", "u1", "", 1, "a")});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Count(*store, "p"), 0);
  faults.set_fail_sync(false);
  r = store->Append({Make("p", "u1", "", 1, "a")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stored, 1);
  store.reset();
  store = Open();
  EXPECT_EQ(Count(*store, "p"), 1);
}

TEST_F(SegmentStoreTest, AFailedDirectorySyncLeavesNoFileBehind) {
  FaultEnv faults(PosixEnv());
  auto store = Open(&faults);
  ASSERT_TRUE(store->Append({Make("p", "u0", "", 1, "z")}).ok());
  faults.set_fail_dir_sync(true);
  EXPECT_FALSE(store->Append({Make("p", "u1", "", 1, "a")}).ok());
  faults.set_fail_dir_sync(false);
  ASSERT_TRUE(store->Append({Make("p", "u1", "", 1, "a")}).ok());
  store.reset();
  store = Open();
  EXPECT_EQ(Count(*store, "p"), 2);
}

TEST_F(SegmentStoreTest, MergesGoByTierSoEventsAreRewrittenAFewTimesNotOncePerBatch) {
  SegmentStoreOptions options;
  options.dir = dir_;
  options.merge_below_events = 1000;
  options.merge_fan_in = 8;
  std::unique_ptr<SegmentStore> store = *SegmentStore::Open(options);
  int next = 0;
  auto append = [&](int segments) {
    for (int s = 0; s < segments; ++s) {
      std::vector<Event> batch;
      for (int e = 0; e < 10; ++e, ++next) {  // 10 events: tier 1 ([8, 64))
        batch.push_back(Make("p", absl::StrCat("u", next % 7), "", next, absl::StrCat("i", next)));
      }
      ASSERT_TRUE(store->Append(batch).ok());
    }
  };
  auto sizes = [&] {
    std::vector<uint64_t> out;
    for (const SegmentPtr& s : store->GetSnapshot("p").segments) out.push_back(s->event_count());
    return out;
  };
  append(7);
  EXPECT_EQ(*store->Merge(), 0) << "seven of a tier wait for an eighth";
  append(13);
  EXPECT_EQ(*store->Merge(), 1);
  EXPECT_EQ(sizes(), std::vector<uint64_t>{200}) << "a run of twenty folds at once";
  append(8);  // 80 events: tier 2 ([64, 512)) like the 200 before them
  EXPECT_EQ(*store->Merge(), 1);
  EXPECT_EQ(sizes(), (std::vector<uint64_t>{200, 80}));
  for (int round = 0; round < 6; ++round) {  // six more tier-2 segments of 80: eight in a row
    append(8);
    ASSERT_TRUE(store->Merge().ok());
  }
  EXPECT_EQ(sizes(), std::vector<uint64_t>{200 + 7 * 80}) << "eight of tier 2 became one";
  append(1);
  EXPECT_EQ(*store->Merge(), 0);
  EXPECT_EQ(sizes(), (std::vector<uint64_t>{760, 10}));
  EXPECT_EQ(Count(*store, "p"), 770);
}

TEST_F(SegmentStoreTest, MergeFoldsConsecutiveSmallSegmentsAndSurvivesACrashHalfway) {
  auto store = Open(&PosixEnv(), nullptr, /*merge_below=*/3);
  ASSERT_TRUE(store->Append({Make("p", "u1", "", 1, "a")}).ok());
  ASSERT_TRUE(store->Append({Make("p", "u2", "", 2, "b")}).ok());
  ASSERT_TRUE(store
                  ->Append({Make("p", "u3", "", 3, "c"), Make("p", "u3", "", 4, "d"),
                            Make("p", "u3", "", 5, "e")})
                  .ok());  // 3 events: not small
  ASSERT_TRUE(store->Append({Make("p", "u4", "", 6, "f")}).ok());
  std::string first_input = dir_ + "/p-70/" + Files("p")[0];
  std::ifstream in(first_input, std::ios::binary);
  std::string saved((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Snapshot before = store->GetSnapshot("p");
  absl::StatusOr<int> merges = store->Merge();
  ASSERT_TRUE(merges.ok()) << merges.status();
  EXPECT_EQ(*merges, 1);  // [1,2] merged; 3 is large; 4 alone
  // The same events: cached answers stay valid (version), views of the segments do not.
  const Snapshot after = store->GetSnapshot("p");
  EXPECT_EQ(after.version, before.version);
  EXPECT_NE(after.generation, before.generation);
  EXPECT_EQ(after.segments.size(), 3u);
  EXPECT_EQ(Files("p"),
            (std::vector<std::string>{"00000000000000000001-00000000000000000002.seg",
                                      "00000000000000000003-00000000000000000003.seg",
                                      "00000000000000000004-00000000000000000004.seg"}));
  EXPECT_EQ(Count(*store, "p"), 6);
  ASSERT_TRUE(store->Append({Make("p", "u5", "", 7, "g")}).ok());
  EXPECT_NE(store->GetSnapshot("p").version, after.version);
  // A crash between writing the merged file and removing its inputs leaves an input behind.
  std::ofstream(first_input, std::ios::binary) << saved;
  store.reset();
  OpenReport report;
  store = Open(&PosixEnv(), &report, 3);
  EXPECT_EQ(report.superseded_removed, 1);
  EXPECT_EQ(Count(*store, "p"), 7);
  EXPECT_EQ(store->Append({Make("p", "u1", "", 1, "a")})->duplicates, 1);
}

// Snapshots list the recent appends (the segments as written, with the versions they published)
// so that views catch up by the new events alone: merges keep the list, a deletion empties it,
// and only the last appends_kept are listed.
TEST_F(SegmentStoreTest, SnapshotsListTheAppendsSinceTheLastRemoval) {
  SegmentStoreOptions options;
  options.dir = dir_;
  options.merge_below_events = 10;
  options.merge_fan_in = 2;
  options.appends_kept = 3;
  absl::StatusOr<std::unique_ptr<SegmentStore>> opened = SegmentStore::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  SegmentStore& store = **opened;
  const uint64_t opened_version = store.GetSnapshot("p").version;
  ASSERT_TRUE(store.Append({Make("p", "u1", "", 1, "a")}).ok());
  const Snapshot one = store.GetSnapshot("p");
  ASSERT_EQ(one.appends.size(), 1u);
  EXPECT_EQ(one.appends_since, opened_version);
  EXPECT_EQ(one.appends[0].version, one.version);
  EXPECT_EQ(one.appends[0].segment, one.segments[0]);
  ASSERT_TRUE(store.Append({Make("p", "u2", "", 2, "b")}).ok());
  const Snapshot two = store.GetSnapshot("p");
  ASSERT_EQ(two.appends.size(), 2u);
  EXPECT_EQ(two.appends[1].version, two.version);
  ASSERT_EQ(*store.Merge(), 1);  // the two become one segment; the appends stay listed
  const Snapshot merged = store.GetSnapshot("p");
  EXPECT_EQ(merged.segments.size(), 1u);
  ASSERT_EQ(merged.appends.size(), 2u);
  EXPECT_EQ(merged.appends[0].segment, one.segments[0]);
  EXPECT_EQ(merged.appends_since, opened_version);
  // Past appends_kept the oldest leave, and appends_since moves up to the last one dropped.
  ASSERT_TRUE(store.Append({Make("p", "u3", "", 3, "c")}).ok());
  ASSERT_TRUE(store.Append({Make("p", "u4", "", 4, "d")}).ok());
  const Snapshot four = store.GetSnapshot("p");
  ASSERT_EQ(four.appends.size(), 3u);
  EXPECT_EQ(four.appends_since, one.version);
  EXPECT_EQ(four.appends[0].version, two.version);
  // A deletion is not an append: nothing before it can be caught up by appends.
  ASSERT_EQ(*store.DeleteUser("p", "u1"), 1);
  const Snapshot deleted = store.GetSnapshot("p");
  EXPECT_TRUE(deleted.appends.empty());
  EXPECT_EQ(deleted.appends_since, deleted.version);
}

// Written segments are read in place from their mapped files: the heap keeps dictionaries, the
// page cache the columns. A snapshot taken before a merge or a deletion keeps reading its
// segments after their files are removed or replaced; answers are the same as from the heap.
TEST_F(SegmentStoreTest, SegmentsAreMappedAndSnapshotsOutliveTheirFiles) {
  std::vector<Event> events;
  for (int i = 0; i < 4000; ++i) {
    events.push_back(Make("p", i % 3 ? absl::StrCat("u", i % 50) : "", absl::StrCat("d", i % 70),
                          1000 + i, absl::StrCat("insert-id-", i), i % 2 ? "view" : "click"));
    events.back().event_properties["n"] = PropertyValue::Number(i % 5);
  }
  auto heap_store = [&] {
    SegmentStoreOptions options;
    options.dir = dir_ + "/heap";
    options.map_files = false;
    return *SegmentStore::Open(options);
  }();
  auto store = Open();
  for (int batch = 0; batch < 4; ++batch) {
    std::vector<Event> part(events.begin() + batch * 1000, events.begin() + (batch + 1) * 1000);
    ASSERT_TRUE(heap_store->Append(part).ok());
    ASSERT_TRUE(store->Append(std::move(part)).ok());
  }
  EXPECT_EQ(heap_store->mapped_bytes(), 0u);
  EXPECT_GT(store->mapped_bytes(), 4000u * 30);
  EXPECT_LT(store->memory_bytes() * 2, heap_store->memory_bytes());

  auto all_events = [](const Snapshot& snapshot) {
    std::set<std::tuple<std::string, std::string, int64_t, std::string>> out;
    for (const SegmentPtr& s : snapshot.segments) {
      for (size_t e = 0; e < s->event_count(); ++e) {
        Event ev = s->ToEvent(e);
        out.emplace(ev.user_id, ev.insert_id, ev.time_ms, ev.event_properties["n"].ToJson());
      }
    }
    return out;
  };
  const Snapshot before = store->GetSnapshot("p");
  ASSERT_EQ(before.segments.size(), 4u);
  ASSERT_EQ(*store->Merge(), 1);                   // one run of four: every input file removed
  ASSERT_TRUE(store->DeleteUser("p", "u7").ok());  // and the merged file replaced
  EXPECT_EQ(Files("p").size(), 1u);
  EXPECT_EQ(all_events(before), all_events(heap_store->GetSnapshot("p")));
  ASSERT_TRUE(heap_store->DeleteUser("p", "u7").ok());
  EXPECT_EQ(all_events(store->GetSnapshot("p")), all_events(heap_store->GetSnapshot("p")));
  store.reset();
  store = Open();
  EXPECT_EQ(all_events(store->GetSnapshot("p")), all_events(heap_store->GetSnapshot("p")));
}

TEST_F(SegmentStoreTest, OneStorePerDirectory) {
  auto store = Open();
  ASSERT_TRUE(store->Append({Make("p", "u1", "", 1, "a")}).ok());
  absl::StatusOr<std::unique_ptr<SegmentStore>> second = SegmentStore::Open({.dir = dir_});
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  store.reset();
  store = Open();
  EXPECT_EQ(Count(*store, "p"), 1);
}

TEST_F(SegmentStoreTest, ADamagedSegmentIsQuarantinedAndTheRestServed) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Append({Make("p", "u1", "", 1, "a")}).ok());
    ASSERT_TRUE(store->Append({Make("p", "u2", "", 2, "b")}).ok());
  }
  std::string victim = dir_ + "/p-70/" + Files("p")[0];
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.put('\x7f');
  }
  OpenReport report;
  auto store = Open(&PosixEnv(), &report);
  ASSERT_EQ(report.quarantined.size(), 1u);
  EXPECT_EQ(report.quarantined[0], victim);
  EXPECT_EQ(Count(*store, "p"), 1);
  EXPECT_EQ(Files("p").front(), "00000000000000000001-00000000000000000001.seg.bad");
}

TEST_F(SegmentStoreTest, DeleteUserRemovesTheUserAndTheDevicesFirstSeenWithIt) {
  auto store = Open();
  ASSERT_TRUE(store
                  ->Append({Make("p", "", "d1", 1, "anon1"),       // d1 before login
                            Make("p", "alice", "d1", 5, "login"),  // d1 first seen with alice
                            Make("p", "bob", "d1", 9, "bob1"),     // later bob on d1
                            Make("p", "", "d2", 1, "anon2"),       // d2 first seen with bob
                            Make("p", "bob", "d2", 2, "bob2")})
                  .ok());
  ASSERT_TRUE(
      store->Append({Make("p", "alice", "", 20, "a2"), Make("q", "alice", "", 1, "x")}).ok());
  absl::StatusOr<int64_t> deleted = store->DeleteUser("p", "alice");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 3);  // anon1, login, a2
  EXPECT_EQ(Count(*store, "p"), 3);
  EXPECT_EQ(Count(*store, "q"), 1);  // another project is another namespace
  store.reset();
  store = Open();
  EXPECT_EQ(Count(*store, "p"), 3);
  for (const SegmentPtr& s : store->GetSnapshot("p").segments) {
    for (size_t e = 0; e < s->event_count(); ++e) EXPECT_NE(s->ToEvent(e).user_id, "alice");
  }
  EXPECT_EQ(*store->DeleteUser("p", "nobody"), 0);
}

TEST_F(SegmentStoreTest, ExpireBeforeDeletesOldEventsDurablyAndRefusesLateOnes) {
  auto store = Open();
  ASSERT_TRUE(store->Append({Make("p", "a", "", 10, "old1"), Make("p", "b", "", 20, "old2")}).ok());
  ASSERT_TRUE(store
                  ->Append({Make("p", "a", "", 50, "mixed-old"), Make("p", "a", "", 150, "new1"),
                            Make("q", "c", "", 99, "q-old")})
                  .ok());
  ASSERT_TRUE(store->Append({Make("p", "b", "", 200, "new2")}).ok());
  size_t files_before = store->GetSnapshot("p").segments.size();
  ASSERT_EQ(files_before, 3u);

  absl::StatusOr<int64_t> deleted = store->ExpireBefore(100);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 4);  // old1, old2, mixed-old and q-old in the other project
  EXPECT_EQ(Count(*store, "p"), 2);
  EXPECT_EQ(Count(*store, "q"), 0);
  EXPECT_EQ(store->GetSnapshot("p").segments.size(), 2u);  // the all-old segment is gone
  // A lower cutoff changes nothing; late events older than the cutoff are not stored.
  EXPECT_EQ(*store->ExpireBefore(50), 0);
  absl::StatusOr<AppendResult> late =
      store->Append({Make("p", "a", "", 99, "late"), Make("p", "a", "", 100, "edge")});
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->expired, 1);
  EXPECT_EQ(late->stored, 1);  // time 100 is not before the cutoff

  // What was expired stays gone after a reopen (the cutoff itself does not persist).
  store.reset();
  store = Open();
  EXPECT_EQ(Count(*store, "p"), 3);
  EXPECT_EQ(Count(*store, "q"), 0);
  for (const SegmentPtr& s : store->GetSnapshot("p").segments) {
    for (size_t e = 0; e < s->event_count(); ++e) EXPECT_GE(s->ToEvent(e).time_ms, 100);
  }
}

TEST_F(SegmentStoreTest, AFailedRewriteKeepsTheEventsItCouldNotDelete) {
  FaultEnv env(PosixEnv());
  auto store = Open(&env);
  ASSERT_TRUE(
      store->Append({Make("p", "a", "", 10, "old1"), Make("p", "a", "", 500, "keep")}).ok());
  env.set_fail_sync(true);
  absl::StatusOr<int64_t> deleted = store->ExpireBefore(100);
  EXPECT_FALSE(deleted.ok());
  env.set_fail_sync(false);
  store.reset();
  store = Open();
  // The rewrite did not complete: the old file (both events) is what a reopen finds.
  EXPECT_EQ(Count(*store, "p"), 2);
}

TEST_F(SegmentStoreTest, LargeGroupsDedupThroughTheirIndex) {
  auto store = Open();
  std::vector<Event> many;
  for (int i = 0; i < 500; ++i) many.push_back(Make("p", "bot", "", i, absl::StrCat("i", i)));
  ASSERT_TRUE(store->Append(many).ok());
  absl::StatusOr<AppendResult> r =
      store->Append({Make("p", "bot", "", 7, "i250"), Make("p", "bot", "", 7, "i500")});
  EXPECT_EQ(r->duplicates, 1);
  EXPECT_EQ(r->stored, 1);
}

// The dedup filter in front of the search stays exact across appends, merges, deletions,
// expiry and a reopen: a random workload against a model of what is stored.
TEST_F(SegmentStoreTest, DedupStaysExactThroughMergesDeletionsExpiryAndReopen) {
  auto store = Open(&PosixEnv(), nullptr, /*merge_below=*/200);
  using Key = std::tuple<std::string, std::string, std::string>;  // user, device, insert_id
  // The group: the user, or the device of an event without one.
  const auto key = [](const Event& e) {
    return Key{e.user_id, e.user_id.empty() ? e.device_id : "", e.insert_id};
  };
  const auto Stored = [&](const SegmentStore& s) {
    std::set<Key> stored;
    for (const SegmentPtr& seg : s.GetSnapshot("p").segments) {
      for (size_t e = 0; e < seg->event_count(); ++e) stored.insert(key(seg->ToEvent(e)));
    }
    return stored;
  };
  std::mt19937 rng(7);
  std::set<Key> model;
  int64_t expired_before = 0;
  for (int round = 0; round < 60; ++round) {
    std::vector<Event> batch;
    for (int i = 0, n = 1 + static_cast<int>(rng() % 40); i < n; ++i) {
      // Few users and ids, so copies are common; device-only events too.
      std::string user = rng() % 4 ? absl::StrCat("u", rng() % 6) : "";
      std::string device = absl::StrCat("d", rng() % 5);
      batch.push_back(Make("p", user, device, 1000 + static_cast<int64_t>(rng() % 1000),
                           absl::StrCat("i", rng() % 60)));
    }
    int64_t fresh = 0;
    for (const Event& e : batch) {
      if (e.time_ms >= expired_before) fresh += model.insert(key(e)).second;
    }
    absl::StatusOr<AppendResult> r = store->Append(batch);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->stored, fresh) << "round " << round;
    switch (round % 15) {
      case 4:
        ASSERT_TRUE(store->Merge().ok());
        break;
      case 9: {  // a user deleted: its events (and devices first seen with it) may come again
        ASSERT_TRUE(store->DeleteUser("p", "u1").ok());
        model = Stored(*store);
        break;
      }
      case 12:
        store.reset();
        store = Open(&PosixEnv(), nullptr, 200);
        break;
      case 14: {
        expired_before += 100;
        ASSERT_TRUE(store->ExpireBefore(expired_before).ok());
        model = Stored(*store);
        break;
      }
    }
    ASSERT_EQ(Count(*store, "p"), static_cast<int64_t>(model.size())) << "round " << round;
  }
}

}  // namespace
}  // namespace cohort::analytics::store
