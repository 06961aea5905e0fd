// How the query scans read the actor view's events. Per actor, in each actor's total order
// (funnels, retention, and segmentation when it reads user properties): from the timeline (time
// and event type id, sequential; the segment is read only when the visitor asks for the EventRef),
// from the type index (only the events of the types a query wants, merged back into each actor's
// order: faster when they are rare), or — when a filter or group-by reads user properties — from
// the segments, folding the user properties as of each event (user_state.h). In storage order
// (segmentation otherwise): segment by segment, each event tagged with its actor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "analytics/model/property_value.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/user_state.h"

namespace cohort::analytics::store {

// Visits actor `a`'s events of `view` in the total order as
// `visit(int64_t time_ms, uint32_t event_type_id, event, const Properties* user_properties)`,
// where `event()` returns the EventRef; stops after a visit that returns false. With
// `user_state` (reset here) the user properties are those as of the event; without, they are
// empty.
template <typename F>
void ScanActor(const ActorView& view, size_t a, UserState* user_state, F&& visit) {
  static const Properties kNone;
  if (user_state != nullptr) user_state->Reset();
  for (size_t i = view.timeline_begin(a); i < view.timeline_end(a); ++i) {
    const uint32_t type = view.timeline_type(i);
    const Properties* properties = &kNone;
    if (user_state != nullptr) {
      // Events of types that never carry user properties leave the state as it is.
      properties = user_state->Carries(type) ? &user_state->Advance(view.EventAt(a, i))
                                             : &user_state->state();
    }
    if (!visit(
            view.timeline_time(i), type, [&] { return view.EventAt(a, i); }, properties)) {
      return;
    }
  }
}

// How ScanActors reaches the events.
enum class EventAccess {
  kAuto,       // the type index when the wanted types hold under a tenth of the events
  kTimeline,   // the timeline, every event of every actor tested against the wanted types
  kTypeIndex,  // only the wanted types' events, where the view has a type index (tests force it)
};

namespace internal {

// ScanActors without user properties.
template <typename Visit, typename EndActor>
void ScanWanted(const ActorView& view, EventAccess access, const std::vector<uint8_t>& wanted,
                Visit&& visit, EndActor&& end_actor) {
  static const Properties kNone;
  struct Cursor {
    const uint32_t* next;
    const uint32_t* end;
  };
  std::vector<Cursor> cursors;
  bool use_index = view.has_type_index() && access != EventAccess::kTimeline;
  if (use_index) {
    size_t selected = 0;
    for (uint32_t t = 0; t < wanted.size(); ++t) {
      if (wanted[t] == 0 || view.type_positions_begin(t) == view.type_positions_end(t)) continue;
      cursors.push_back({view.type_positions_begin(t), view.type_positions_end(t)});
      selected += static_cast<size_t>(cursors.back().end - cursors.back().next);
    }
    // Measured (docs/benchmarks.md): a funnel over steps holding 4 % of the events runs 1.5x
    // faster from the index, one over 26 % 1.4x slower (each indexed event costs a jump).
    if (access == EventAccess::kAuto && selected * 10 >= view.event_count()) use_index = false;
  }
  if (!use_index) {
    // The hot loop of funnels and segmentation: per actor, the wanted positions are gathered
    // without a branch (a query wants a few types spread thin over the events, so a branch per
    // event would mispredict), then visited.
    const uint8_t* want = wanted.data();
    const uint32_t* types = view.timeline_types();
    std::vector<size_t> kept;
    for (size_t a = 0; a < view.actor_count(); ++a) {
      const size_t begin = view.timeline_begin(a);
      const size_t end = view.timeline_end(a);
      if (kept.size() < end - begin) kept.resize(end - begin);
      size_t n = 0;
      for (size_t i = begin; i < end; ++i) {
        kept[n] = i;
        n += want[types[i]] != 0;
      }
      for (size_t j = 0; j < n; ++j) {
        const size_t i = kept[j];
        if (!visit(
                view.timeline_time(i), types[i], [&] { return view.EventAt(a, i); }, &kNone)) {
          break;
        }
      }
      if (n != 0) end_actor(a);
    }
    return;
  }
  size_t a = 0;
  bool open = false;     // actor `a` has had a visit
  bool stopped = false;  // a visit of actor `a` returned false
  while (true) {
    // The least position over the cursors (few: a query wants a handful of types).
    Cursor* least = nullptr;
    for (Cursor& c : cursors) {
      if (c.next != c.end && (least == nullptr || *c.next < *least->next)) least = &c;
    }
    if (least == nullptr) break;
    const size_t position = *least->next++;
    if (!open || position >= view.timeline_end(a)) {
      if (open) end_actor(a);
      a = view.ActorAt(position, a);
      open = true;
      stopped = false;
    }
    if (stopped) continue;
    stopped = !visit(
        view.timeline_time(position), view.timeline_type(position),
        [&] { return view.EventAt(a, position); }, &kNone);
  }
  if (open) end_actor(a);
}

}  // namespace internal

// Visits, actor by actor in id order, the events of `view` whose type id t has wanted[t] != 0
// (view.event_types().size() entries), in each actor's total order, as ScanActor does; then calls
// `end_actor(size_t a)`. Actors without a wanted event may be skipped entirely (no visit, no
// end_actor), so such an actor must contribute nothing. A visit that returns false skips the
// rest of that actor's events. With `user_state` (made with `view`, or without one) the user
// properties fold over every event that may carry them, wanted or not.
template <typename Visit, typename EndActor>
void ScanActors(const ActorView& view, EventAccess access, const std::vector<uint8_t>& wanted,
                UserState* user_state, Visit&& visit, EndActor&& end_actor) {
  if (user_state != nullptr) {
    // The wanted events and those that carry user properties, through the paths below (the
    // timeline, or the type index when they are rare); the carriers fold, the wanted are visited.
    std::vector<uint8_t> read(wanted);
    for (uint32_t t = 0; t < read.size(); ++t) read[t] |= user_state->Carries(t) ? 1 : 0;
    user_state->Reset();
    bool visited = false;
    internal::ScanWanted(
        view, access, read,
        [&](int64_t time, uint32_t type, auto&& event, const Properties*) {
          const Properties* properties =
              user_state->Carries(type) ? &user_state->Advance(event()) : &user_state->state();
          if (wanted[type] == 0) return true;
          visited = true;
          return visit(time, type, event, properties);
        },
        [&](size_t a) {
          if (visited) end_actor(a);
          visited = false;
          user_state->Reset();
        });
    return;
  }
  internal::ScanWanted(view, access, wanted, visit, end_actor);
}

// Visits the events of `view` whose type id t has wanted[t] != 0 in storage order — segment by
// segment, group by group, each group's events in (time, insert_id) order; neither per actor nor
// in time order across groups — as `visit(uint32_t actor, int64_t time_ms, uint32_t
// event_type_id, const EventRef& event)`. For queries that count events and distinct actors and
// need no actor's order: every column is read sequentially.
template <typename Visit>
void ScanSegments(const ActorView& view, const std::vector<uint8_t>& wanted, Visit&& visit) {
  std::vector<uint8_t> wanted_code;
  std::vector<uint32_t> kept;
  for (uint32_t s = 0; s < view.segments().size(); ++s) {
    const Segment& segment = *view.segments()[s];
    wanted_code.assign(segment.event_types().size(), 0);
    bool any = false;
    for (uint32_t c = 0; c < wanted_code.size(); ++c) {
      wanted_code[c] = wanted[view.event_type_id(s, c)];
      any = any || wanted_code[c] != 0;
    }
    if (!any) continue;
    // The wanted events gathered without a branch, as in ScanActors; then their groups found by
    // a cursor (both ascend).
    const uint32_t events = static_cast<uint32_t>(segment.event_count());
    if (kept.size() < events) kept.resize(events);
    size_t n = 0;
    for (uint32_t e = 0; e < events; ++e) {
      kept[n] = e;
      n += wanted_code[segment.event_type_code(e)] != 0;
    }
    uint32_t g = 0;
    for (size_t j = 0; j < n; ++j) {
      const uint32_t e = kept[j];
      while (segment.group_begin(g + 1) <= e) ++g;
      visit(view.group_actor(s, g), segment.time_ms(e),
            view.event_type_id(s, segment.event_type_code(e)), EventRef{&segment, e, s});
    }
  }
}

}  // namespace cohort::analytics::store
