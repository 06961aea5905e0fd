#include "analytics/engine/result_cache.h"

#include <utility>

namespace cohort::analytics {

void ResultCache::Erase(std::list<Entry>::iterator it) {
  bytes_ -= it->bytes();
  index_.erase(it->key);
  lru_.erase(it);
}

std::optional<std::string> ResultCache::Lookup(const std::string& key, uint64_t data_version) {
  absl::MutexLock lock(&mu_);
  auto found = index_.find(key);
  if (found == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  auto it = found->second;
  if (it->data_version != data_version) {
    Erase(it);
    ++misses_;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it);
  ++hits_;
  return it->value;
}

void ResultCache::Insert(const std::string& key, uint64_t data_version, std::string value) {
  Entry entry{key, data_version, std::move(value)};
  if (entry.bytes() > max_bytes_) return;
  absl::MutexLock lock(&mu_);
  if (auto found = index_.find(key); found != index_.end()) Erase(found->second);
  while (!lru_.empty() && bytes_ + entry.bytes() > max_bytes_) Erase(std::prev(lru_.end()));
  bytes_ += entry.bytes();
  lru_.push_front(std::move(entry));
  index_[lru_.front().key] = lru_.begin();
}

ResultCacheStats ResultCache::stats() const {
  absl::MutexLock lock(&mu_);
  return ResultCacheStats{.hits = hits_,
                          .misses = misses_,
                          .entries = static_cast<int64_t>(lru_.size()),
                          .bytes = bytes_};
}

}  // namespace cohort::analytics
