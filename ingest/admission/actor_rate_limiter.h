// Per-actor event rate limits: a token bucket per (project, device id) and per (project, user id),
// as Amplitude throttles HTTP V2 traffic ("30 events per second per device or user, measured as an
// average over a recent time window"). Each bucket refills at `events_per_second` and holds
// `events_per_second * window` tokens, so an actor may send a window's worth at once (an SDK
// flushing its queue) but not more than the rate on average. The limits are per replica: N ingest
// replicas admit up to N times the rate for an actor whose requests are spread over them
// (docs/ingest-config.md says so to users).
//
// A request is admitted or refused whole: Admit() takes the tokens of every event only if every
// bucket it touches has enough, so a refused request (answered 429, storing nothing) costs its
// actors nothing and the client's retry is judged afresh.
//
// Actors are kept as 64-bit hashes of (kind, project, id), not their ids: two actors share a
// bucket only on a hash collision (about 1 in 2 billion per replica at the default bound).
//
// Memory is bounded by `max_actors` buckets. A bucket that has refilled completely is the same as
// no bucket and is dropped first; when every tracked actor is active, the least recently used
// bucket is dropped anyway (its actor may then burst once more), counted in stats().evicted_active.
//
// Thread-safe; Admit() locks only the shards of the actors it names, in a fixed order. The clock is
// borrowed and must outlive the limiter.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace cohort::ingest {

enum class ActorKind { kDevice, kUser };

struct ActorRateLimiterOptions {
  double events_per_second = 30;                 // > 0; per device, and per user unless set below
  std::optional<double> user_events_per_second;  // > 0 when set
  absl::Duration window = absl::Seconds(30);     // > 0; the bucket holds rate * window tokens
  size_t max_actors = size_t{1} << 17;           // >= shards; ~70 bytes each
  int shards = 64;                               // >= 1
};

// The events of one request for one actor.
struct ActorDemand {
  ActorKind kind = ActorKind::kDevice;
  std::string_view project;
  std::string_view id;
  int64_t events = 0;  // > 0
};

// An actor the request had to be refused for.
struct ThrottledActor {
  ActorKind kind = ActorKind::kDevice;
  std::string id;
  // The actor's recent rate including this request: (tokens used in the window + the request's
  // events) / window, rounded up — what Amplitude reports in throttled_devices / throttled_users.
  int64_t events_per_second = 0;
  friend bool operator==(const ThrottledActor&, const ThrottledActor&) = default;
};

struct ActorRateLimiterStats {
  uint64_t admitted_requests = 0;
  uint64_t throttled_requests = 0;
  uint64_t actors = 0;  // buckets held now
  uint64_t evicted_idle = 0;
  uint64_t evicted_active = 0;
};

class ActorRateLimiter {
 public:
  // InvalidArgument for options out of range.
  static absl::StatusOr<std::unique_ptr<ActorRateLimiter>> Create(ActorRateLimiterOptions options,
                                                                  Clock& clock);
  ~ActorRateLimiter();
  ActorRateLimiter(const ActorRateLimiter&) = delete;
  ActorRateLimiter& operator=(const ActorRateLimiter&) = delete;

  // Admits the request if every demand fits its actor's bucket, taking the tokens of all of them;
  // otherwise takes nothing and returns the actors short of tokens (each once, in demand order).
  // Demands naming the same actor twice are added together. A demand of more events than a full
  // bucket holds can never be admitted and is reported like any other shortfall.
  std::vector<ThrottledActor> Admit(const std::vector<ActorDemand>& demands);

  ActorRateLimiterStats stats() const;
  const ActorRateLimiterOptions& options() const { return options_; }

 private:
  struct Shard;
  ActorRateLimiter(ActorRateLimiterOptions options, Clock& clock);

  double Rate(ActorKind kind) const;
  double Capacity(ActorKind kind) const;

  const ActorRateLimiterOptions options_;
  Clock& clock_;
  const double window_seconds_;
  const double device_rate_;
  const double user_rate_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> throttled_{0};
  std::atomic<int64_t> actors_{0};
  std::atomic<uint64_t> evicted_idle_{0};
  std::atomic<uint64_t> evicted_active_{0};
};

}  // namespace cohort::ingest
