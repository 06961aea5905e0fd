// Experiments on the embedded store (analytics.md, "Experiments"; docs/metrics.md, "Experiment
// metrics" and "Experiments (statistics)"): one pass over each actor's events finds its variant
// and its goal events, then analytics/stats compares every variant with the control.
//
// Metric side, per actor in the total order:
// - An exposure is an `exposure_event` inside the range that carries the event property
//   `variant_property`; its Label() names the variant. An exposure without it is ignored. An
//   actor whose exposures name more than one variant is left out and counted in
//   `multiple_exposures`.
// - Goal events: `goal` events strictly after the actor's first exposure (total order), at most
//   `window_ms` after it, and inside the range. An actor with one converts; for a mean metric its
//   value is the sum of NumericValue(sum_property) over them (others add 0; zeros included), summed
//   in the total order, and the arms' Σx and Σx² add the actors' values in actor-id order — the
//   order the reference uses, so the doubles agree exactly.
// Statistics side: variants with at least one actor, the control first and the rest by name; the
// z-test (conversion) when the control has actors, Welch (mean) when both arms have ≥ 2 actors;
// Bonferroni over the k − 1 comparisons when k > 2; SRM over the variants in name order when
// k ≥ 2; with msprt_tau2, one mSPRT look over the whole range.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with query.scope.identity. Errors: kInvalidArgument naming
// "time_zone" for a zone not in the tz database, or "confidence", "expected_split" or
// "msprt_tau2" when the statistics reject them (as the reference does: only when a test that
// reads the parameter runs).
[[nodiscard]] absl::StatusOr<ExperimentResult> RunExperiment(const ExperimentQuery& query,
                                                             const ActorView& view,
                                                             CellCollector* cells = nullptr);

}  // namespace cohort::analytics::store
