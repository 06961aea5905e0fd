#include "analytics/store/activity.h"

#include <algorithm>

namespace cohort::analytics::store {

namespace {

bool Active(const std::string& type, const QueryScope& scope) {
  return type != "$identify" && type != "$groupidentify" &&
         std::find(scope.inactive_event_types.begin(), scope.inactive_event_types.end(), type) ==
             scope.inactive_event_types.end();
}

}  // namespace

Activity::Activity(const ActorView& view, const QueryScope& scope) {
  for (const SegmentPtr& segment : view.segments()) {
    const std::vector<std::string>& types = segment->event_types();
    std::vector<bool>& active = active_.emplace_back(types.size(), true);
    for (size_t t = 0; t < types.size(); ++t) active[t] = Active(types[t], scope);
  }
  for (const std::string& type : view.event_types()) by_type_id_.push_back(Active(type, scope));
}

}  // namespace cohort::analytics::store
