#include "analytics/store/embedded_engine.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <optional>
#include <utility>
#include <variant>

#include "analytics/store/query_executor.h"

namespace cohort::analytics::store {
namespace {

const QueryScope& ScopeOf(const Query& query) {
  return std::visit([](const auto& q) -> const QueryScope& { return q.scope; }, query);
}

// Changes remembered per project: enough to answer ChangedAfter for any view still within its
// staleness bound under a high append rate; an older view is simply treated as too stale.
constexpr size_t kChangesKept = 4096;

// How long the builder waits for queries to let go of the view before the current one.
constexpr absl::Duration kReplacedWait = absl::Seconds(1);

// Lowers the calling thread's priority (Linux: a thread's nice value is its own, set on its
// tid); failing only costs ingest some CPU share.
void Nice(int nice) {
  if (nice != 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
}

}  // namespace

EmbeddedEngine::EmbeddedEngine(SegmentStore& store, EmbeddedEngineOptions options)
    : store_(store), options_(std::move(options)) {
  if (options_.max_staleness <= absl::ZeroDuration()) return;
  store_.SetPublishListener(
      [this](const std::string& project, uint64_t version, bool events_changed) {
        OnPublish(project, version, events_changed);
      });
  builder_ = std::thread([this] { BuildLoop(); });
  compactor_ = std::thread([this] { CompactLoop(); });
}

EmbeddedEngine::~EmbeddedEngine() {
  if (!builder_.joinable()) return;
  store_.SetPublishListener(nullptr);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  builder_.join();
  compactor_.join();
}

int64_t EmbeddedEngine::background_builds() const {
  absl::MutexLock lock(&mu_);
  return background_builds_;
}

int64_t EmbeddedEngine::query_builds() const {
  absl::MutexLock lock(&mu_);
  return query_builds_;
}

int64_t EmbeddedEngine::query_waits() const {
  absl::MutexLock lock(&mu_);
  return query_waits_;
}

int64_t EmbeddedEngine::extensions() const {
  absl::MutexLock lock(&mu_);
  return extensions_;
}

int64_t EmbeddedEngine::compactions() const {
  absl::MutexLock lock(&mu_);
  return compactions_;
}

void EmbeddedEngine::OnPublish(const std::string& project, uint64_t version, bool events_changed) {
  const absl::Time now = options_.clock->Now();
  absl::MutexLock lock(&mu_);
  if (events_changed) {
    std::deque<Change>& changes = changes_[project];
    changes.push_back(Change{version, now});
    if (changes.size() > kChangesKept) changes.pop_front();
  }
  for (auto& [key, cached] : views_) {
    if (key.first == project && now - cached.last_used <= options_.keep_warm) {
      Enqueue(key, cached);
    }
  }
}

absl::Time EmbeddedEngine::ChangedAfter(const std::string& project, uint64_t version) const {
  auto it = changes_.find(project);
  if (it == changes_.end() || it->second.empty()) return absl::InfinitePast();
  const std::deque<Change>& changes = it->second;
  // Versions only grow: the first change after `version` is the oldest kept one above it,
  // unless every kept change is above it and older ones were dropped.
  if (changes.front().version > version && changes.size() == kChangesKept) {
    return absl::InfinitePast();
  }
  for (const Change& c : changes) {
    if (c.version > version) return c.at;
  }
  return absl::InfiniteFuture();  // no change after it
}

void EmbeddedEngine::Enqueue(const Key& key, Cached& cached) {
  if (cached.queued) return;
  cached.queued = true;
  build_queue_.push_back(key);
}

void EmbeddedEngine::RequestCompaction(const Key& key, Cached& cached) {
  if (!compactor_.joinable() || cached.compacting || cached.compacted != nullptr) return;
  cached.compacting = true;
  compact_queue_.push_back(key);
}

EmbeddedEngine::Made EmbeddedEngine::MakeView(Made base, uint64_t base_version,
                                              const Snapshot& snapshot, IdentityMerge identity,
                                              size_t limit) {
  base.extended = false;
  if (base.view != nullptr && base_version == snapshot.version) return base;
  if (base.view != nullptr && base_version < snapshot.version &&
      snapshot.appends_since <= base_version) {
    std::vector<SegmentPtr> added;
    uint64_t added_events = 0;
    for (const AppendedSegment& a : snapshot.appends) {
      if (a.version <= base_version) continue;
      added_events += a.segment->event_count();
      added.push_back(a.segment);
    }
    if (base.extension_segments + added.size() <= limit) {
      return Made{
          std::make_shared<const ActorView>(ActorView::Extend(*base.view, std::move(added))),
          base.extension_segments + added.size(), base.extension_events + added_events, true};
    }
  }
  return Made{std::make_shared<const ActorView>(ActorView::Build(snapshot.segments, identity))};
}

bool EmbeddedEngine::Install(const Key& key, const Snapshot& snapshot, Made made) {
  Cached& cached = views_[key];
  if (made.extended) ++extensions_;
  // Better: newer events; or the same events with fewer extension segments, or as many from
  // newer segments (a compaction after merges).
  const bool better = cached.view == nullptr || snapshot.version > cached.version ||
                      (snapshot.version == cached.version &&
                       (made.extension_segments < cached.extension_segments ||
                        (made.extension_segments == cached.extension_segments &&
                         snapshot.generation > cached.generation)));
  if (!better) return false;
  cached.version = snapshot.version;
  cached.generation = snapshot.generation;
  cached.replaced = cached.view;
  cached.view = std::move(made.view);
  cached.extension_segments = made.extension_segments;
  cached.extension_events = made.extension_events;
  if (cached.extension_segments > options_.compact_after_segments ||
      static_cast<double>(cached.extension_events) >
          options_.compact_after_fraction * static_cast<double>(cached.view->event_count())) {
    RequestCompaction(key, cached);
  }
  return true;
}

std::shared_ptr<const ActorView> EmbeddedEngine::ViewFor(const std::string& project,
                                                         IdentityMerge identity,
                                                         uint64_t* version) {
  Snapshot snapshot = store_.GetSnapshot(project);
  const Key key(project, identity);
  Made base;
  uint64_t base_version = 0;
  {
    const absl::Time now = options_.clock->Now();
    absl::MutexLock lock(&mu_);
    Cached& cached = views_[key];
    cached.last_used = now;
    if (cached.view != nullptr) {
      const bool same_events = cached.version >= snapshot.version;
      if (same_events && cached.generation < snapshot.generation) {
        // Merged segments: the view is exact; compact it at leisure.
        RequestCompaction(key, cached);
      }
      if (same_events || (builder_.joinable() &&
                          now - ChangedAfter(project, cached.version) <= options_.max_staleness)) {
        if (!same_events) Enqueue(key, cached);
        *version = cached.version;
        return cached.view;
      }
    }
    // Too stale. The builder's view will do if it holds every change older than the bound:
    // wait for it instead of making the same view again beside it.
    if (cached.building_version != 0 &&
        now - ChangedAfter(project, cached.building_version) <= options_.max_staleness) {
      const uint64_t awaited = cached.building_version;
      auto built = [this, &cached, awaited]() {
        mu_.AssertReaderHeld();
        return cached.version >= awaited || cached.building_version != awaited;
      };
      ++query_waits_;
      mu_.Await(absl::Condition(&built));
      if (cached.version >= awaited) {
        *version = cached.version;
        return cached.view;
      }
    }
    base = Made{cached.view, cached.extension_segments, cached.extension_events};
    base_version = cached.version;
  }
  // Made outside the lock: two queries racing on a new version may both make one; the newer
  // wins.
  Made made = MakeView(std::move(base), base_version, snapshot, identity,
                       2 * options_.compact_after_segments);
  std::shared_ptr<const ActorView> view = made.view;
  *version = snapshot.version;
  absl::MutexLock lock(&mu_);
  Install(key, snapshot, std::move(made));
  ++query_builds_;
  return view;
}

std::optional<EmbeddedEngine::Key> EmbeddedEngine::Next(std::deque<Key>& queue) {
  auto ready = [this, &queue]() {
    mu_.AssertReaderHeld();
    return stopping_ || !queue.empty();
  };
  mu_.Await(absl::Condition(&ready));
  if (stopping_) return std::nullopt;
  Key key = queue.front();
  queue.pop_front();
  return key;
}

void EmbeddedEngine::BuildLoop() {
  Nice(options_.builder_nice);
  absl::MutexLock lock(&mu_);
  while (true) {
    std::optional<Key> next = Next(build_queue_);
    if (!next) return;
    const Key key = *std::move(next);
    Made base;
    uint64_t base_version;
    bool compacted;  // base is a compaction to catch up
    std::weak_ptr<const ActorView> replaced;
    {
      Cached& cached = views_[key];
      cached.queued = false;
      replaced = cached.replaced;
      compacted = cached.compacted != nullptr;
      if (compacted) {
        base = Made{std::move(cached.compacted)};
        cached.compacted = nullptr;
        base_version = cached.compacted_version;
      } else {
        base = Made{cached.view, cached.extension_segments, cached.extension_events};
        base_version = cached.version;
      }
    }
    mu_.Unlock();
    Snapshot snapshot = store_.GetSnapshot(key.first);
    bool needed;
    {
      absl::MutexLock check(&mu_);
      Cached& cached = views_[key];
      needed = compacted || cached.view == nullptr || cached.version < snapshot.version;
      if (needed) cached.building_version = snapshot.version;
    }
    std::optional<Made> made;
    if (needed) {
      // A third view beside the current one and the one about to be made would raise the peak
      // by a view: queries hold the one before only as long as they run.
      const absl::Time until = absl::Now() + kReplacedWait;
      while (!replaced.expired() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(2));
      if (options_.on_background_build) options_.on_background_build();
      // Past the bound a whole build: compaction is not keeping up.
      made = MakeView(std::move(base), base_version, snapshot, key.second,
                      4 * options_.compact_after_segments);
    }
    mu_.Lock();
    if (made.has_value()) {
      if (Install(key, snapshot, *std::move(made)) && compacted) ++compactions_;
      Cached& cached = views_[key];
      cached.building_version = 0;
      ++background_builds_;
    }
  }
}

void EmbeddedEngine::CompactLoop() {
  Nice(options_.builder_nice);
  absl::MutexLock lock(&mu_);
  while (true) {
    std::optional<Key> next = Next(compact_queue_);
    if (!next) return;
    const Key key = *std::move(next);
    mu_.Unlock();
    Snapshot snapshot = store_.GetSnapshot(key.first);
    if (options_.on_compaction) options_.on_compaction();
    auto view = std::make_shared<const ActorView>(ActorView::Build(snapshot.segments, key.second));
    mu_.Lock();
    Cached& cached = views_[key];
    cached.compacting = false;
    cached.compacted = std::move(view);
    cached.compacted_version = snapshot.version;
    Enqueue(key, cached);
  }
}

absl::StatusOr<EngineAnswer> EmbeddedEngine::Run(const Query& query) {
  const QueryScope& scope = ScopeOf(query);
  EngineAnswer answer;
  std::shared_ptr<const ActorView> view =
      ViewFor(scope.project, scope.identity, &answer.data_version);
  absl::StatusOr<Result> result = Execute(query, *view, nullptr);
  if (!result.ok()) return result.status();
  answer.result = *std::move(result);
  return answer;
}

absl::StatusOr<ActorsPage> EmbeddedEngine::Actors(const Query& query, CellRef cell,
                                                  const std::string& after, int limit) {
  const QueryScope& scope = ScopeOf(query);
  uint64_t version = 0;
  std::shared_ptr<const ActorView> view = ViewFor(scope.project, scope.identity, &version);
  return DrillDown(query, *view, cell, after, limit);
}

}  // namespace cohort::analytics::store
