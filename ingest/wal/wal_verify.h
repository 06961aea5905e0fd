// Offline integrity check of a write-ahead log directory: every record's CRC32C and every sealed
// segment's SHA-256, per segment (what `cohort-wal verify` and, later, cohort-ingest expose).
// Read-only: it never repairs (recovery in Wal::Open does that).
//
// Thread-compatible; safe to run beside a live Wal (it may then see the active segment's tail
// mid-write and report it as a torn tail, which is not damage).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/file_env.h"

namespace cohort::ingest::wal {

struct SegmentCheck {
  uint64_t segment = 0;
  std::string path;
  bool quarantined = false;  // found in quarantine/ (damaged by definition)
  uint64_t size = 0;
  int64_t records = 0;  // valid data records before any damage
  uint64_t payload_bytes = 0;
  uint64_t min_record = 0;  // payload sizes
  uint64_t max_record = 0;
  bool sealed = false;
  std::string sha256;  // hex, from the seal (verified when damage is empty)
  // Empty when the segment is intact; else what is wrong and where.
  std::string damage;
  uint64_t damage_offset = 0;
  // The last segment ends in an incomplete or CRC-failing record with nothing valid after it:
  // an unacknowledged write that recovery truncates. Not damage.
  bool torn_tail = false;
};

struct VerifyReport {
  std::vector<SegmentCheck> segments;  // log order, then quarantined files
  int damaged() const;
  bool ok() const { return damaged() == 0; }
};

// Checks the segments of `dir` (and of `dir`/quarantine). Errors: the directory cannot be
// listed or a file cannot be read; damage is in the report, not an error.
[[nodiscard]] absl::StatusOr<VerifyReport> VerifyWal(Env& env, const std::string& dir);

}  // namespace cohort::ingest::wal
