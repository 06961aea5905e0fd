#include "ingest/wal/segment_format.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cohort::ingest::wal {
namespace {

std::string Segment(uint64_t seq, const std::vector<std::string>& records, bool seal) {
  std::string bytes = EncodeSegmentHeader(seq);
  for (const std::string& r : records) AppendRecord(bytes, RecordType::kData, r);
  if (seal) {
    absl::StatusOr<std::string> digest = Sha256Digest(bytes);
    EXPECT_TRUE(digest.ok());
    AppendRecord(bytes, RecordType::kSeal, *digest);
  }
  return bytes;
}

TEST(LsnTest, TotallyOrderedBySegmentThenOffset) {
  EXPECT_LT((Lsn{1, 100}), (Lsn{2, 24}));
  EXPECT_LT((Lsn{2, 24}), (Lsn{2, 25}));
  EXPECT_EQ((Lsn{3, 7}), (Lsn{3, 7}));
  EXPECT_EQ((Lsn{3, 7}).ToString(), "3:7");
}

TEST(SegmentFileNameTest, RoundTripsAndRejectsOtherNames) {
  EXPECT_EQ(SegmentFileName(42), "00000000000000000042.wal");
  EXPECT_EQ(ParseSegmentFileName(SegmentFileName(42)), 42u);
  EXPECT_EQ(ParseSegmentFileName(SegmentFileName(UINT64_MAX)), UINT64_MAX);
  for (const char* bad : {"42.wal", "0000000000000000004x.wal", "00000000000000000042.tmp",
                          "00000000000000000042.wal.tmp", "-0000000000000000042.wal", ""}) {
    EXPECT_FALSE(ParseSegmentFileName(bad).has_value()) << bad;
  }
}

TEST(SegmentScanTest, ReadsRecordsOfAnIntactSegment) {
  const std::vector<std::string> records = {"a", "", std::string(1000, 'x'), "last"};
  const std::string bytes = Segment(7, records, false);
  std::vector<std::string> seen;
  std::vector<uint64_t> offsets;
  const SegmentScan scan = ScanSegment(bytes, 7, [&](uint64_t off, std::string_view p) {
    offsets.push_back(off);
    seen.emplace_back(p);
  });
  EXPECT_FALSE(scan.damage.has_value());
  EXPECT_TRUE(scan.header_ok);
  EXPECT_FALSE(scan.sealed);
  EXPECT_EQ(scan.records, 4);
  EXPECT_EQ(seen, records);
  EXPECT_EQ(offsets.front(), kSegmentHeaderSize);
  EXPECT_EQ(scan.data_end, bytes.size());
  EXPECT_EQ(scan.payload_bytes, 1005u);
}

TEST(SegmentScanTest, SealedSegmentVerifiesItsDigest) {
  const std::string bytes = Segment(3, {"one", "two"}, true);
  const SegmentScan scan = ScanSegment(bytes, 3);
  EXPECT_FALSE(scan.damage.has_value());
  EXPECT_TRUE(scan.sealed);
  EXPECT_TRUE(scan.seal_digest_ok);
  EXPECT_EQ(scan.seal_digest.size(), 64u);
  EXPECT_EQ(scan.valid_end, bytes.size());
  EXPECT_EQ(scan.data_end, bytes.size() - kSealRecordSize);
}

TEST(SegmentScanTest, WrongSequenceOrMagicIsDamage) {
  const std::string bytes = Segment(3, {"one"}, false);
  EXPECT_TRUE(ScanSegment(bytes, 4).damage.has_value());
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  const SegmentScan scan = ScanSegment(bad_magic, 3);
  ASSERT_TRUE(scan.damage.has_value());
  EXPECT_EQ(scan.damage->offset, 0u);
  EXPECT_TRUE(scan.damage->valid_after);  // the record after the header is intact
}

TEST(SegmentScanTest, EveryTruncationOfTheLastRecordIsATornTail) {
  const std::string bytes = Segment(1, {"first record", "second record"}, false);
  const uint64_t second = kSegmentHeaderSize + EncodedRecordSize(12);
  for (uint64_t cut = second + 1; cut < bytes.size(); ++cut) {
    const SegmentScan scan = ScanSegment(std::string_view(bytes).substr(0, cut), 1);
    ASSERT_TRUE(scan.damage.has_value()) << cut;
    EXPECT_EQ(scan.damage->offset, second) << cut;
    EXPECT_FALSE(scan.damage->valid_after) << cut;
    EXPECT_EQ(scan.records, 1) << cut;
    EXPECT_EQ(scan.valid_end, second) << cut;
  }
}

TEST(SegmentScanTest, AFlippedByteBeforeValidRecordsIsCorruption) {
  const std::string bytes = Segment(1, {"aaaa", "bbbb", "cccc"}, false);
  const uint64_t second = kSegmentHeaderSize + EncodedRecordSize(4);
  // Every byte of the middle record: CRC, length, type or payload.
  for (uint64_t at = second; at < second + EncodedRecordSize(4); ++at) {
    std::string damaged = bytes;
    damaged[at] ^= 0x40;
    const SegmentScan scan = ScanSegment(damaged, 1);
    ASSERT_TRUE(scan.damage.has_value()) << at;
    EXPECT_EQ(scan.damage->offset, second) << at;
    EXPECT_TRUE(scan.damage->valid_after) << at;
    EXPECT_EQ(scan.records, 1) << at;
  }
}

TEST(SegmentScanTest, SealedSegmentWithAChangedByteFailsItsDigestOrCrc) {
  const std::string bytes = Segment(2, {"payload-1", "payload-2"}, true);
  for (uint64_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] ^= 0x01;
    EXPECT_TRUE(ScanSegment(damaged, 2).damage.has_value()) << at;
  }
}

TEST(SegmentScanTest, BytesAfterTheSealAreDamage) {
  std::string bytes = Segment(2, {"x"}, true);
  AppendRecord(bytes, RecordType::kData, "late");
  const SegmentScan scan = ScanSegment(bytes, 2);
  ASSERT_TRUE(scan.damage.has_value());
  EXPECT_EQ(scan.damage->reason, "bytes after the seal");
}

TEST(SegmentScanTest, AdversarialTailAfterDamageStaysCheapAndCountsAsCorruption) {
  // Damage followed by 20 MiB of 0x01: every offset looks like a data record of 16 MiB, so an
  // exhaustive search would checksum petabytes; the budget ends it and calls it corruption.
  std::string bytes = Segment(1, {"ok"}, false);
  bytes.append(20 << 20, '\x01');
  const absl::Time start = absl::Now();
  const SegmentScan scan = ScanSegment(bytes, 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  ASSERT_TRUE(scan.damage.has_value());
  EXPECT_TRUE(scan.damage->valid_after);
  EXPECT_EQ(scan.records, 1);
}

TEST(ParseRecordAtTest, RejectsHugeLengthsAndZeroFill) {
  std::string bytes = Segment(1, {"abc"}, false);
  EXPECT_TRUE(ParseRecordAt(bytes, kSegmentHeaderSize).has_value());
  std::string huge = bytes;
  huge[kSegmentHeaderSize + 7] = '\x7f';  // length's high byte
  EXPECT_FALSE(ParseRecordAt(huge, kSegmentHeaderSize).has_value());
  const std::string zeros(64, '\0');
  EXPECT_FALSE(ParseRecordAt(zeros, 0).has_value());
  EXPECT_FALSE(ParseRecordAt(bytes, bytes.size() + 5).has_value());
}

TEST(Sha256Test, KnownDigestAndIncremental) {
  absl::StatusOr<std::string> d = Sha256Digest("abc");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(HexDigest(*d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 sha;
  ASSERT_TRUE(sha.Reset().ok());
  ASSERT_TRUE(sha.Update("a").ok());
  ASSERT_TRUE(sha.Update("bc").ok());
  EXPECT_EQ(*sha.Digest(), *d);
  ASSERT_TRUE(sha.Update("d").ok());  // Digest keeps the state
  EXPECT_EQ(*sha.Digest(), *Sha256Digest("abcd"));
}

}  // namespace
}  // namespace cohort::ingest::wal
