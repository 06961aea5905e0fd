// Several selectors (EventMatcher) of one query read as per-type bit masks: per event type of the
// view (ActorView::event_types), which selectors an event of that type can pass by its type. A scan
// then rejects an event that no selector wants with one table lookup, and a selector without
// filters needs no further test — the hot loop of funnels and segmentation.
//
// Immutable after construction; thread-safe to share.
#pragma once

#include <cstdint>
#include <vector>

#include "analytics/store/actor_view.h"
#include "analytics/store/event_matcher.h"

namespace cohort::analytics::store {

class SelectorTypeMasks {
 public:
  // At most 32 matchers (queries have at most 16 steps or 10 series), compiled against `view`;
  // they are only read during the call. `view` must outlive this.
  SelectorTypeMasks(const ActorView& view, const std::vector<EventMatcher>& matchers);

  // Bit i: events of the view's event type `type_id` pass matchers[i]'s event type.
  uint32_t TypeMask(uint32_t type_id) const { return masks_[type_id]; }
  uint32_t TypeMask(const EventRef& ref) const {
    return masks_[view_.event_type_id(ref.segment_number, ref.segment->event_type_code(ref.index))];
  }
  // Bit i: matchers[i] has filters, so an event whose type passes must still be Matched.
  uint32_t filtered() const { return filtered_; }

 private:
  const ActorView& view_;
  std::vector<uint32_t> masks_;  // by event type id
  uint32_t filtered_ = 0;
};

}  // namespace cohort::analytics::store
