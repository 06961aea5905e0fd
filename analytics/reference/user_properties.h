// User properties as of an event (analytics.md, "Properties"): the $identify operations of an
// actor folded in total order. The event's own user_properties go over the result (timeline.cc).
//
// One $identify applies its operations in this order (README.md, a decision): $clearAll (clears
// everything), $unset (value: an object, whose keys are removed, an array of key strings, or one
// key string), plain keys (not starting with '$') and $set (set), $setOnce (set when absent),
// $add (numbers: adds to the current value when it is a number, else to 0; a non-numeric
// increment is ignored). Other operations ($append, ...) are ignored. A $set / $setOnce / $add
// whose value is not a JSON object is ignored.
#pragma once

#include "analytics/model/property_value.h"

namespace cohort::analytics::reference {

// Applies the operations `ops` (an $identify event's user_properties) to `state`.
void ApplyIdentify(const Properties& ops, Properties& state);

}  // namespace cohort::analytics::reference
