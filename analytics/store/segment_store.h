// The embedded store's storage layer: per-project segment files on disk, the authoritative dedup
// (one event per project, storage group and insert_id; the first stored copy wins), consistent
// snapshots for queries, merges of small segments, and deleting a user's events.
//
// Layout: <dir>/p-<hex of the project name>/<first>-<last>.seg, where [first, last] is the range
// of append sequence numbers the segment holds (an append writes one segment with first == last;
// a merge of consecutive segments covers their union). On open, a file whose range lies inside
// another file's range was merged already and is deleted; *.tmp files are leftovers of an
// interrupted write and are deleted; a file that fails its checksums is renamed to *.bad and
// reported (its events are lost to queries; the store keeps serving the rest).
//
// Durability: Append returns OK only after the new segment file and its directory entry are
// fsynced, so a caller may acknowledge the events' source (the WAL) then. Every write goes
// through `Env`, so tests inject disk faults.
//
// Thread safety: all methods are thread-safe. Appends, merges and deletions are serialized;
// snapshots are cheap and never block on them for long.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "analytics/model/event.h"
#include "analytics/store/fingerprint_set.h"
#include "analytics/store/segment.h"
#include "common/file_env.h"

namespace cohort::analytics::store {

struct SegmentStoreOptions {
  std::string dir;
  Env* env = &PosixEnv();
  // Merge() folds consecutive segments smaller than `merge_below_events` by size tier: a run of
  // at least `merge_fan_in` (>= 2) consecutive segments of the same tier (n events: tier
  // floor(log_F n), F = merge_fan_in) becomes one segment of a higher tier. So an event is
  // rewritten about once per tier it climbs (log_F of the segment sizes) rather than each time
  // a growing segment absorbs the newest batches, and few small segments wait at any time.
  uint64_t merge_below_events = 1'000'000;
  uint64_t merge_fan_in = 8;
  // Segments once written are read in place from their files, mapped read-only
  // (SegmentCodec::Decode of a mapping): their columns live in the page cache, which the kernel
  // reclaims under memory pressure, and only dictionaries and the dedup filter stay on the
  // heap. False: every segment is decoded onto the heap.
  bool map_files = true;
  // Appended segments listed in snapshots (Snapshot::appends). They stay referenced, so those a
  // merge has replaced keep their memory (and, mapped, their disk blocks) until they leave the
  // list.
  size_t appends_kept = 64;
};

// What a project's queries read: the segments at one moment. `version` changes whenever the
// events change (appends, deletions, expiry) and keys result caches; `generation` changes
// whenever the set of segments changes, also when a merge only reorganises the same events
// (it keys structures built from the segments themselves).
//
// `appends` lets a reader that holds structures built from an older version of the events catch
// up by the new events alone (ActorView::Extend): since version `appends_since` the events changed
// only by appends, and each of them is listed — the segment it wrote, as written (a merge may
// have folded it into another of `segments` since), with the version it published — oldest
// first. The store keeps the last SegmentStoreOptions::appends_kept; a deletion or an expiry
// empties the list (appends_since becomes its version).
struct AppendedSegment {
  uint64_t version = 0;
  SegmentPtr segment;
};
struct Snapshot {
  uint64_t version = 0;
  uint64_t generation = 0;
  std::vector<SegmentPtr> segments;  // in append order
  uint64_t appends_since = 0;
  std::vector<AppendedSegment> appends;
};

struct AppendResult {
  int64_t stored = 0;
  int64_t duplicates = 0;  // already stored, or repeated earlier in the same call
  int64_t expired = 0;     // older than the retention cutoff (ExpireBefore): not stored
};

struct OpenReport {
  int64_t segments = 0;
  int64_t events = 0;
  std::vector<std::string> quarantined;  // files that failed their checksums (renamed *.bad)
  int64_t superseded_removed = 0;
};

class SegmentStore {
 public:
  // Opens (creating `options.dir` if needed) and loads every project's segments. Holds an
  // exclusive lock on `LOCK` in the directory while open (Env::LockFile).
  // Errors: the Env's (kInternal, ...) when the directory cannot be read or created;
  // kFailedPrecondition when another SegmentStore (in any process) has it open.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SegmentStore>> Open(
      SegmentStoreOptions options, OpenReport* report = nullptr);

  SegmentStore(const SegmentStore&) = delete;
  SegmentStore& operator=(const SegmentStore&) = delete;

  // Stores `events` (any projects; every event needs an insert_id and a user_id or device_id,
  // else kInvalidArgument naming it and nothing is stored), dropping the duplicates. On an error
  // from the disk nothing of the call is visible and the call may be retried as a whole.
  [[nodiscard]] absl::StatusOr<AppendResult> Append(std::vector<Event> events);

  // The current segments of `project` (empty for an unknown project).
  Snapshot GetSnapshot(const std::string& project) const;
  std::vector<std::string> projects() const;

  // Merges runs of consecutive small segments of every project by the tier policy above, until
  // no run qualifies. Returns the number of merges done.
  [[nodiscard]] absl::StatusOr<int> Merge();

  // Deletes every event of `user_id` in `project` — its own events and the anonymous events of
  // devices first seen with it (docs/metrics.md, "Deletion") — rewriting the segments that hold
  // any. Returns the number of events deleted.
  [[nodiscard]] absl::StatusOr<int64_t> DeleteUser(const std::string& project,
                                                   const std::string& user_id);

  // Retention: deletes every event with time_ms < `cutoff_ms` in every project, rewriting (or
  // removing) the segments that hold any, and from then on Append drops such events (counted as
  // `expired`). A cutoff lower than an earlier one changes nothing. The cutoff lives in memory:
  // after a restart the owner calls this again before relying on it (the ingest server does on
  // start and then hourly). Returns the number of events deleted.
  [[nodiscard]] absl::StatusOr<int64_t> ExpireBefore(int64_t cutoff_ms);

  // Heap bytes: segments' dictionaries (and columns not mapped) and the dedup filters. As of
  // the last publication; never waits for a write in progress.
  uint64_t memory_bytes() const { return memory_bytes_.load(std::memory_order_relaxed); }
  // Bytes of segment files mapped (page cache, reclaimable: see map_files); as memory_bytes().
  uint64_t mapped_bytes() const { return mapped_bytes_.load(std::memory_order_relaxed); }

  // Called after every publication of a project's snapshot (append, merge, deletion, expiry),
  // with the new Snapshot::version and whether the events changed (false for a merge). It runs
  // on the writing thread with the store's write lock held: it must be quick and must not call
  // back into the store's writing methods. Set it before other threads use the store; one
  // listener per store (EmbeddedEngine's background refresh uses it).
  using PublishListener =
      std::function<void(const std::string& project, uint64_t version, bool events_changed)>;
  void SetPublishListener(PublishListener listener);

 private:
  struct StoredSegment {
    uint64_t first = 0, last = 0;
    SegmentPtr segment;
  };
  struct Project {
    std::string name;
    std::string dir;
    std::vector<StoredSegment> segments;  // by `first`
    // Per (segment, group) insert-id sets of large groups, for dedup lookups.
    absl::flat_hash_map<const Segment*, absl::flat_hash_map<uint32_t, std::vector<std::string>>>
        large_group_ids;
    // A filter in front of the dedup search: fingerprints of the hashes (DedupHash) of every
    // stored event, so that a new event, nearly every one, costs one lookup instead of a search
    // in each segment. A hit is confirmed by the search, so the answer stays exact. Built by the
    // first Append after Open and again after events were removed (`dedup_filter_built` false).
    FingerprintSet dedup_filter;
    bool dedup_filter_built = false;
    // Snapshot::appends_since and appends of the next publication.
    uint64_t appends_since = 0;
    std::deque<AppendedSegment> appends;
  };

  explicit SegmentStore(SegmentStoreOptions options) : options_(std::move(options)) {}

  absl::Status Load(OpenReport* report);
  Project& ProjectFor(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Whether an event of the group (is_user, id) with `insert_id` is stored (the dedup rule);
  // `hash` is their DedupHash.
  bool IsStored(Project& project, bool is_user, std::string_view id, std::string_view insert_id,
                uint64_t hash) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  static uint64_t DedupHash(bool is_user, std::string_view id, std::string_view insert_id);
  // Writes `segment` as the file for [first, last] (replacing any file of that name) and
  // returns the segment to keep: the written file mapped (map_files), else `segment`.
  absl::StatusOr<SegmentPtr> WriteSegment(const Project& project, uint64_t first, uint64_t last,
                                          SegmentPtr segment);
  // Reads the segment file at `path` (mapped when map_files).
  absl::StatusOr<SegmentPtr> ReadSegment(const std::string& path) const;
  // How a publication changed the project's events.
  enum class Change {
    kAppended,     // `appended` was added
    kReorganized,  // the same events in other segments (a merge): answers cached by version stay
    kRemoved,      // events removed (deletion, expiry) or loaded
  };
  // Makes the project's segments visible to queries.
  void Publish(Project& project, Change change, SegmentPtr appended = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Rewrites every segment of `project` holding an event for which `drop(segment, group, event)`
  // is true without those events (a segment left empty is removed), then publishes. Returns the
  // number of events dropped. A disk error leaves the segments rewritten so far rewritten.
  template <typename DropFn>
  absl::StatusOr<int64_t> RewriteWithout(Project& project, DropFn drop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const SegmentStoreOptions options_;
  FileLockPtr dir_lock_;          // `LOCK`, held while open
  mutable absl::Mutex write_mu_;  // appends, merges, deletions; guards projects_' contents
  absl::flat_hash_map<std::string, std::unique_ptr<Project>> projects_ ABSL_GUARDED_BY(write_mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(write_mu_) = 1;
  uint64_t next_version_ ABSL_GUARDED_BY(write_mu_) = 1;
  PublishListener listener_ ABSL_GUARDED_BY(write_mu_);
  int64_t expire_before_ms_ ABSL_GUARDED_BY(write_mu_) = INT64_MIN;
  // Totals over every project, recounted at each publication.
  std::atomic<uint64_t> memory_bytes_{0};
  std::atomic<uint64_t> mapped_bytes_{0};
  // Snapshots are read under their own lock so queries never wait for a segment write.
  mutable absl::Mutex snapshot_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Snapshot>> snapshots_
      ABSL_GUARDED_BY(snapshot_mu_);
};

}  // namespace cohort::analytics::store
