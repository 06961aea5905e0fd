// Sharded token buckets in a slab per shard, with an intrusive LRU list for the memory bound
// (actor_rate_limiter.h).
#include "ingest/admission/actor_rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cohort::ingest {
namespace {

// An actor is known by a 64-bit hash of (kind, project, id) (absl::Hash frames each field with
// its length, so field boundaries are unambiguous). Two actors share a bucket only if their hashes
// collide: with the default 131,072 tracked actors that is about 1 in 2 billion per replica, and
// its cost is that two actors share one rate. Keeping hashes instead of the ids means a request
// allocates nothing per actor, and a bucket costs 48 bytes.
uint64_t ActorHash(const ActorDemand& d) {
  return static_cast<uint64_t>(absl::HashOf(static_cast<uint8_t>(d.kind),
                                            absl::string_view(d.project.data(), d.project.size()),
                                            absl::string_view(d.id.data(), d.id.size())));
}

constexpr uint32_t kNil = ~uint32_t{0};

}  // namespace

struct ActorRateLimiter::Shard {
  struct Bucket {
    uint64_t actor = 0;  // ActorHash
    double tokens = 0;
    absl::Time updated;
    ActorKind kind = ActorKind::kDevice;
    uint32_t newer = kNil;  // LRU neighbours (slot numbers)
    uint32_t older = kNil;
  };

  // Moves slot `i` (linked or not) to the front of the LRU list.
  void Touch(uint32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (newest == i) return;
    Unlink(i);
    Bucket& b = slots[i];
    b.newer = kNil;
    b.older = newest;
    if (newest != kNil) slots[newest].newer = i;
    newest = i;
    if (oldest == kNil) oldest = i;
  }

  void Unlink(uint32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Bucket& b = slots[i];
    if (b.newer != kNil) slots[b.newer].older = b.older;
    if (b.older != kNil) slots[b.older].newer = b.newer;
    if (newest == i) newest = b.older;
    if (oldest == i) oldest = b.newer;
    b.newer = b.older = kNil;
  }

  // Forgets the bucket in slot `i`.
  void Drop(uint32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Unlink(i);
    index.erase(slots[i].actor);
    free_slots.push_back(i);
  }

  absl::Mutex mu;
  absl::flat_hash_map<uint64_t, uint32_t> index ABSL_GUARDED_BY(mu);  // actor → slot
  std::vector<Bucket> slots ABSL_GUARDED_BY(mu);                      // grows to the shard's cap
  std::vector<uint32_t> free_slots ABSL_GUARDED_BY(mu);
  uint32_t newest ABSL_GUARDED_BY(mu) = kNil;  // most recently used
  uint32_t oldest ABSL_GUARDED_BY(mu) = kNil;
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
    uint64_t actor;
    ActorKind kind;
    std::string_view id;
    int64_t events;
    size_t shard;
    uint32_t slot = kNil;  // the actor's bucket, once looked up
  };
  std::vector<Need> needs;
  needs.reserve(demands.size());
  absl::flat_hash_map<uint64_t, size_t> index;  // actor → position in needs
  index.reserve(demands.size());
  for (const ActorDemand& d : demands) {
    if (d.events <= 0) continue;
    const uint64_t actor = ActorHash(d);
    auto [it, inserted] = index.try_emplace(actor, needs.size());
    if (!inserted) {
      needs[it->second].events += d.events;
      continue;
    }
    // The high bits pick the shard; the shard's table hashes the whole value again.
    needs.push_back({actor, d.kind, d.id, d.events, (actor >> 32) % shards_.size()});
  }
  // The shards to lock, each once, in index order (a bit set: a request names most shards).
  std::vector<bool> named(shards_.size(), false);
  for (const Need& n : needs) named[n.shard] = true;
  std::vector<size_t> locked;
  for (size_t s = 0; s < named.size(); ++s) {
    if (named[s]) locked.push_back(s);
  }
  for (size_t s : locked) shards_[s]->mu.Lock();
  const absl::Time now = clock_.Now();
  auto refilled = [&](const Shard::Bucket& b) {
    return std::min(Capacity(b.kind),
                    b.tokens + Rate(b.kind) * absl::ToDoubleSeconds(now - b.updated));
  };

  std::vector<ThrottledActor> throttled;
  for (Need& n : needs) {
    Shard& shard = *shards_[n.shard];
    if (auto it = shard.index.find(n.actor); it != shard.index.end()) n.slot = it->second;
    const double capacity = Capacity(n.kind);
    const double tokens = n.slot == kNil ? capacity : refilled(shard.slots[n.slot]);
    if (tokens + 1e-9 < static_cast<double>(n.events)) {
      const double used = capacity - tokens + static_cast<double>(n.events);
      throttled.push_back({n.kind, std::string(n.id),
                           static_cast<int64_t>(std::ceil(used / window_seconds_ - 1e-9))});
    }
  }
  if (throttled.empty()) {
    // Actors with a bucket first: they move to the front of their LRU list, so making room for
    // the new ones below never evicts a bucket this request has just charged.
    std::stable_partition(needs.begin(), needs.end(), [](const Need& n) { return n.slot != kNil; });
    const size_t per_shard = std::max<size_t>(1, options_.max_actors / shards_.size());
    for (Need& n : needs) {
      Shard& shard = *shards_[n.shard];
      if (n.slot != kNil) {
        Shard::Bucket& b = shard.slots[n.slot];
        b.tokens = refilled(b) - static_cast<double>(n.events);
        b.updated = now;
        shard.Touch(n.slot);
        continue;
      }
      // A new actor: drop up to two buckets that have refilled completely (they mean nothing),
      // then the least recently used one if the shard is still full.
      for (int i = 0; i < 2 && shard.oldest != kNil; ++i) {
        const Shard::Bucket& tail = shard.slots[shard.oldest];
        if (refilled(tail) < Capacity(tail.kind)) break;
        shard.Drop(shard.oldest);
        evicted_idle_.fetch_add(1, std::memory_order_relaxed);
        actors_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (shard.index.size() >= per_shard) {
        shard.Drop(shard.oldest);
        evicted_active_.fetch_add(1, std::memory_order_relaxed);
        actors_.fetch_sub(1, std::memory_order_relaxed);
      }
      uint32_t slot;
      if (!shard.free_slots.empty()) {
        slot = shard.free_slots.back();
        shard.free_slots.pop_back();
      } else {
        slot = static_cast<uint32_t>(shard.slots.size());
        shard.slots.emplace_back();
      }
      shard.slots[slot] = {
          n.actor, Capacity(n.kind) - static_cast<double>(n.events), now, n.kind, kNil, kNil};
      shard.index.emplace(n.actor, slot);
      shard.Touch(slot);
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
