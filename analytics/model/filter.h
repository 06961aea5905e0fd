// Property filters (analytics.md, "Properties"): equality compares strings as strings and numbers
// as numbers, a numeric comparison parses a string that is entirely a number, anything else does
// not match; missing ≠ null ≠ "". The one implementation every engine uses for a single value;
// engines that evaluate filters in bulk (dictionary codes, SQL) must agree with it.
#pragma once

#include "analytics/model/property_value.h"
#include "analytics/model/query.h"

namespace cohort::analytics {

// Whether a property whose value is `value` (nullptr: the property is missing) passes `filter`.
bool FilterMatches(const PropertyFilter& filter, const PropertyValue* value);

}  // namespace cohort::analytics
