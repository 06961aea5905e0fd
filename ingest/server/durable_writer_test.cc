// DurableWriter: requests grouped into one append stay contiguous and in order, every completion
// runs once, and a group the WAL refuses as a whole fails only the requests it must.
#include "ingest/server/durable_writer.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace cohort::ingest {
namespace {

class DurableWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/durable_writer_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    wal::WalOptions options;
    options.dir = dir_ + "/wal";
    options.min_free_bytes = 0;
    options.max_record_bytes = 64;
    absl::StatusOr<std::unique_ptr<wal::Wal>> wal = wal::Wal::Open(options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = *std::move(wal);
  }
  void TearDown() override {
    wal_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Request `r`'s records: "r<r>-<i>", or one over max_record_bytes when `oversized`.
  static EncodedRecords Request(int r, int records, bool oversized) {
    EncodedRecords out;
    for (int i = 0; i < records; ++i) {
      out.data += oversized && i == 1 ? std::string(100, 'x') : absl::StrCat("r", r, "-", i);
      out.EndRecord();
    }
    return out;
  }

  std::vector<std::string> ReadAll() {
    std::vector<std::string> records;
    wal::WalReaderPtr reader = wal_->NewReader();
    while (true) {
      absl::StatusOr<std::optional<wal::WalRecord>> next = reader->Next(absl::InfinitePast());
      if (!next.ok() || !next->has_value()) break;
      records.emplace_back((*next)->payload);
    }
    return records;
  }

  std::string dir_;
  std::unique_ptr<wal::Wal> wal_;
};

TEST_F(DurableWriterTest, GroupedRequestsStayContiguousAndOnlyTheBadOnesFail) {
  constexpr int kRequests = 300;
  std::vector<absl::Status> results(kRequests, absl::UnknownError("not called"));
  std::atomic<int> calls{0};
  {
    // One thread: while it writes a group, the next requests queue up behind it and are written
    // as the following group.
    DurableWriter writer(*wal_, {.threads = 1});
    for (int r = 0; r < kRequests; ++r) {
      const bool oversized = r % 50 == 7;
      ASSERT_TRUE(writer.Submit(Request(r, 3, oversized), [&, r](absl::Status s) {
        results[r] = std::move(s);
        ++calls;
      }));
    }
  }  // the destructor finishes everything queued
  EXPECT_EQ(calls.load(), kRequests);
  std::vector<std::string> expected;
  for (int r = 0; r < kRequests; ++r) {
    if (r % 50 == 7) {
      EXPECT_EQ(results[r].code(), absl::StatusCode::kInvalidArgument) << r;
      continue;
    }
    EXPECT_TRUE(results[r].ok()) << r << ": " << results[r];
    for (int i = 0; i < 3; ++i) expected.push_back(absl::StrCat("r", r, "-", i));
  }
  EXPECT_EQ(ReadAll(), expected) << "in submission order, each request's records together";
}

TEST_F(DurableWriterTest, ConcurrentSubmittersAllComplete) {
  absl::Mutex mu;
  int ok = 0;
  {
    DurableWriter writer(*wal_, {.threads = 2});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int r = 0; r < 50; ++r) {
          ASSERT_TRUE(writer.Submit(Request(t * 1000 + r, 2, false), [&](absl::Status s) {
            absl::MutexLock lock(&mu);
            ok += s.ok() ? 1 : 0;
          }));
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  EXPECT_EQ(ok, 200);
  const std::vector<std::string> records = ReadAll();
  ASSERT_EQ(records.size(), 400u);
  for (size_t i = 0; i < records.size(); i += 2) {  // a request's two records are adjacent
    EXPECT_EQ(records[i].substr(0, records[i].size() - 1),
              records[i + 1].substr(0, records[i + 1].size() - 1));
  }
}

}  // namespace
}  // namespace cohort::ingest
