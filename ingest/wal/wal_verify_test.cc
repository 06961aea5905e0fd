#include "ingest/wal/wal_verify.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ingest/wal/segment_format.h"
#include "ingest/wal/wal.h"
#include "ingest/wal/wal_tool.h"

namespace cohort::ingest::wal {
namespace {

namespace fs = std::filesystem;

std::string MakeTempDir() {
  std::string tmpl = ::testing::TempDir() + "/wal_verify_test.XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// A log of several sealed segments and an active one.
std::string MakeLog() {
  const std::string dir = MakeTempDir();
  WalOptions o;
  o.dir = dir;
  o.segment_bytes = 300;
  o.min_free_bytes = 0;
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(o);
  EXPECT_TRUE(wal.ok());
  for (int i = 0; i < 30; ++i) {
    const std::string r = absl::StrCat("record number ", i);
    const std::string_view v = r;
    EXPECT_TRUE((*wal)->Append({&v, 1}).ok());
  }
  return dir;
}

std::string SegmentPath(const std::string& dir, uint64_t seq) {
  return dir + "/" + SegmentFileName(seq);
}

int RunTool(const std::vector<std::string>& args, std::string* out) {
  std::ostringstream o, e;
  const int rc = RunWalTool(PosixEnv(), args, o, e);
  *out = o.str() + e.str();
  return rc;
}

TEST(VerifyTest, IntactLogIsOkWithPerSegmentFigures) {
  const std::string dir = MakeLog();
  absl::StatusOr<VerifyReport> report = VerifyWal(PosixEnv(), dir);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok());
  ASSERT_GE(report->segments.size(), 3u);
  int64_t records = 0;
  for (const SegmentCheck& c : report->segments) records += c.records;
  EXPECT_EQ(records, 30);
  EXPECT_TRUE(report->segments[0].sealed);
  EXPECT_EQ(report->segments[0].sha256.size(), 64u);
  EXPECT_FALSE(report->segments.back().sealed);

  std::string out;
  EXPECT_EQ(RunTool({"verify", dir}, &out), 0) << out;
  EXPECT_NE(out.find("0 damaged"), std::string::npos) << out;
  EXPECT_EQ(RunTool({"dump", dir}, &out), 0) << out;
  EXPECT_NE(out.find("records"), std::string::npos) << out;
  EXPECT_EQ(RunTool({"verify"}, &out), 2);
  EXPECT_EQ(RunTool({"frobnicate", dir}, &out), 2);
  EXPECT_EQ(RunTool({"verify", dir + "/missing"}, &out), 2);
}

TEST(VerifyTest, DetectsAChangedByteInASealedSegment) {
  const std::string dir = MakeLog();
  const std::string path = SegmentPath(dir, 1);
  std::string bytes = ReadBytes(path);
  bytes[kSegmentHeaderSize + kRecordHeaderSize + 3] ^= 0x01;
  WriteBytes(path, bytes);
  absl::StatusOr<VerifyReport> report = VerifyWal(PosixEnv(), dir);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->damaged(), 1);
  EXPECT_EQ(report->segments[0].damage, "record CRC mismatch");
  std::string out;
  EXPECT_EQ(RunTool({"verify", dir}, &out), 1) << out;
  EXPECT_NE(out.find("DAMAGED"), std::string::npos) << out;
}

TEST(VerifyTest, DetectsAChangeOnlyTheSegmentDigestCanSee) {
  const std::string dir = MakeLog();
  const std::string path = SegmentPath(dir, 1);
  const std::string bytes = ReadBytes(path);
  // Re-frame the first record with a different payload of the same size and a valid CRC.
  std::optional<ParsedRecord> first = ParseRecordAt(bytes, kSegmentHeaderSize);
  ASSERT_TRUE(first.has_value());
  std::string forged = std::string(first->payload);
  forged[0] = 'R';
  std::string rec;
  AppendRecord(rec, RecordType::kData, forged);
  std::string changed = bytes;
  changed.replace(kSegmentHeaderSize, rec.size(), rec);
  WriteBytes(path, changed);
  absl::StatusOr<VerifyReport> report = VerifyWal(PosixEnv(), dir);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->damaged(), 1);
  EXPECT_EQ(report->segments[0].damage, "segment SHA-256 mismatch");

  // Recovery quarantines it too, delivering its CRC-valid records.
  WalOptions o;
  o.dir = dir;
  o.min_free_bytes = 0;
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok());
  ASSERT_EQ((*wal)->recovery().quarantined.size(), 1u);
  EXPECT_EQ((*wal)->recovery().quarantined[0].reason, "segment SHA-256 mismatch");
  absl::StatusOr<std::optional<WalRecord>> rec0 = (*wal)->NewReader()->Next(absl::InfinitePast());
  ASSERT_TRUE(rec0.ok() && rec0->has_value());
}

TEST(VerifyTest, TornTailOfTheLastSegmentIsNotDamage) {
  const std::string dir = MakeLog();
  std::vector<uint64_t> seqs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (auto s = ParseSegmentFileName(e.path().filename().string())) seqs.push_back(*s);
  }
  const uint64_t last = *std::max_element(seqs.begin(), seqs.end());
  const std::string path = SegmentPath(dir, last);
  fs::resize_file(path, fs::file_size(path) - 3);
  absl::StatusOr<VerifyReport> report = VerifyWal(PosixEnv(), dir);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  EXPECT_TRUE(report->segments.back().torn_tail);
}

TEST(VerifyTest, AnUnsealedSegmentBeforeTheLastIsDamage) {
  const std::string dir = MakeLog();
  const std::string path = SegmentPath(dir, 1);
  fs::resize_file(path, fs::file_size(path) - kSealRecordSize);
  absl::StatusOr<VerifyReport> report = VerifyWal(PosixEnv(), dir);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->damaged(), 1);
  EXPECT_EQ(report->segments[0].damage, "unsealed segment that is not the last");
}

}  // namespace
}  // namespace cohort::ingest::wal
