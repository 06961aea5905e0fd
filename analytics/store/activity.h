// Which events count as activity (analytics.md, "Activity"): every event except $identify,
// $groupidentify and the query's inactive event types — as a per-segment table over event type
// codes, so a scan checks one bit per event.
//
// Immutable after construction; thread-safe to share.
#pragma once

#include <cstdint>
#include <vector>

#include "analytics/model/query.h"
#include "analytics/store/actor_view.h"

namespace cohort::analytics::store {

class Activity {
 public:
  Activity(const ActorView& view, const QueryScope& scope);
  bool active(const EventRef& ref) const {
    return active(ref.segment_number, ref.segment->event_type_code(ref.index));
  }
  // Whether events of type `code` in segment `segment_number` (of the view) are activity.
  bool active(uint32_t segment_number, uint32_t code) const {
    return active_[segment_number][code];
  }
  // Whether events of the view's event type `type_id` (ActorView::event_types) are activity.
  bool active_type(uint32_t type_id) const { return by_type_id_[type_id] != 0; }

 private:
  std::vector<std::vector<bool>> active_;  // [segment][event type code]
  std::vector<uint8_t> by_type_id_;
};

}  // namespace cohort::analytics::store
