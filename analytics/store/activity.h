// Which events count as activity (analytics.md, "Activity"): every event except $identify,
// $groupidentify and the query's inactive event types — as a per-segment table over event type
// codes, so a scan checks one bit per event.
//
// Immutable after construction; thread-safe to share.
#pragma once

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

 private:
  std::vector<std::vector<bool>> active_;  // [segment][event type code]
};

}  // namespace cohort::analytics::store
