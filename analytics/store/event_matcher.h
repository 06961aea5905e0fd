// An EventSelector (query.h) compiled against the segments of an ActorView: per segment, the
// event type code it names, and per event-scope filter a truth table over the segment's value
// codes, so matching an event is a code comparison and a few table lookups. User-scope filters
// read the user properties as of the event (user_state.h), which the caller tracks per actor.
//
// Immutable after construction; thread-safe to share.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "analytics/model/query.h"
#include "analytics/store/activity.h"
#include "analytics/store/actor_view.h"

namespace cohort::analytics::store {

class EventMatcher {
 public:
  // `activity` must outlive the matcher.
  EventMatcher(const ActorView& view, const EventSelector& selector, const Activity& activity);

  // Whether some filter reads user properties (then Matches needs them).
  bool needs_user_properties() const { return needs_user_properties_; }

  // Whether the selector has no filters: then TypeMatches decides for every event of a type.
  bool type_only() const { return filters_.empty(); }
  // Whether events of type `code` in segment `segment_number` (of the view) pass the selector's
  // event type (its filters aside).
  bool TypeMatches(uint32_t segment_number, uint32_t code) const;

  // Whether the event passes the selector. `user_properties`: the user properties as of the
  // event; may be null when !needs_user_properties().
  bool Matches(const EventRef& ref, const Properties* user_properties) const;

 private:
  enum class TypeMatch : uint8_t { kActive, kAll, kCode };
  struct CompiledFilter {
    const PropertyFilter* filter = nullptr;
    bool user_scope = false;
    // Event scope, per segment: the key's index (none: the key is absent from the segment),
    // the verdict per value code, and the verdict for a missing property.
    std::vector<std::optional<uint32_t>> key;
    std::vector<std::vector<bool>> by_value;
    bool when_missing = false;
  };

  const Activity& activity_;
  TypeMatch type_match_ = TypeMatch::kCode;
  std::vector<std::optional<uint32_t>> type_code_;  // per segment
  std::vector<CompiledFilter> filters_;
  bool needs_user_properties_ = false;
};

}  // namespace cohort::analytics::store
