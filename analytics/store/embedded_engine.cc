#include "analytics/store/embedded_engine.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

}  // namespace

EmbeddedEngine::EmbeddedEngine(SegmentStore& store, EmbeddedEngineOptions options)
    : store_(store), options_(std::move(options)) {
  if (options_.max_staleness <= absl::ZeroDuration()) return;
  store_.SetPublishListener(
      [this](const std::string& project, uint64_t version, bool events_changed) {
        OnPublish(project, version, events_changed);
      });
  builder_ = std::thread([this] { BuildLoop(); });
}

EmbeddedEngine::~EmbeddedEngine() {
  if (!builder_.joinable()) return;
  store_.SetPublishListener(nullptr);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  builder_.join();
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

void EmbeddedEngine::Install(const Key& key, const Snapshot& snapshot,
                             std::shared_ptr<const ActorView> view) {
  Cached& cached = views_[key];
  if (cached.view != nullptr && cached.generation >= snapshot.generation) return;
  cached.version = snapshot.version;
  cached.generation = snapshot.generation;
  cached.view = std::move(view);
}

std::shared_ptr<const ActorView> EmbeddedEngine::ViewFor(const std::string& project,
                                                         IdentityMerge identity,
                                                         uint64_t* version) {
  Snapshot snapshot = store_.GetSnapshot(project);
  const Key key(project, identity);
  {
    const absl::Time now = options_.clock->Now();
    absl::MutexLock lock(&mu_);
    Cached& cached = views_[key];
    cached.last_used = now;
    if (cached.view != nullptr) {
      const bool same_events = cached.version == snapshot.version;
      if (same_events && cached.generation != snapshot.generation && builder_.joinable()) {
        Enqueue(key, cached);  // merged segments: the view is exact, rebuild it at leisure
      }
      if (same_events || (builder_.joinable() &&
                          now - ChangedAfter(project, cached.version) <= options_.max_staleness)) {
        if (!same_events) Enqueue(key, cached);
        *version = cached.version;
        return cached.view;
      }
    }
    // Too stale. The builder's view will do if it holds every change older than the bound:
    // wait for it instead of building the same view again beside it.
    if (cached.building_generation != 0 &&
        now - ChangedAfter(project, cached.building_version) <= options_.max_staleness) {
      const uint64_t awaited = cached.building_generation;
      auto built = [this, &cached, awaited]() {
        mu_.AssertReaderHeld();
        return cached.generation >= awaited || cached.building_generation != awaited;
      };
      ++query_waits_;
      mu_.Await(absl::Condition(&built));
      if (cached.generation >= awaited) {
        *version = cached.version;
        return cached.view;
      }
    }
  }
  // Built outside the lock: two queries racing on a new version may both build; the newer wins.
  auto view = std::make_shared<const ActorView>(ActorView::Build(snapshot.segments, identity));
  *version = snapshot.version;
  absl::MutexLock lock(&mu_);
  Install(key, snapshot, view);
  ++query_builds_;
  return view;
}

void EmbeddedEngine::BuildLoop() {
  if (options_.builder_nice != 0) {
    // On Linux a thread's nice value is its own (setpriority on its tid); failing to lower it
    // only costs ingest some CPU share.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.builder_nice);
  }
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(
        +[](EmbeddedEngine* e)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return e->stopping_ || !e->build_queue_.empty(); },
        this));
    if (stopping_) return;
    const Key key = build_queue_.front();
    build_queue_.pop_front();
    views_[key].queued = false;
    mu_.Unlock();
    Snapshot snapshot = store_.GetSnapshot(key.first);
    bool needed;
    {
      absl::MutexLock check(&mu_);
      Cached& cached = views_[key];
      needed = cached.view == nullptr || cached.generation < snapshot.generation;
      if (needed) {
        cached.building_version = snapshot.version;
        cached.building_generation = snapshot.generation;
      }
    }
    std::shared_ptr<const ActorView> view;
    if (needed) {
      if (options_.on_background_build) options_.on_background_build();
      view = std::make_shared<const ActorView>(ActorView::Build(snapshot.segments, key.second));
    }
    mu_.Lock();
    if (view != nullptr) {
      Install(key, snapshot, std::move(view));
      Cached& cached = views_[key];
      cached.building_version = 0;
      cached.building_generation = 0;
      ++background_builds_;
    }
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
