// Per UTC hour, the actors of an actor view with an active event in it (analytics.md,
// "Activity", under the default inactive event types): one Roaring bitmap of actor serials per
// hour that has any, and per actor its active hours (below). Active-user counts
// over hour-aligned buckets — every bucket of a day, week or month in a zone whose offsets are
// whole hours — become unions of a bucket's hourly bitmaps instead of a scan of every event: at 10
// M events, 30 daily buckets union 720 bitmaps. New actors per such bucket come from the first
// active hours.
//
// Per actor it also keeps the hours the other way round: each UTC hour with an active event and
// the times of the first and the last active event in it (12 bytes per actor-hour). An event's
// day — rolling 24 h from any instant, or a civil day in any zone — is one of those two events'
// days (an hour is shorter than a day), so a question "which days had activity" is answered from
// the actor's hours exactly instead of from its events (retention returns, retention_query.h).
//
// The bitmaps hold actor *serials*, not indexes: only their counts are read, and serials stay
// when an extension of the view (ActorView::Extend) inserts actors before others, so an extended
// view shares the bitmaps of the hours its new events leave alone with the view it extends and
// copies and edits only the others. A view built whole numbers its actors' serials by index.
//
// Built with the view (ActorView::Build, ActorView::Extend); immutable after, thread-safe to
// share.
#pragma once

#include <roaring/roaring.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "analytics/model/query.h"
#include "common/huge_page_allocator.h"

namespace cohort::analytics::store {

class ActorView;
class Activity;

class HourlyActiveActors {
 public:
  static constexpr int64_t kHourMs = 3'600'000;

  HourlyActiveActors() = default;
  HourlyActiveActors(HourlyActiveActors&&) = default;
  HourlyActiveActors& operator=(HourlyActiveActors&&) = default;

  // One pass over the view's events. `view` is only read during the call.
  static HourlyActiveActors Build(const ActorView& view);

  // Builds the sets actor by actor, in actor index order (below).
  class Builder;

  // Whether a query with `scope` counts activity as these sets do: its inactive event types are
  // the default ones (QueryScope's), in any order.
  static bool Applies(const QueryScope& scope);

  // The number of distinct actors with an active event in [from_ms, to_ms); both must be
  // multiples of kHourMs (Aligned).
  uint64_t CountActive(int64_t from_ms, int64_t to_ms) const;

  // New actors per bucket: for contiguous ascending buckets [starts[i], starts[i + 1]) (the last
  // ending at `end_ms`; all multiples of kHourMs), the number of actors whose first-ever active
  // event falls in each.
  std::vector<int64_t> CountNew(const std::vector<int64_t>& starts, int64_t end_ms) const;

  static bool Aligned(int64_t t_ms) { return t_ms % kHourMs == 0; }

  // Actor `a`'s active hours, in time order: entry i in [hours_begin(a), hours_end(a)) holds the
  // actor's active events in [first_ms(i), last_ms(i)], all in one UTC hour.
  size_t hours_begin(size_t a) const { return actor_offsets_[a]; }
  size_t hours_end(size_t a) const { return actor_offsets_[a + 1]; }
  int64_t first_ms(size_t i) const { return first_ms_[i]; }
  int64_t last_ms(size_t i) const { return first_ms_[i] + span_ms_[i]; }

  // The bitmaps' heap size (bitmaps shared with another view counted in both).
  size_t memory_bytes() const;

  // Whether both hold the same hours and, per hour, the same actors (by index: serials may
  // differ) (tests).
  bool SameAs(const HourlyActiveActors& other) const;

 private:
  struct RoaringFree {
    void operator()(roaring_bitmap_t* r) const { roaring_bitmap_free(r); }
  };
  using RoaringPtr = std::unique_ptr<roaring_bitmap_t, RoaringFree>;
  using SharedRoaring = std::shared_ptr<const roaring_bitmap_t>;

  std::vector<int64_t> hours_;  // ascending hour numbers (floor(t / kHourMs)) that have a set
  std::vector<SharedRoaring> actors_;  // actors_[i]: the serials of the actors active in hours_[i]
  HugePageVector<uint32_t> serials_;   // by actor index
  uint32_t next_serial_ = 0;           // above every serial in use
  // The actors' active hours: actor a's are [actor_offsets_[a], actor_offsets_[a + 1]) of the
  // parallel first_ms_ (the first active event's time) and span_ms_ (the last one's, minus it).
  HugePageVector<size_t> actor_offsets_;
  HugePageVector<int64_t> first_ms_;
  HugePageVector<uint32_t> span_ms_;
};

// Builds the sets actor by actor, in actor index order: from scratch, or as an extension of a
// base (ActorView::Extend) whose actors are either copied (AddCopies) or replaced.
class HourlyActiveActors::Builder {
 public:
  // `base`, if any, must outlive the builder.
  explicit Builder(size_t actors, const HourlyActiveActors* base = nullptr);
  // The next actor's hours, from actor `a`'s timeline in `view` (only read during the call);
  // `activity` is the view's default activity (Activity(view, QueryScope{})). Extending:
  // `base_actor` is the base actor it replaces (Remove it too), if any.
  void AddFromTimeline(const ActorView& view, const Activity& activity, size_t a,
                       std::optional<uint32_t> base_actor = std::nullopt);
  // Extending: the next actors are the base's actors [first, last), unchanged.
  void AddCopies(size_t first, size_t last);
  // Extending: base actor `a` is not copied — replaced, or gone.
  void Remove(uint32_t a);
  HourlyActiveActors Finish() &&;

 private:
  const HourlyActiveActors* base_;
  HourlyActiveActors result_;
  // Extending: serials leaving and joining hours' sets.
  std::vector<std::pair<int64_t, uint32_t>> removed_, added_;  // (hour, serial)
};

}  // namespace cohort::analytics::store
