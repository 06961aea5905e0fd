#include "analytics/store/activity.h"

#include <algorithm>

namespace cohort::analytics::store {

Activity::Activity(const ActorView& view, const QueryScope& scope) {
  for (const SegmentPtr& segment : view.segments()) {
    const std::vector<std::string>& types = segment->event_types();
    std::vector<bool>& active = active_.emplace_back(types.size(), true);
    for (size_t t = 0; t < types.size(); ++t) {
      active[t] = types[t] != "$identify" && types[t] != "$groupidentify" &&
                  std::find(scope.inactive_event_types.begin(), scope.inactive_event_types.end(),
                            types[t]) == scope.inactive_event_types.end();
    }
  }
}

}  // namespace cohort::analytics::store
