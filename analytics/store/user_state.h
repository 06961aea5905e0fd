// User properties as of an event on the embedded store (analytics.md, "Properties";
// docs/metrics.md, "Identity"): fed one actor's events in the total order, it folds the actor's
// $identify operations and answers the user properties each event sees — the folded state with
// the event's own user_properties over it ($identify events see the state after their own
// operations).
//
// Not thread-safe: one per scanning thread, Reset per actor.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analytics/model/identify_operations.h"
#include "analytics/model/property_value.h"
#include "analytics/store/actor_view.h"

namespace cohort::analytics::store {

class UserState {
 public:
  // Every event may carry user properties: Advance must see them all.
  UserState() = default;
  // Only events of the types that carry user properties somewhere in `view` ($identify
  // operations, or an event's own values) change or overlay the state (Carries): a scan may skip
  // Advance for the others and read state() — which is what Advance would answer for them.
  explicit UserState(const ActorView& view);

  void Reset() { state_.clear(); }
  // Feeds the actor's next event; returns the user properties as of it (valid until the next
  // call).
  const Properties& Advance(const EventRef& ref);
  // Whether events of the view's type id `type` may carry user properties (always true for a
  // UserState made without a view).
  bool Carries(uint32_t type) const { return carries_.empty() || carries_[type] != 0; }
  // The folded state: the user properties of an event that carries none of its own.
  const Properties& state() const { return state_; }

 private:
  Properties state_;
  Properties overlay_;
  std::vector<uint8_t> carries_;  // by view type id; empty: all
  // The segment Advance saw last and its code of "$identify" (kNoCode: none).
  const Segment* segment_ = nullptr;
  uint32_t identify_code_ = kNoCode;
  // Parsed $identify operations by (segment, then key index and value address per operand):
  // parsing is most of a fold's cost, and events share operands (a segment's values are a
  // dictionary). Cleared when it holds kMaxParsed, so distinct operands cannot grow it unbounded.
  static constexpr size_t kMaxParsed = 4096;
  absl::flat_hash_map<std::vector<uintptr_t>, IdentifyOperations> parsed_;
  std::vector<uintptr_t> operands_;
};

}  // namespace cohort::analytics::store
