// Sharded token buckets with an LRU list per shard for the memory bound (actor_rate_limiter.h).
#include "ingest/admission/actor_rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <list>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cohort::ingest {
namespace {

// kind, project and id joined by a byte no project contains (projects are [a-z0-9_-]).
size_t BucketKeySize(const ActorDemand& d) { return 2 + d.project.size() + d.id.size(); }

// Appends the key of `d` to `arena` (which has room: no reallocation) and returns a view of it.
std::string_view AppendBucketKey(const ActorDemand& d, std::string& arena) {
  const size_t start = arena.size();
  arena.push_back(d.kind == ActorKind::kDevice ? 'd' : 'u');
  arena.append(d.project);
  arena.push_back('\0');
  arena.append(d.id);
  return std::string_view(arena).substr(start);
}

}  // namespace

struct ActorRateLimiter::Shard {
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
    ActorKind kind = ActorKind::kDevice;
    std::list<const std::string*>::iterator lru;  // this bucket's entry in `lru`
  };
  absl::Mutex mu;
  // Node-based, so `lru` can point at the keys.
  absl::node_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  std::list<const std::string*> lru ABSL_GUARDED_BY(mu);  // most recently used first
};

absl::StatusOr<std::unique_ptr<ActorRateLimiter>> ActorRateLimiter::Create(
    ActorRateLimiterOptions options, Clock& clock) {
  for (double rate : {options.events_per_second, options.user_events_per_second.value_or(1)}) {
    if (!(rate > 0) || !std::isfinite(rate)) {
      return absl::InvalidArgumentError("events per second must be positive numbers");
    }
  }
  if (options.window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("window must be positive");
  }
  if (options.shards < 1 || options.max_actors < static_cast<size_t>(options.shards)) {
    return absl::InvalidArgumentError("shards must be >= 1 and max_actors >= shards");
  }
  return std::unique_ptr<ActorRateLimiter>(new ActorRateLimiter(options, clock));
}

ActorRateLimiter::ActorRateLimiter(ActorRateLimiterOptions options, Clock& clock)
    : options_(options),
      clock_(clock),
      window_seconds_(absl::ToDoubleSeconds(options.window)),
      device_rate_(options.events_per_second),
      user_rate_(options.user_events_per_second.value_or(options.events_per_second)) {
  for (int i = 0; i < options_.shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

ActorRateLimiter::~ActorRateLimiter() = default;

double ActorRateLimiter::Rate(ActorKind kind) const {
  return kind == ActorKind::kUser ? user_rate_ : device_rate_;
}

double ActorRateLimiter::Capacity(ActorKind kind) const { return Rate(kind) * window_seconds_; }

std::vector<ThrottledActor> ActorRateLimiter::Admit(const std::vector<ActorDemand>& demands)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {  // locks a run-time set of shards, in index order
  struct Need {
    std::string_view key;  // in `arena`
    ActorKind kind;
    std::string_view id;
    int64_t events;
    size_t shard;
    Shard::Bucket* bucket = nullptr;  // the actor's bucket, once looked up (nodes are stable)
  };
  // Every key in one buffer sized up front, so the views into it stay valid and a request costs
  // one allocation for its keys rather than one per actor.
  size_t arena_size = 0;
  for (const ActorDemand& d : demands) arena_size += BucketKeySize(d);
  std::string arena;
  arena.reserve(arena_size);
  std::vector<Need> needs;
  needs.reserve(demands.size());
  absl::flat_hash_map<std::string_view, size_t> index;  // key → position in needs
  index.reserve(demands.size());
  for (const ActorDemand& d : demands) {
    if (d.events <= 0) continue;
    const std::string_view key = AppendBucketKey(d, arena);
    auto [it, inserted] = index.try_emplace(key, needs.size());
    if (!inserted) {
      needs[it->second].events += d.events;
      arena.resize(arena.size() - key.size());  // the repeat's key is not needed
      continue;
    }
    needs.push_back({key, d.kind, d.id, d.events, absl::HashOf(key) % shards_.size()});
  }
  std::vector<size_t> locked;
  for (const Need& n : needs) locked.push_back(n.shard);
  std::sort(locked.begin(), locked.end());
  locked.erase(std::unique(locked.begin(), locked.end()), locked.end());
  for (size_t s : locked) shards_[s]->mu.Lock();

  const absl::Time now = clock_.Now();
  auto refilled = [&](const Shard::Bucket& b) {
    return std::min(Capacity(b.kind),
                    b.tokens + Rate(b.kind) * absl::ToDoubleSeconds(now - b.updated));
  };
  std::vector<ThrottledActor> throttled;
  for (Need& n : needs) {
    Shard& shard = *shards_[n.shard];
    auto it = shard.buckets.find(absl::string_view(n.key.data(), n.key.size()));
    if (it != shard.buckets.end()) n.bucket = &it->second;
    const double capacity = Capacity(n.kind);
    const double tokens = n.bucket == nullptr ? capacity : refilled(*n.bucket);
    if (tokens + 1e-9 < static_cast<double>(n.events)) {
      const double used = capacity - tokens + static_cast<double>(n.events);
      throttled.push_back({n.kind, std::string(n.id),
                           static_cast<int64_t>(std::ceil(used / window_seconds_ - 1e-9))});
    }
  }
  if (throttled.empty()) {
    // Actors with a bucket first: they move to the front of their LRU list, so making room for
    // the new ones below never evicts a bucket this request has just charged.
    std::stable_partition(needs.begin(), needs.end(),
                          [](const Need& n) { return n.bucket != nullptr; });
    const size_t per_shard = std::max<size_t>(1, options_.max_actors / shards_.size());
    for (Need& n : needs) {
      Shard& shard = *shards_[n.shard];
      if (n.bucket != nullptr) {
        n.bucket->tokens = refilled(*n.bucket) - static_cast<double>(n.events);
        n.bucket->updated = now;
        shard.lru.splice(shard.lru.begin(), shard.lru, n.bucket->lru);
        continue;
      }
      // A new actor: drop up to two buckets that have refilled completely (they mean nothing),
      // then the least recently used one if the shard is still full.
      for (int i = 0; i < 2 && !shard.lru.empty(); ++i) {
        auto tail = shard.buckets.find(*shard.lru.back());
        if (refilled(tail->second) < Capacity(tail->second.kind)) break;
        shard.lru.pop_back();
        shard.buckets.erase(tail);
        evicted_idle_.fetch_add(1, std::memory_order_relaxed);
        actors_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (shard.buckets.size() >= per_shard) {
        const std::string* victim = shard.lru.back();
        shard.lru.pop_back();
        shard.buckets.erase(*victim);
        evicted_active_.fetch_add(1, std::memory_order_relaxed);
        actors_.fetch_sub(1, std::memory_order_relaxed);
      }
      auto bucket = shard.buckets.try_emplace(std::string(n.key)).first;
      shard.lru.push_front(&bucket->first);
      bucket->second = {Capacity(n.kind) - static_cast<double>(n.events), now, n.kind,
                        shard.lru.begin()};
      actors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  for (auto s = locked.rbegin(); s != locked.rend(); ++s) shards_[*s]->mu.Unlock();
  (throttled.empty() ? admitted_ : throttled_).fetch_add(1, std::memory_order_relaxed);
  return throttled;
}

ActorRateLimiterStats ActorRateLimiter::stats() const {
  ActorRateLimiterStats s;
  s.admitted_requests = admitted_.load(std::memory_order_relaxed);
  s.throttled_requests = throttled_.load(std::memory_order_relaxed);
  s.actors = static_cast<uint64_t>(std::max<int64_t>(0, actors_.load(std::memory_order_relaxed)));
  s.evicted_idle = evicted_idle_.load(std::memory_order_relaxed);
  s.evicted_active = evicted_active_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace cohort::ingest
