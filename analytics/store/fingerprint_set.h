// A compact, approximate set of 64-bit hashes: the embedded store's dedup filter
// (segment_store.h). It keeps a 32-bit fingerprint of each hash in an open-addressing table
// (linear probing, at most 80 % full, doubled when it would be fuller), so it takes 5–10 bytes
// per entry where a hash set of the hashes takes 16–19. MayContain never misses an inserted
// hash; it answers true for one never inserted with probability about size() / 2^32 (0.2 % at
// ten million entries), which the store's exact search then settles.
//
// Not thread-safe; the store guards it with its write lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cohort::analytics::store {

class FingerprintSet {
 public:
  void Insert(uint64_t hash);
  bool MayContain(uint64_t hash) const;
  // Room for `n` entries without growing.
  void Reserve(size_t n);
  void Clear();
  // Distinct fingerprints held (a hash whose fingerprint is there already adds nothing).
  size_t size() const { return size_; }
  uint64_t memory_bytes() const { return slots_.capacity() * sizeof(uint32_t); }

 private:
  // 0 marks an empty slot: a fingerprint is never 0.
  static uint32_t Fingerprint(uint64_t hash) {
    const uint32_t fp = static_cast<uint32_t>(hash >> 32) ^ static_cast<uint32_t>(hash);
    return fp == 0 ? 1 : fp;
  }
  // The home slot of a fingerprint (the table is a power of two; fingerprints are uniform).
  size_t Home(uint32_t fp) const { return fp & (slots_.size() - 1); }
  void Grow(size_t slots);

  std::vector<uint32_t> slots_;
  size_t size_ = 0;
};

}  // namespace cohort::analytics::store
