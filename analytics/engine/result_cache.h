// Query results keyed by the data they were computed from (issue 6, "A result cache keyed by the
// data version"): an entry answers a query only while the store's DataVersion for its project is
// the one it was computed at, so a cached answer is never staler than a fresh one would be —
// freshness is unchanged. Values are the rendered result documents (what the query API sends),
// bounded by total bytes and evicted least recently used first.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace cohort::analytics {

struct ResultCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;  // absent, or present for another data version
  int64_t entries = 0;
  int64_t bytes = 0;
};

class ResultCache {
 public:
  // `max_bytes` bounds the sum of keys and values held; 0 disables the cache.
  explicit ResultCache(int64_t max_bytes) : max_bytes_(max_bytes) {}

  ResultCache(const ResultCache&) = delete;
  ResultCache& operator=(const ResultCache&) = delete;

  // The value stored for `key` at `data_version`, if any. An entry of another version is dropped.
  std::optional<std::string> Lookup(const std::string& key, uint64_t data_version);

  // Stores `value` for `key` at `data_version`, replacing what was there. A value larger than the
  // whole cache is not stored.
  void Insert(const std::string& key, uint64_t data_version, std::string value);

  ResultCacheStats stats() const;

 private:
  struct Entry {
    std::string key;
    uint64_t data_version = 0;
    std::string value;
    int64_t bytes() const { return static_cast<int64_t>(key.size() + value.size()); }
  };
  void Erase(std::list<Entry>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_bytes_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::analytics
