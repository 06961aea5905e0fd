// The on-disk form of a Segment (segment.h): a self-describing, checksummed file body.
//
// Version 2 (written; integers little-endian):
//   "COHSEG02"                                   magic and format version
//   section*                                     u32 tag, u32 zero, u64 payload length, payload,
//                                                zero padding to a multiple of 8 bytes
//   end section (tag 0xFF)                        payload: u32 masked CRC32C of every byte before
// Sections, in this order: project; groups (kind, id); group offsets; then one per fixed-width
// column, stored raw (time i64, event type u32, insert-id offsets u32 and bytes, session i64,
// device u32); the event type and device dictionaries; event property keys and columns (per key:
// u32 count, the event indexes, the value codes); user property keys and columns; values.
// Dictionaries are varint-coded (LEB128) as in version 1. Every section starts 8-aligned, so a
// mapped file's columns are read in place (Decode of a mapping).
//
// Version 1 ("COHSEG01", sessions 1-14; still read): u8 tag, varint length, payload, u32 masked
// CRC32C per section; columns varint-coded (times as zigzag deltas). Decoded into memory.
//
// Decode checks the checksum, every length and every code against its dictionary, so a damaged
// file is a kDataLoss error, never a crash or a wrong answer. Adding a column means a new
// version; Decode keeps reading every older version.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "analytics/store/segment.h"
#include "common/file_env.h"

namespace cohort::analytics::store {

class SegmentCodec {
 public:
  // The segment as a version-2 file.
  static std::string Encode(const Segment& segment);
  // Writes what Encode returns through `write`, in pieces, without holding the file in memory
  // (columns are passed through uncopied, small sections gathered into buffers of at most a
  // few hundred KB). Returns the first error of `write`, after which it writes nothing more.
  [[nodiscard]] static absl::Status EncodeTo(
      const Segment& segment, absl::FunctionRef<absl::Status(std::string_view)> write);
  // A segment owning a copy of everything in `bytes`.
  // Errors: kDataLoss (bad magic, checksum mismatch, truncation, inconsistent columns);
  // kUnimplemented for a newer format version.
  [[nodiscard]] static absl::StatusOr<SegmentPtr> Decode(std::string_view bytes);
  // As Decode(bytes) of the mapped file (non-null), but a version-2 file's fixed-width columns
  // are read in place: the segment keeps `file` alive and views it (only its dictionaries are on
  // the heap).
  // A version-1 file is decoded into memory.
  [[nodiscard]] static absl::StatusOr<SegmentPtr> Decode(
      std::shared_ptr<const ReadOnlyMapping> file);

 private:
  static absl::StatusOr<SegmentPtr> DecodeAny(std::string_view bytes,
                                              std::shared_ptr<const ReadOnlyMapping> file);
  static absl::StatusOr<SegmentPtr> DecodeV1(std::string_view bytes);
};

}  // namespace cohort::analytics::store
