// User properties as of an event on the embedded store (analytics.md, "Properties";
// docs/metrics.md, "Identity"): fed one actor's events in the total order, it folds the actor's
// $identify operations and answers the user properties each event sees — the folded state with
// the event's own user_properties over it ($identify events see the state after their own
// operations).
//
// Not thread-safe: one per scanning thread, Reset per actor.
#pragma once

#include "analytics/model/property_value.h"
#include "analytics/store/actor_view.h"

namespace cohort::analytics::store {

class UserState {
 public:
  void Reset() { state_.clear(); }
  // Feeds the actor's next event; returns the user properties as of it (valid until the next
  // call).
  const Properties& Advance(const EventRef& ref);

 private:
  Properties state_;
  Properties overlay_;
};

}  // namespace cohort::analytics::store
