// CRC32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, RFC 3720 B.4): the per-record checksum of
// the write-ahead log. Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise;
// both give the same values.
//
// Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cohort {

// The CRC32C of `data` appended to a stream whose CRC32C so far is `crc` (0 for an empty stream):
// Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);

inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

// The two implementations, for tests and benchmarks. Crc32cHardware must only be called when
// Crc32cHardwareAvailable().
bool Crc32cHardwareAvailable();
uint32_t Crc32cExtendPortable(uint32_t crc, const char* data, size_t n);
uint32_t Crc32cExtendHardware(uint32_t crc, const char* data, size_t n);

// A CRC stored next to the data it covers is masked, so that the CRC of a string holding CRCs
// does not degenerate (as leveldb does).
inline uint32_t MaskCrc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t UnmaskCrc(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace cohort
