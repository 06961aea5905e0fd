// The on-disk form of a Segment (segment.h): a self-describing, checksummed file body.
//
// Layout (integers little-endian; varint = LEB128; zigzag for signed deltas):
//   "COHSEG01"                                   magic and format version 1
//   section*                                     u8 tag, varint length, payload,
//                                                u32 masked CRC32C of the payload
//   end section (tag 0xFF)                        payload: u32 masked CRC32C of every byte before
// Sections, in this order: project; groups (kind, id) and their event offsets; time (zigzag
// deltas); event types; insert ids; sessions; devices; the dictionaries; event and user property
// columns; values. Decode checks every checksum, every length and every code against its
// dictionary, so a damaged file is a kDataLoss error, never a crash or a wrong answer.
//
// Adding a column means a new version; Decode keeps reading every older version.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "analytics/store/segment.h"

namespace cohort::analytics::store {

class SegmentCodec {
 public:
  static std::string Encode(const Segment& segment);
  // Errors: kDataLoss (bad magic, checksum mismatch, truncation, inconsistent columns);
  // kUnimplemented for a newer format version.
  [[nodiscard]] static absl::StatusOr<SegmentPtr> Decode(std::string_view bytes);
};

}  // namespace cohort::analytics::store
