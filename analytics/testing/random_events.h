// Randomized event datasets for the agreement tests between engines (issue 6, "Correctness"):
// deterministic for a seed, and rich in the cases where engines disagree when one is wrong —
// anonymous devices that log in later, shared devices, same-millisecond ties, duplicates sent
// again (also at another time), out-of-order arrival, $identify and inactive events, explicit,
// -1 and missing session ids, typed properties, and times around DST changes.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "analytics/model/event.h"
#include "analytics/model/query.h"

namespace cohort::analytics::testing {

struct RandomEventsOptions {
  int actors = 30;
  int events = 400;
  int64_t start_ms = 1'772'841'600'000;  // 2026-03-07T00:00:00Z, before US DST begins (03-08)
  int64_t span_ms = 10LL * 24 * 3600 * 1000;
  std::string project = "p";
};

// Events in arrival order (duplicates included).
std::vector<Event> RandomEvents(uint32_t seed, const RandomEventsOptions& options = {});

PropertyFilter MakeFilter(PropertyRef::Scope scope, std::string key, FilterOp op,
                          std::vector<PropertyValue> values);

// A selector of one of `types`, in half the cases with one filter on the dataset's properties
// (event button/price, user plan/country).
EventSelector RandomSelector(std::mt19937& rng, const std::vector<const char*>& types);

}  // namespace cohort::analytics::testing
