#include "analytics/store/selector_type_masks.h"

namespace cohort::analytics::store {

SelectorTypeMasks::SelectorTypeMasks(const ActorView& view,
                                     const std::vector<EventMatcher>& matchers) {
  for (size_t i = 0; i < matchers.size(); ++i) {
    if (!matchers[i].type_only()) filtered_ |= 1u << i;
  }
  for (uint32_t s = 0; s < view.segments().size(); ++s) {
    std::vector<uint32_t>& masks = masks_.emplace_back(view.segments()[s]->event_types().size());
    for (uint32_t code = 0; code < masks.size(); ++code) {
      for (size_t i = 0; i < matchers.size(); ++i) {
        if (matchers[i].TypeMatches(s, code)) masks[code] |= 1u << i;
      }
    }
  }
}

}  // namespace cohort::analytics::store
