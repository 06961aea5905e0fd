// How the funnel, segmentation and retention scans read one actor's events: from the view's
// timeline (time and event type id, sequential; the segment is read only when the visitor asks for
// the EventRef), or — when a filter or group-by reads user properties — from the segments, folding
// the user properties as of each event (user_state.h).
#pragma once

#include <cstddef>
#include <cstdint>

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
  if (user_state != nullptr) {
    user_state->Reset();
    view.ForEachEventWhile(a, [&](const EventRef& ref) {
      const Properties* properties = &user_state->Advance(ref);
      return visit(
          ref.segment->time_ms(ref.index),
          view.event_type_id(ref.segment_number, ref.segment->event_type_code(ref.index)),
          [&] { return ref; }, properties);
    });
    return;
  }
  static const Properties kNone;
  for (size_t i = view.timeline_begin(a); i < view.timeline_end(a); ++i) {
    if (!visit(
            view.timeline_time(i), view.timeline_type(i), [&] { return view.EventAt(a, i); },
            &kNone)) {
      return;
    }
  }
}

}  // namespace cohort::analytics::store
