#include "analytics/store/event_matcher.h"

#include "analytics/model/filter.h"

namespace cohort::analytics::store {

EventMatcher::EventMatcher(const ActorView& view, const EventSelector& selector,
                           const Activity& activity)
    : activity_(activity) {
  if (selector.event_type == kAnyActiveEvent) {
    type_match_ = TypeMatch::kActive;
  } else if (selector.event_type == kAnyEvent) {
    type_match_ = TypeMatch::kAll;
  }
  for (const SegmentPtr& segment : view.segments()) {
    type_code_.push_back(segment->FindEventType(selector.event_type));
  }
  for (const PropertyFilter& filter : selector.filters) {
    CompiledFilter compiled;
    compiled.filter = &filter;
    compiled.user_scope = filter.property.scope == PropertyRef::Scope::kUser;
    compiled.when_missing = FilterMatches(filter, nullptr);
    if (compiled.user_scope) {
      needs_user_properties_ = true;
    } else {
      for (const SegmentPtr& segment : view.segments()) {
        compiled.key.push_back(segment->FindPropertyKey(false, filter.property.key));
        std::vector<bool>& verdicts = compiled.by_value.emplace_back();
        if (compiled.key.back()) {
          verdicts.reserve(segment->values().size());
          for (const PropertyValue& v : segment->values()) {
            verdicts.push_back(FilterMatches(filter, &v));
          }
        }
      }
    }
    filters_.push_back(std::move(compiled));
  }
}

bool EventMatcher::TypeMatches(uint32_t segment_number, uint32_t code) const {
  switch (type_match_) {
    case TypeMatch::kActive:
      return activity_.active(segment_number, code);
    case TypeMatch::kAll:
      return true;
    case TypeMatch::kCode:
      return type_code_[segment_number] == code;
  }
  return false;
}

bool EventMatcher::Matches(const EventRef& ref, const Properties* user_properties) const {
  if (!TypeMatches(ref.segment_number, ref.segment->event_type_code(ref.index))) return false;
  for (const CompiledFilter& f : filters_) {
    if (f.user_scope) {
      const PropertyValue* value = nullptr;
      if (user_properties != nullptr) {
        auto it = user_properties->find(f.filter->property.key);
        if (it != user_properties->end()) value = &it->second;
      }
      if (!FilterMatches(*f.filter, value)) return false;
      continue;
    }
    const std::optional<uint32_t>& key = f.key[ref.segment_number];
    const PropertyValue* value = key ? ref.segment->Property(false, *key, ref.index) : nullptr;
    bool verdict = value == nullptr
                       ? f.when_missing
                       : f.by_value[ref.segment_number][value - ref.segment->values().data()];
    if (!verdict) return false;
  }
  return true;
}

}  // namespace cohort::analytics::store
