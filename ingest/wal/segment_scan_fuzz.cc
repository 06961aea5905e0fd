// libFuzzer target for the segment scanner that recovery, readers' checks, verify and dump run
// over bytes read from disk (segment_format.h): any input must scan without crashing, and the
// scan's figures must be consistent with the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/wal/segment_format.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::ingest::wal;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The sequence the header must carry: taken from the input when there is one, so the fuzzer
  // gets past the header check.
  uint64_t seq = 0;
  for (size_t i = 0; i < 8 && 12 + i < size; ++i) seq |= uint64_t{data[12 + i]} << (8 * i);
  uint64_t next = kSegmentHeaderSize;
  int64_t seen = 0;
  const SegmentScan scan = ScanSegment(bytes, seq, [&](uint64_t offset, std::string_view payload) {
    Check(offset == next);
    Check(payload.data() >= bytes.data() && payload.data() + payload.size() <= bytes.data() + size);
    next = offset + kRecordHeaderSize + payload.size();
    ++seen;
  });
  Check(scan.file_size == size);
  Check(scan.records == seen);
  Check(scan.data_end <= scan.valid_end && scan.valid_end <= size);
  if (!scan.damage) Check(scan.valid_end == size);
  if (scan.sealed) Check(scan.valid_end == scan.data_end + kSealRecordSize);
  if (scan.header_ok) Check(scan.data_end == next);
  return 0;
}
