// The on-disk format of a write-ahead log segment, and the scanner that recovery, readers'
// checks, `verify` and `dump` share. A segment is one file, `<20-digit sequence>.wal`:
//
//   header (24 bytes): "COHRTWAL" | version u32 | sequence u64 | masked CRC32C of the 20 before
//   record*:           masked CRC32C u32 | length u32 | type u8 | payload[length]
//
// Integers are little-endian. A record's CRC32C covers its type, length and payload. Type 1 is a
// data record (an opaque payload). Type 2 is the seal: the last record of a segment that will get
// no more appends, whose 32-byte payload is the SHA-256 of every byte of the file before it. A
// footer (rather than a sidecar file) was chosen because it is atomic with the data it covers:
// the seal is written and fdatasynced before the next segment is created, so there is no state
// where a segment and its digest disagree because one of two files was lost, and no second file
// to create, fsync and garbage-collect per segment.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cohort::ingest::wal {

inline constexpr std::string_view kSegmentMagic = "COHRTWAL";
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint64_t kSegmentHeaderSize = 24;
inline constexpr uint64_t kRecordHeaderSize = 9;
inline constexpr uint64_t kSha256Size = 32;
inline constexpr uint64_t kSealRecordSize = kRecordHeaderSize + kSha256Size;
// The largest payload the format allows; a longer length field is damage.
inline constexpr uint64_t kMaxRecordBytes = 64 << 20;

enum class RecordType : uint8_t { kData = 1, kSeal = 2 };

// A position in the log: a record's segment and the byte offset of its header in that file.
// Totally ordered: by segment, then offset. A reader's or sink's position names the next record
// to read, so "acknowledged up to p" means every record before p was consumed.
struct Lsn {
  uint64_t segment = 0;
  uint64_t offset = 0;
  friend auto operator<=>(const Lsn&, const Lsn&) = default;
  std::string ToString() const;  // "<segment>:<offset>"
};

std::string SegmentFileName(uint64_t sequence);  // "00000000000000000042.wal"
// The sequence of a segment file name; nullopt for any other name.
std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

std::string EncodeSegmentHeader(uint64_t sequence);
// Appends one framed record to `out`.
void AppendRecord(std::string& out, RecordType type, std::string_view payload);
inline uint64_t EncodedRecordSize(uint64_t payload_size) {
  return kRecordHeaderSize + payload_size;
}

// Incremental SHA-256 (OpenSSL EVP). Errors are OpenSSL failures (out of memory).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  [[nodiscard]] absl::Status Reset();
  [[nodiscard]] absl::Status Update(std::string_view data);
  // The digest of everything given since the last Reset (32 raw bytes); the state is kept, so
  // more Updates may follow.
  [[nodiscard]] absl::StatusOr<std::string> Digest() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};
[[nodiscard]] absl::StatusOr<std::string> Sha256Digest(std::string_view data);
std::string HexDigest(std::string_view raw);

// What a scan of one segment's bytes found.
struct SegmentScan {
  uint64_t file_size = 0;
  bool header_ok = false;
  int64_t records = 0;         // valid data records before any damage
  uint64_t payload_bytes = 0;  // their payload bytes
  uint64_t data_end = 0;       // the offset just past the last valid data record (or the header)
  uint64_t valid_end = 0;      // data_end, or past the seal record when sealed
  bool sealed = false;         // a valid seal record ends the valid part
  bool seal_digest_ok = false;
  std::string seal_digest;  // hex, when sealed
  // The first damage: a bad header, a truncated or invalid record, a CRC mismatch, a digest
  // mismatch, or bytes after the seal.
  struct Damage {
    uint64_t offset = 0;
    std::string reason;
    // A valid record (data or seal) starts somewhere after the damage, or the search for one
    // ran out of its budget (adversarial bytes): the damage is not a torn tail but corruption in
    // the middle of the segment.
    bool valid_after = false;
  };
  std::optional<Damage> damage;
};

// Scans a whole segment. `expected_sequence` is checked against the header. `on_record`, when
// set, sees each valid data record before the first damage, with its offset.
SegmentScan ScanSegment(
    std::string_view bytes, uint64_t expected_sequence,
    const std::function<void(uint64_t offset, std::string_view payload)>& on_record = nullptr);

// Parses the record at `offset` of `bytes`: its type and payload if the whole record is there
// with a valid CRC, nullopt otherwise.
struct ParsedRecord {
  RecordType type;
  std::string_view payload;
};
std::optional<ParsedRecord> ParseRecordAt(std::string_view bytes, uint64_t offset);

}  // namespace cohort::ingest::wal
