// The embedded store's query engine: answers a typed Query (model/query.h) from the snapshot of
// the query's project. The actor view of a (project, identity mode) is built from a snapshot and
// shared by the queries that follow until the data changes.
//
// Catching up. When only appends changed the events since a view (Snapshot::appends), the next
// view is the old one extended by the appended segments (ActorView::Extend: a copy plus the
// touched actors, instead of a whole build that merges every actor's runs again). An extended
// view holds the appended segments beside the segments they were merged into, and each extension
// adds segments that queries iterate: once the extensions hold `compact_after_fraction` of the
// view's events or `compact_after_segments` segments — or when merges reorganised the segments
// of an unchanged view — the view is compacted, built whole from the
// store's current segments on a second background thread while extensions go on, then caught up
// by the appends since its snapshot. A deletion or an expiry makes the next view a whole build.
//
// Freshness. With the default options every query sees the latest published data: the first
// query after a change makes the new view itself (a "cold" query). With `max_staleness` > 0, a
// query may instead be answered from the previous view for at most that long after the events
// changed, while a background thread makes the new one; views queried within `keep_warm` are
// remade as soon as the events change, so queries under live ingest stay warm. A query that needs
// newer events than its view holds waits for the background build when that one holds them,
// rather than building the same view again. An answer's data_version is the version of the events
// it was computed from, so result caches stay exact.
//
// Memory: a view is replaced by a new one, so two views of a (project, identity) coexist while
// one is made — the background builder starts the next only once queries have let go of the
// view before the current one (waiting up to a second) — and three while a compaction runs.
//
// Thread-safe: queries may run concurrently with each other and with appends.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "analytics/engine/event_store.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/segment_store.h"
#include "common/clock.h"

namespace cohort::analytics::store {

struct EmbeddedEngineOptions {
  // How long after the events of a project change a query may still be answered from the view
  // of the previous events. Zero: never (no background thread is started).
  absl::Duration max_staleness = absl::ZeroDuration();
  // With max_staleness > 0: views used within this long are rebuilt in the background whenever
  // the events change; others are rebuilt by the next query that needs them.
  absl::Duration keep_warm = absl::Minutes(5);
  // The builder thread's nice value (Linux: per thread), so rebuilding views leaves ingest its
  // CPU share.
  int builder_nice = 0;
  // Must outlive the engine.
  Clock* clock = &RealClock::Get();
  // How much a view may gain by extension before it is compacted (with max_staleness > 0, in
  // the background; a query that makes its own view builds it whole past twice as many
  // segments): a share of its events, or a number of segments (the store sink appends up to
  // five a second).
  double compact_after_fraction = 0.125;
  size_t compact_after_segments = 1024;
  // Tests: called on the builder thread once it has taken the snapshot it is about to build.
  std::function<void()> on_background_build;
  // Tests: called on the compaction thread once it has taken its snapshot.
  std::function<void()> on_compaction;
};

class EmbeddedEngine {
 public:
  // `store` must outlive the engine. With max_staleness > 0 the engine installs itself as the
  // store's publish listener (SegmentStore::SetPublishListener) and starts its builder thread.
  explicit EmbeddedEngine(SegmentStore& store, EmbeddedEngineOptions options = {});
  ~EmbeddedEngine();

  EmbeddedEngine(const EmbeddedEngine&) = delete;
  EmbeddedEngine& operator=(const EmbeddedEngine&) = delete;

  // Errors: kInvalidArgument (a time zone not in the tz database, a funnel of more than 16
  // steps).
  [[nodiscard]] absl::StatusOr<EngineAnswer> Run(const Query& query);

  // Drill-down: the actors behind one number of Run(query)'s result (query.h, CellRef), sorted
  // by id bytes, at most `limit` after `after` — exactly the actors the number counted (the
  // same executor computes both). Errors: as Run's; kInvalidArgument naming "cell" when the
  // result has no such cell, "limit" when limit < 1.
  [[nodiscard]] absl::StatusOr<ActorsPage> Actors(const Query& query, CellRef cell,
                                                  const std::string& after, int limit);

  // Views made so far by the background thread (extended, built, or compacted and caught up),
  // and by queries themselves; queries that waited for the background build (counted when they
  // start waiting); views made by extension (by either); compactions installed (caught up and
  // put in place of the extended view). For tests and metrics.
  int64_t background_builds() const;
  int64_t query_builds() const;
  int64_t query_waits() const;
  int64_t extensions() const;
  int64_t compactions() const;

 private:
  using Key = std::pair<std::string, IdentityMerge>;
  struct Cached {
    uint64_t version = 0;     // Snapshot::version of the events the view holds
    uint64_t generation = 0;  // Snapshot::generation the view was made from
    std::shared_ptr<const ActorView> view;
    // The view `view` replaced: queries that began before may still hold it.
    std::weak_ptr<const ActorView> replaced;
    // What the view gained by extension since it was built whole.
    size_t extension_segments = 0;
    uint64_t extension_events = 0;
    absl::Time last_used = absl::InfinitePast();
    bool queued = false;  // in build_queue_
    // The version the builder thread is making a view of (0: none).
    uint64_t building_version = 0;
    // Compaction: queued or running, and its whole-built view waiting for the builder to catch
    // it up.
    bool compacting = false;
    std::shared_ptr<const ActorView> compacted;
    uint64_t compacted_version = 0;
  };
  struct Change {
    uint64_t version;
    absl::Time at;
  };
  // A view made by MakeView.
  struct Made {
    std::shared_ptr<const ActorView> view;
    size_t extension_segments = 0;
    uint64_t extension_events = 0;
    bool extended = false;
  };

  // A view of `snapshot`: `base` (of events `base_version`, with what it gained by extension)
  // itself when it holds them, extended by the appends after it when the snapshot lists them all
  // and the extension stays within `limit` segments, else built whole.
  static Made MakeView(Made base, uint64_t base_version, const Snapshot& snapshot,
                       IdentityMerge identity, size_t limit);
  // The view to answer `project` from; `*version` gets its data version.
  std::shared_ptr<const ActorView> ViewFor(const std::string& project, IdentityMerge identity,
                                           uint64_t* version);
  // Installs `made` (of `snapshot`) if it is better than the view there (newer events; or the
  // same with fewer extension segments, or as many and newer segments). Returns whether it did.
  bool Install(const Key& key, const Snapshot& snapshot, Made made)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the events of `project` first changed after `version` (InfinitePast if that is older
  // than the history kept).
  absl::Time ChangedAfter(const std::string& project, uint64_t version) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(const Key& key, Cached& cached) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RequestCompaction(const Key& key, Cached& cached) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnPublish(const std::string& project, uint64_t version, bool events_changed);
  // The next key of `queue` (build_queue_ or compact_queue_), waiting for one; nullopt once the
  // engine stops.
  std::optional<Key> Next(std::deque<Key>& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BuildLoop();
  void CompactLoop();

  SegmentStore& store_;
  const EmbeddedEngineOptions options_;
  mutable absl::Mutex mu_;
  // Node-based: a query waiting for the builder holds a reference across Await.
  absl::node_hash_map<Key, Cached> views_ ABSL_GUARDED_BY(mu_);
  // Per project, the recent changes of its events (bounded), oldest first.
  absl::flat_hash_map<std::string, std::deque<Change>> changes_ ABSL_GUARDED_BY(mu_);
  std::deque<Key> build_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<Key> compact_queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t background_builds_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t query_builds_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t query_waits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t extensions_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread builder_;
  std::thread compactor_;
};

}  // namespace cohort::analytics::store
