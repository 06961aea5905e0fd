// The user-property operations an $identify event carries (docs/metrics.md, "User properties as of
// an event"), parsed once so that the engines apply them alike: the embedded store folds them at
// query time (store/user_state.h), the ClickHouse writer stores them per key
// (clickhouse/clickhouse_event_row.h) for its SQL fold. The brute-force reference keeps its own
// code on purpose.
//
// Value types; thread-compatible.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "analytics/model/property_value.h"

namespace cohort::analytics {

// Applied in this order: clear everything, unset keys, set, set when absent, add.
struct IdentifyOperations {
  bool clear_all = false;                           // "$clearAll" present (any value)
  std::vector<std::string> unset;                   // "$unset": object keys, strings, or one string
  Properties set;                                   // plain (non-"$") keys, then "$set" over them
  Properties set_once;                              // "$setOnce"
  std::vector<std::pair<std::string, double>> add;  // "$add" entries whose value is a number
};

// The operations of an $identify event's user_properties. Operands of the wrong shape (a "$set"
// that is not an object, an "$add" of a string) are ignored, never an error.
IdentifyOperations ParseIdentifyOperations(const Properties& user_properties);

// Applies `operations` to `state`, the actor's user properties so far. "$add" to a missing or
// non-number value adds to 0.
void ApplyIdentifyOperations(const IdentifyOperations& operations, Properties& state);

}  // namespace cohort::analytics
