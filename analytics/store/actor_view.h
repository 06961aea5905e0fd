// The actors of a snapshot under an identity mode (analytics.md, "Identity"): which storage
// groups of which segments make up each actor, and its events in the total order. Built once per
// (snapshot, identity mode) and shared by the queries that read it.
//
// With `none` every storage group is an actor. With `deviceToUser` a device group joins the user
// its device maps to — the user of the earliest event (time, insert_id, user_id) carrying both
// ids, found in the user groups' device column — and is its own anonymous actor otherwise.
//
// Build also merges the runs of every actor that has several (its events spread over segments)
// into the total order once, so queries iterate arrays instead of re-sorting per query: 8 bytes
// per event of such actors; it lays every actor's events out as a timeline — time and a view-wide
// event type id per event, in the total order, 12 bytes per event — so scans that decide on type
// and time read two sequential arrays and touch a segment only for the events they keep; it
// indexes the timeline by event type (4 bytes per event), so a query about rare event types visits
// only their events (actor_scan.h); it maps each segment's storage groups to their actors (4
// bytes per group), so counting queries can read the segments in storage order; and it indexes
// each UTC hour's active actors (hourly_active_actors.h).
//
// Under ingest, Extend makes the view of the events plus newly appended segments from the view
// of the events: it copies what the new segments leave alone and rebuilds only the actors they
// touch, instead of merging every actor's runs again.
//
// Immutable after Build/Extend; thread-safe to share. Holds its segments alive.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/model/query.h"
#include "analytics/store/hourly_active_actors.h"
#include "analytics/store/segment.h"
#include "common/huge_page_allocator.h"

namespace cohort::analytics::store {

// A contiguous run of one actor's events in one segment: [begin, end).
struct EventRun {
  uint32_t segment = 0;  // index into ActorView::segments()
  uint32_t begin = 0;
  uint32_t end = 0;
};

// One event of a segment.
struct EventRef {
  const Segment* segment = nullptr;
  uint32_t index = 0;
  uint32_t segment_number = 0;  // index into ActorView::segments()
};

class ActorView {
 public:
  static ActorView Build(std::vector<SegmentPtr> segments, IdentityMerge identity);

  // The view Build(base.segments() followed by `added`, base.identity()) returns — the same
  // actors, runs, orders, timeline, indexes and ids — computed from `base`: the actors that
  // gain events (or, under deviceToUser, lose or gain a device) are rebuilt, every other actor's
  // data is copied. `added` must hold events of base's project that none of base's segments
  // holds (the store's appends after base's snapshot). Costs a copy of the view's arrays plus
  // work in proportion to the touched actors' events and the added segments; under
  // deviceToUser, a device newly seen without a user, or newly seen with one, also costs a
  // scan of the base segments' device column to find its first user.
  static ActorView Extend(const ActorView& base, std::vector<SegmentPtr> added);

  IdentityMerge identity() const { return identity_; }

  const std::vector<SegmentPtr>& segments() const { return segments_; }
  // Actors sorted by id (bytes).
  size_t actor_count() const { return actor_ids_.size(); }
  const std::string& actor_id(size_t a) const { return actor_ids_[a]; }
  // The actor that storage group `g` of segment `segment_number` belongs to.
  uint32_t group_actor(uint32_t segment_number, uint32_t g) const {
    return group_actors_[segment_number][g];
  }
  // The actor's runs; their events interleave in time when there are several.
  const EventRun* runs_begin(size_t a) const { return runs_.data() + run_offsets_[a]; }
  const EventRun* runs_end(size_t a) const { return runs_.data() + run_offsets_[a + 1]; }

  // Visits actor `a`'s events in the total order (time, insert_id, device_id, user_id bytes).
  // `visit(EventRef)`.
  template <typename F>
  void ForEachEvent(size_t a, F&& visit) const {
    const EventRun* first = runs_begin(a);
    if (runs_end(a) - first == 1) {
      const Segment* s = segments_[first->segment].get();
      for (uint32_t e = first->begin; e < first->end; ++e) visit(EventRef{s, e, first->segment});
      return;
    }
    for (size_t i = order_offsets_[a]; i < order_offsets_[a + 1]; ++i) visit(Ref(order_[i]));
  }

  // The view's event types (each segment's dictionary merged); ids index this list.
  const std::vector<std::string>& event_types() const { return event_types_; }
  // The view-wide id of event type `code` of segment `segment_number`.
  uint32_t event_type_id(uint32_t segment_number, uint32_t code) const {
    return type_ids_[segment_number][code];
  }

  // Actor `a`'s events in the total order as positions [timeline_begin(a), timeline_end(a)) of
  // two parallel columns: the event's time and its event type id.
  size_t timeline_begin(size_t a) const { return timeline_offsets_[a]; }
  size_t timeline_end(size_t a) const { return timeline_offsets_[a + 1]; }
  int64_t timeline_time(size_t position) const { return timeline_time_[position]; }
  uint32_t timeline_type(size_t position) const { return timeline_type_[position]; }
  const uint32_t* timeline_types() const { return timeline_type_.data(); }
  // Events in the view (the timeline's length).
  size_t event_count() const { return timeline_time_.size(); }
  // The actor whose timeline holds `position`, searching forward from actor `from`, whose timeline
  // must not begin after `position`.
  size_t ActorAt(size_t position, size_t from) const;

  // The type index: the timeline positions of the events of type id `type`, ascending. Absent
  // (has_type_index() false, every list empty) when the view holds 2^32 events or more.
  bool has_type_index() const { return !type_offsets_.empty(); }
  const uint32_t* type_positions_begin(uint32_t type) const {
    return has_type_index() ? type_positions_.data() + type_offsets_[type] : nullptr;
  }
  const uint32_t* type_positions_end(uint32_t type) const {
    return has_type_index() ? type_positions_.data() + type_offsets_[type + 1] : nullptr;
  }

  // The event at `position` of actor `a`'s timeline.
  EventRef EventAt(size_t a, size_t position) const {
    const size_t k = position - timeline_offsets_[a];
    const EventRun* first = runs_begin(a);
    if (runs_end(a) - first == 1) {
      return EventRef{segments_[first->segment].get(), first->begin + static_cast<uint32_t>(k),
                      first->segment};
    }
    return Ref(order_[order_offsets_[a] + k]);
  }

  // As ForEachEvent, stopping after the first event for which `visit(EventRef)` returns false.
  template <typename F>
  void ForEachEventWhile(size_t a, F&& visit) const {
    const EventRun* first = runs_begin(a);
    if (runs_end(a) - first == 1) {
      const Segment* s = segments_[first->segment].get();
      for (uint32_t e = first->begin; e < first->end; ++e) {
        if (!visit(EventRef{s, e, first->segment})) return;
      }
      return;
    }
    for (size_t i = order_offsets_[a]; i < order_offsets_[a + 1]; ++i) {
      if (!visit(Ref(order_[i]))) return;
    }
  }

  // Per UTC hour, the actors with an active event (default activity); built with the view.
  const HourlyActiveActors& hourly_active() const { return hourly_active_; }

  // Bytes the view holds besides its segments (ids, runs, merged orders, timeline, hourly index).
  size_t memory_bytes() const;

  // Whether `x` comes before `y` in the total order.
  static bool Before(const EventRef& x, const EventRef& y);

  // Whether two views hold the same data: every array above, compared by value (tests of
  // Extend against Build).
  bool SameAs(const ActorView& other) const;

 private:
  // An event of order_: its segment's number and its index (8 bytes; an EventRef's segment
  // pointer is the number's segment).
  struct OrderRef {
    uint32_t segment = 0;
    uint32_t index = 0;
  };
  EventRef Ref(OrderRef r) const {
    return EventRef{segments_[r.segment].get(), r.index, r.segment};
  }

  // A storage group of one segment.
  struct GroupRef {
    uint32_t segment = 0;
    uint32_t group = 0;
  };
  // An actor in actor order: (actor_id(), device) — a user and an anonymous device whose ids
  // are equal strings are two actors, the user first.
  struct ActorKey {
    std::string id;
    bool device = false;
    friend bool operator==(const ActorKey&, const ActorKey&) = default;
    friend auto operator<=>(const ActorKey&, const ActorKey&) = default;
  };

  // Assigns view-wide type ids to the event types of segments [from, end) (type_ids_ of the
  // segments before must be set).
  void AddEventTypes(uint32_t from);
  // Fills the timeline and the type index from the actors' events.
  void BuildTimeline();
  // Appends actor `a`'s events to the timeline.
  void AppendTimeline(size_t a);
  // Appends the actors [first, last) of `base` as they are (Extend; every array but the group
  // actors, the type index and the hourly sets).
  void CopyActors(const ActorView& base, size_t first, size_t last);
  const GroupKey& RunKey(const EventRun& run) const;
  ActorKey KeyOf(size_t a) const;
  // The actor with `key`, if any.
  std::optional<uint32_t> FindActor(const ActorKey& key) const;
  // The actor the device group `device` belongs to, if the view has that group.
  std::optional<uint32_t> DeviceGroupActor(std::string_view device) const;
  // Fills the type index from the timeline.
  void BuildTypeIndex();

  // Appends the runs' events to `out` in the total order; `scratch` is working space.
  void MergeRuns(const EventRun* first, const EventRun* last, HugePageVector<OrderRef>* out,
                 std::vector<EventRef>* scratch) const;

  IdentityMerge identity_ = IdentityMerge::kNone;
  std::vector<SegmentPtr> segments_;
  std::vector<std::string> actor_ids_;
  HugePageVector<uint32_t> run_offsets_;  // actor_count() + 1
  HugePageVector<EventRun> runs_;
  // Actors with several runs: their events in the total order, order_[order_offsets_[a] ..
  // order_offsets_[a + 1]) (an empty range for single-run actors).
  HugePageVector<OrderRef> order_;
  HugePageVector<size_t> order_offsets_;             // actor_count() + 1
  std::vector<std::vector<uint32_t>> group_actors_;  // [segment][group]: its actor
  std::vector<std::string> event_types_;
  std::vector<std::vector<uint32_t>> type_ids_;  // [segment][event type code]
  HugePageVector<size_t> timeline_offsets_;      // actor_count() + 1
  HugePageVector<int64_t> timeline_time_;
  HugePageVector<uint32_t> timeline_type_;
  std::vector<size_t> type_offsets_;  // event_types_.size() + 1, or empty
  HugePageVector<uint32_t> type_positions_;
  // Every device group once (where it first occurs), by device id: finds a device's actor.
  std::vector<GroupRef> device_groups_;
  HourlyActiveActors hourly_active_;
};

}  // namespace cohort::analytics::store
