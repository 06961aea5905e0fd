// A deterministic synthetic product's event stream for the analytics benchmark (issue 6): N
// events of M actors over D days (default 10 M, 1 M, 30), in arrival order, as the store sink
// hands them to the store.
//
// The shape, all drawn from our own splitmix64 streams (never std::*_distribution, whose output
// is implementation-defined, nor libm), so one seed gives the same events on every machine:
// - 20 event types: a funnel app_open → search → view_item → add_to_cart → purchase with
//   decreasing conversion (about 30 % of sessions search, 70 % of those view an item, 35 % of
//   those add to the cart, 45 % of those buy) and growing time gaps between the steps; 13 other
//   types in between; "$identify" (not activity) when an actor logs in.
// - Retention decay: every actor's first active day (its cohort) is uniform over the D days; on
//   day N after it the actor is active with probability kRetentionPermille[N] (day 1 35 %, day 7
//   15 %, day 29 7.8 %), independently per day.
// - Sessions: 1 to 3 per active day, at least 31 minutes apart; ios/android actors (75 %) send
//   Amplitude's session_id (the session's start ms), web actors none (gap sessions at query time).
// - Identity: 55 % of actors are users from their first event, 30 % anonymous devices that log in
//   later (their events carry only device_id until a "login" + "$identify" with both ids), 15 %
//   devices that never log in.
// - About 1 % of events are resent (same insert_id) up to 4 minutes later; arrival lags the event
//   time by 0–2 s (90 %), up to 1 min (8 %) or up to 5 min (2 %), so the stream is out of order
//   within minutes.
// - Properties: event "platform", "country" (12 weighted), "price" (a number, on view_item,
//   add_to_cart, purchase); "plan" set by $identify ($set).
// The events of a day are generated, sorted by arrival and emitted; those arriving after midnight
// carry over to the next day, so memory is one day of compact drafts plus the actor table.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "analytics/model/event.h"

namespace cohort::bench {

// The committed seed of docs/benchmarks.md's numbers.
inline constexpr uint64_t kProductSeed = 0x636f686f72740006;
// 2026-10-01T00:00:00Z.
inline constexpr int64_t kProductStartMs = 1'790'812'800'000;

struct ProductGeneratorOptions {
  uint64_t seed = kProductSeed;
  int64_t events = 10'000'000;  // the target before resends; the result is within a few %
  int64_t actors = 1'000'000;
  int days = 30;  // 1..255
  int64_t start_ms = kProductStartMs;
  std::string project = "bench";
  // Prefixes every insert_id, user_id and device_id: a second stream with its own prefix shares
  // no identity with the first.
  std::string id_prefix;
};

struct ProductGeneratorStats {
  int64_t emitted = 0;  // events handed out, resends included
  int64_t resends = 0;
  int64_t anonymous = 0;   // events with only a device_id
  int64_t sessioned = 0;   // events with a session_id
  int64_t late = 0;        // events older than one emitted before them
  int64_t max_lag_ms = 0;  // the largest (latest time emitted so far) - (an event's time)
};

// The event types, the funnel's five first.
extern const std::vector<std::string>& ProductEventTypes();

class ProductGenerator {
 public:
  explicit ProductGenerator(ProductGeneratorOptions options);

  // Appends up to `max` next events in arrival order to `out`; returns how many (0 at the end).
  size_t Next(size_t max, std::vector<analytics::Event>* out);

  const ProductGeneratorStats& stats() const { return stats_; }
  const ProductGeneratorOptions& options() const { return options_; }
  int64_t end_ms() const;  // start + days: where the last day ends (sessions may run past it)

 private:
  // One event before it becomes an Event: 40 bytes.
  struct Draft {
    int64_t time_ms;
    int64_t arrival_ms;
    int64_t session_id;  // INT64_MIN: none
    uint32_t actor;
    uint32_t price_cents;
    uint16_t seq;  // within the actor's day: the insert_id
    uint8_t day;
    uint8_t type;
    uint8_t flags;  // kHasUser, kResend
  };
  static bool ArrivalOrder(const Draft& x, const Draft& y);

  void GenerateDay(int day);
  void GenerateActorDay(uint32_t actor, int day, std::vector<Draft>* out) const;
  analytics::Event ToEvent(const Draft& d) const;

  const ProductGeneratorOptions options_;
  std::vector<uint8_t> cohort_;       // per actor: its first active day
  std::vector<uint32_t> attributes_;  // per actor: packed kind, platform, country, plan, login
  int filler_permille_ = 0;           // mean filler events per session, permille
  int next_day_ = 0;
  std::vector<Draft> ready_;  // sorted by arrival
  size_t ready_pos_ = 0;
  std::vector<Draft> carry_;  // arriving after the generated day ended
  int64_t max_time_emitted_ = INT64_MIN;
  ProductGeneratorStats stats_;
};

}  // namespace cohort::bench
