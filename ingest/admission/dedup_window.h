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
// a table of fixed size, allocated at construction: `max_entries` slots of 24 bytes (24 MB at the
// default), in buckets of four; a fingerprint lives in the bucket its hash picks. Remembering into
// a full bucket reuses a slot whose time has passed, else the oldest of the four, which is then
// forgotten early (counted in stats().evicted_early). So the oldest ids are forgotten first only
// approximately (the oldest of a bucket, not of the table), memory is bounded under any load, and
// each lookup or update touches one bucket (two cache lines) with no allocation.
//
// Thread-safe. The clock is borrowed and must outlive the window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
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
  size_t max_entries = size_t{1} << 20;       // >= 4; 24 bytes each, allocated up front
};

struct DedupWindowStats {
  uint64_t entries = 0;        // slots in use (an expired id counts until its slot is reused)
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
  static constexpr int kWays = 4;
  struct Slot {
    uint64_t a = 0;
    uint64_t b = 0;
    int64_t when = 0;  // nanoseconds since epoch_ + 1 when remembered; 0: empty
  };
  struct Bucket {
    Slot slots[kWays];
  };

  Bucket& BucketOf(const Fingerprint& f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t Stamp(absl::Time t) const;

  const DedupWindowOptions options_;
  Clock& clock_;
  const absl::Time epoch_;
  const int64_t window_ns_;
  mutable absl::Mutex mu_;
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  uint64_t entries_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t duplicates_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_early_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::ingest
