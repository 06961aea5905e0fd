#include "analytics/store/selector_type_masks.h"

namespace cohort::analytics::store {

SelectorTypeMasks::SelectorTypeMasks(const ActorView& view,
                                     const std::vector<EventMatcher>& matchers)
    : view_(view), masks_(view.event_types().size(), 0) {
  for (size_t i = 0; i < matchers.size(); ++i) {
    if (!matchers[i].type_only()) filtered_ |= 1u << i;
  }
  for (uint32_t s = 0; s < view.segments().size(); ++s) {
    // A type's verdict is the same in every segment that has it.
    for (uint32_t code = 0; code < view.segments()[s]->event_types().size(); ++code) {
      for (size_t i = 0; i < matchers.size(); ++i) {
        if (matchers[i].TypeMatches(s, code)) masks_[view.event_type_id(s, code)] |= 1u << i;
      }
    }
  }
}

}  // namespace cohort::analytics::store
