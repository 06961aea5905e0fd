// Random queries for the agreement tests between engines (issue 6, "Correctness"): one generator
// per query type, shared by the embedded store's tests (analytics/store/*_query_test.cc) and the
// ClickHouse backend's (analytics/clickhouse/clickhouse_*_query_test.cc), so both are checked
// against the reference on the same kinds of queries. Each draws from `rng` only, over a dataset
// made by RandomEvents (random_events.h) with `dataset` as its options: event types, properties
// and times that the dataset has, plus some it lacks.
//
// The ClickHouse backend refuses user-property filters and group-bys so far (kUnimplemented):
// its tests check the refusal and compare the query with StripUserProperties applied.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "analytics/model/event.h"
#include "analytics/model/query.h"
#include "analytics/testing/random_events.h"

namespace cohort::analytics::testing {

// Datasets shaped for a query type (RandomEvents with per-seed options; `options.project` is
// kept, the fields a shape needs are set, and the caller's other fields are used as they are).
//
// Funnels: even seeds dense (a day and a half, 15 actors) for long chains, odd ones sparse.
std::vector<Event> FunnelEvents(uint32_t seed, RandomEventsOptions& options);
// Sessions: even seeds dense, with times cut to whole seconds or minutes so gaps equal to the
// timeout and lengths equal to a histogram bound happen.
std::vector<Event> SessionsEvents(uint32_t seed, RandomEventsOptions& options);
// Stickiness: 40 days, longer than the rolling month.
std::vector<Event> StickinessEvents(uint32_t seed, RandomEventsOptions& options);
// Experiments: every third seed bigger (80 actors); exposures reshaped per seed: as generated (a
// coin per exposure, so most exposed actors see both variants), sticky per actor (arms of useful
// size), three or four variants (a number 1 and a string "1" share the label "1"), and exposures
// without the variant property.
std::vector<Event> ExperimentEvents(uint32_t seed, RandomEventsOptions& options);

// A filter on the dataset's properties (event button/price/variant, user plan/country), of every
// operator kind.
PropertyFilter RandomFilter(std::mt19937& rng);

// The queries. `identity` and `dataset.project` go into the scope as they are.
SegmentationQuery RandomSegmentationQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                          IdentityMerge identity);
ActiveUsersQuery RandomActiveUsersQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                        IdentityMerge identity);
StickinessQuery RandomStickinessQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                      IdentityMerge identity);
SessionsQuery RandomSessionsQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                  IdentityMerge identity);
// `events`: the dataset, whose times some as-of instants are drawn from.
RetentionQuery RandomRetentionQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                    IdentityMerge identity, const std::vector<Event>& events);
FunnelQuery RandomFunnelQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                              IdentityMerge identity, FunnelOrder order);
// `seed`: the ExperimentEvents seed (how many variants it made, for expected splits).
// Rarely, parameters the statistics reject (confidence, tau², time zone).
ExperimentQuery RandomExperimentQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                      IdentityMerge identity, uint32_t seed);

// Drop the user-property filters and group-by; true if there was any.
bool StripUserProperties(SegmentationQuery& query);
bool StripUserProperties(RetentionQuery& query);
bool StripUserProperties(FunnelQuery& query);
bool StripUserProperties(ExperimentQuery& query);

}  // namespace cohort::analytics::testing
