#include "analytics/store/user_state.h"

#include <algorithm>

#include "analytics/model/identify_operations.h"

namespace cohort::analytics::store {

UserState::UserState(const ActorView& view) : carries_(view.event_types().size(), 0) {
  for (uint32_t n = 0; n < view.segments().size(); ++n) {
    const Segment& s = *view.segments()[n];
    std::vector<uint8_t> seen(s.event_types().size(), 0);
    for (size_t k = 0; k < s.property_keys(/*user_scope=*/true).size(); ++k) {
      for (uint32_t e : s.property_column(/*user_scope=*/true, k).events) {
        seen[s.event_type_code(e)] = 1;
      }
    }
    for (uint32_t code = 0; code < seen.size(); ++code) {
      if (seen[code] != 0) carries_[view.event_type_id(n, code)] = 1;
    }
  }
}

const Properties& UserState::Advance(const EventRef& ref) {
  const Segment& s = *ref.segment;
  if (&s != segment_) {
    segment_ = &s;
    auto it = std::find(s.event_types().begin(), s.event_types().end(), "$identify");
    identify_code_ =
        it == s.event_types().end() ? kNoCode : static_cast<uint32_t>(it - s.event_types().begin());
  }
  const bool identify = s.event_type_code(ref.index) == identify_code_;
  const std::vector<std::string>& keys = s.property_keys(/*user_scope=*/true);
  if (identify) {
    // The event's (key, value) pairs as addresses in the segment: events share operands.
    operands_.assign(1, reinterpret_cast<uintptr_t>(&s));
    for (size_t k = 0; k < keys.size(); ++k) {
      if (const PropertyValue* v = s.Property(true, k, ref.index)) {
        operands_.push_back(k);
        operands_.push_back(reinterpret_cast<uintptr_t>(v));
      }
    }
    auto parsed = parsed_.find(operands_);
    if (parsed == parsed_.end()) {
      if (parsed_.size() >= kMaxParsed) parsed_.clear();
      Properties own;
      for (size_t i = 1; i < operands_.size(); i += 2) {
        own.emplace(keys[operands_[i]], *reinterpret_cast<const PropertyValue*>(operands_[i + 1]));
      }
      parsed = parsed_.emplace(operands_, ParseIdentifyOperations(own)).first;
    }
    ApplyIdentifyOperations(parsed->second, state_);
    return state_;
  }
  // The event's own user_properties, from the sparse columns.
  Properties own;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (const PropertyValue* v = s.Property(true, k, ref.index)) own.emplace(keys[k], *v);
  }
  if (own.empty()) return state_;
  overlay_ = state_;
  for (auto& [key, value] : own) overlay_.insert_or_assign(key, std::move(value));
  return overlay_;
}

}  // namespace cohort::analytics::store
