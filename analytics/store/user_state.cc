#include "analytics/store/user_state.h"

#include "analytics/model/identify_operations.h"

namespace cohort::analytics::store {

const Properties& UserState::Advance(const EventRef& ref) {
  const Segment& s = *ref.segment;
  bool identify = s.event_types()[s.event_type_code(ref.index)] == "$identify";
  // The event's own user_properties, from the sparse columns.
  Properties own;
  const std::vector<std::string>& keys = s.property_keys(/*user_scope=*/true);
  for (size_t k = 0; k < keys.size(); ++k) {
    if (const PropertyValue* v = s.Property(true, k, ref.index)) own.emplace(keys[k], *v);
  }
  if (identify) {
    ApplyIdentifyOperations(ParseIdentifyOperations(own), state_);
    return state_;
  }
  if (own.empty()) return state_;
  overlay_ = state_;
  for (auto& [key, value] : own) overlay_.insert_or_assign(key, std::move(value));
  return overlay_;
}

}  // namespace cohort::analytics::store
