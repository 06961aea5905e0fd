// Experiments (analytics.md, "Experiments"): from each variant's tallies to the result's variants
// (moments, the test against the control, Bonferroni, mSPRT) and the sample-ratio check. Shared by
// every engine, which only tallies the arms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics {

// One variant's tallies over its (single-variant) actors.
struct ExperimentArm {
  std::string name;
  int64_t actors = 0;
  int64_t conversions = 0;
  double sum = 0;             // Σ per-actor values in actor-id order (mean metric)
  double sum_of_squares = 0;  // Σ squares, same order
};

// Fills result->variants (the control first, then the others in the given order) and the SRM
// fields. `by_name`: the arms with actors, sorted by name. Errors name the rejected query field
// ("confidence", "msprt_tau2", "expected_split"); `result` is then partly filled.
absl::Status SummarizeExperimentArms(const ExperimentQuery& query,
                                     const std::vector<const ExperimentArm*>& by_name,
                                     ExperimentResult* result);

// The arms of `by_name` in result order: the control (named query.control) first.
std::vector<const ExperimentArm*> ExperimentArmsInResultOrder(
    const ExperimentQuery& query, const std::vector<const ExperimentArm*>& by_name);

}  // namespace cohort::analytics
