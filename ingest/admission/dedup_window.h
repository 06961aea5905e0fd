// The ingest's best-effort dedup: a window (config limits.dedupWindow, 10 minutes by default) of
// the insert ids seen per (project, actor), and of Langfuse envelope ids, so an SDK's retry of a
// request we already stored is answered 2xx without storing it twice. Per replica and best effort
// by design: the event store's dedup is the authoritative one (docs/architecture.md).
//
// Two steps, because only a durable write may be remembered: FilterNew() says which of a
// request's ids are not in the window (and drops repeats within the request), the caller writes
// those events to the WAL, and only after that succeeded calls Remember(). A failed write (503)
// remembers nothing, so the client's retry is stored. Two concurrent requests carrying the same id
// may both pass FilterNew(); the store dedups them.
//
// Memory: ids are kept as 128-bit fingerprints (a false "duplicate" needs a 128-bit collision) in
// arrival order, at most `max_entries`; past that the oldest are forgotten early, counted in
// stats().evicted_early, so memory stays bounded under any load.
//
// Thread-safe. The clock is borrowed and must outlive the window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace cohort::ingest {

// What identifies one event for dedup. An empty `id` is never a duplicate of anything.
struct DedupKey {
  std::string_view project;
  std::string_view actor;  // device id, or user id when there is no device id; "" for envelopes
  std::string_view id;     // insert_id, or the Langfuse envelope id
};

struct DedupWindowOptions {
  absl::Duration window = absl::Minutes(10);  // zero: the window is off, nothing is a duplicate
  size_t max_entries = size_t{1} << 20;       // ~60 bytes each: 64 MB at most
};

struct DedupWindowStats {
  uint64_t entries = 0;
  uint64_t duplicates = 0;     // ids FilterNew() found in the window or earlier in the request
  uint64_t evicted_early = 0;  // forgotten before the window ended, for max_entries
};

class DedupWindow {
 public:
  DedupWindow(DedupWindowOptions options, Clock& clock);
  DedupWindow(const DedupWindow&) = delete;
  DedupWindow& operator=(const DedupWindow&) = delete;

  // What the window keeps of a key: two independently salted 64-bit hashes of its fields.
  using Fingerprint = std::pair<uint64_t, uint64_t>;
  static Fingerprint FingerprintOf(const DedupKey& key);

  // For each key, whether it is new: not remembered within the window and not an earlier key of
  // the same call. Remembers nothing. When `fingerprints` is given it receives each key's
  // fingerprint (a key with an empty id gets {0, 0} and is always new), so that the caller can
  // remember the ones it stores without hashing them again.
  std::vector<bool> FilterNew(const std::vector<DedupKey>& keys,
                              std::vector<Fingerprint>* fingerprints = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Remembers the keys (call after they were stored durably). Keys with an empty id are skipped.
  void Remember(const std::vector<DedupKey>& keys) ABSL_LOCKS_EXCLUDED(mu_);

  // The same for keys already fingerprinted by FilterNew (never those of empty ids).
  void RememberFingerprints(const std::vector<Fingerprint>& fingerprints) ABSL_LOCKS_EXCLUDED(mu_);

  DedupWindowStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const DedupWindowOptions options_;
  Clock& clock_;
  mutable absl::Mutex mu_;
  // fingerprint → when it was last remembered; `order` holds (time, fingerprint) in arrival order
  // for expiry. A fingerprint remembered again moves forward in `seen` only; its older `order`
  // entry is skipped on expiry because the times differ.
  absl::flat_hash_map<Fingerprint, absl::Time> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Time, Fingerprint>> order_ ABSL_GUARDED_BY(mu_);
  uint64_t duplicates_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_early_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::ingest
