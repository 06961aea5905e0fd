#include "analytics/store/fingerprint_set.h"

#include <algorithm>
#include <bit>

namespace cohort::analytics::store {
namespace {
constexpr size_t kMinSlots = 1024;
}  // namespace

void FingerprintSet::Insert(uint64_t hash) {
  if ((size_ + 1) * 5 > slots_.size() * 4) Grow(std::max(kMinSlots, slots_.size() * 2));
  const uint32_t fp = Fingerprint(hash);
  for (size_t i = Home(fp);; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i] == fp) return;  // the same fingerprint: nothing to add
    if (slots_[i] == 0) {
      slots_[i] = fp;
      ++size_;
      return;
    }
  }
}

bool FingerprintSet::MayContain(uint64_t hash) const {
  if (size_ == 0) return false;
  const uint32_t fp = Fingerprint(hash);
  for (size_t i = Home(fp);; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i] == fp) return true;
    if (slots_[i] == 0) return false;
  }
}

void FingerprintSet::Reserve(size_t n) {
  const size_t slots = std::bit_ceil(std::max(kMinSlots, n + n / 4 + 1));
  if (slots > slots_.size()) Grow(slots);
}

void FingerprintSet::Clear() {
  std::vector<uint32_t>().swap(slots_);
  size_ = 0;
}

void FingerprintSet::Grow(size_t slots) {
  std::vector<uint32_t> old = std::move(slots_);
  slots_.assign(slots, 0);
  for (uint32_t fp : old) {
    if (fp == 0) continue;
    size_t i = Home(fp);
    while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = fp;
  }
}

}  // namespace cohort::analytics::store
