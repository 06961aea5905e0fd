// Printers of queries and results for the agreement tests' failure messages: one line per series
// or variant, numbers at full precision where the tests compare bit for bit.
#pragma once

#include <string>

#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics::testing {

// A number at 17 significant digits, "null" when absent.
std::string Describe(const Number& n);
std::string Describe(const SegmentationQuery& q);
std::string Describe(const SegmentationResult& r);
std::string Describe(const ExperimentResult& r);

}  // namespace cohort::analytics::testing
