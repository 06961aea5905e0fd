#include "analytics/model/experiment_arms.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "analytics/stats/bonferroni.h"
#include "analytics/stats/msprt.h"
#include "analytics/stats/proportion_ztest.h"
#include "analytics/stats/sample_moments.h"
#include "analytics/stats/sample_ratio.h"
#include "analytics/stats/welch_ttest.h"

namespace cohort::analytics {
namespace {

absl::Status Rejected(const char* field, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", std::string(status.message())));
}

// n, mean and sample variance of an arm's per-actor values: converted-or-not (0/1) for a
// conversion metric, the sums for a mean metric. The variance stays 0 below two actors or when
// the sums are rejected.
stats::SampleMoments MomentsOf(const ExperimentArm& arm, bool mean_metric) {
  const int64_t n = arm.actors;
  const double sum = mean_metric ? arm.sum : static_cast<double>(arm.conversions);
  const double squares = mean_metric ? arm.sum_of_squares : sum;  // 0² = 0, 1² = 1
  stats::SampleMoments moments;
  moments.n = n;
  moments.mean = n > 0 ? sum / static_cast<double>(n) : 0;
  if (n >= 2) {
    absl::StatusOr<stats::SampleMoments> from_sums = stats::SampleMomentsFromSums(n, sum, squares);
    if (from_sums.ok()) moments = *from_sums;
  }
  return moments;
}

// Copies a test's difference, interval and lift into `out`.
template <typename Test>
void FillComparison(const Test& test, VariantResult* out) {
  out->p_value = test.p_value;
  out->degenerate = test.degenerate;
  out->difference = test.difference;
  out->difference_low = test.difference_ci.lower;
  out->difference_high = test.difference_ci.upper;
  if (test.relative_lift.has_value()) {
    out->lift = *test.relative_lift;
    out->lift_low = test.relative_lift_ci->lower;
    out->lift_high = test.relative_lift_ci->upper;
  }
}

// Compares `arm` with `control` into `out`: the test of the metric, the Bonferroni adjustment
// over `comparisons`, and the mSPRT look.
absl::Status Compare(const ExperimentQuery& query, bool mean_metric, int64_t comparisons,
                     const ExperimentArm& control, const ExperimentArm& arm, VariantResult* out) {
  std::optional<stats::DifferenceEstimate> estimate;
  if (mean_metric) {
    const stats::SampleMoments c = MomentsOf(control, true);
    const stats::SampleMoments t = MomentsOf(arm, true);
    if (c.n < 2 || t.n < 2) return absl::OkStatus();  // Welch needs two actors per arm
    absl::StatusOr<stats::WelchTestResult> test = stats::WelchTTest(c, t, query.confidence);
    if (!test.ok()) return Rejected("confidence", test.status());
    FillComparison(*test, out);
    absl::StatusOr<stats::DifferenceEstimate> d = stats::DifferenceOfMeans(c, t);
    if (d.ok()) estimate = *d;
  } else {
    const stats::ProportionCounts c{control.conversions, control.actors};
    const stats::ProportionCounts t{arm.conversions, arm.actors};
    if (c.n <= 0) return absl::OkStatus();
    absl::StatusOr<stats::ProportionTestResult> test =
        stats::TwoProportionZTest(c, t, query.confidence);
    if (!test.ok()) return Rejected("confidence", test.status());
    FillComparison(*test, out);
    absl::StatusOr<stats::DifferenceEstimate> d = stats::DifferenceOfProportions(c, t);
    if (d.ok()) estimate = *d;
  }
  if (out->p_value.has_value() && comparisons > 1) {
    absl::StatusOr<double> adjusted = stats::BonferroniAdjust(*out->p_value, comparisons);
    if (adjusted.ok()) out->p_value_adjusted = *adjusted;
  }
  if (query.msprt_tau2.has_value() && estimate.has_value()) {
    absl::StatusOr<stats::MixtureSprtLook> look = stats::MixtureSprt(*estimate, *query.msprt_tau2);
    if (!look.ok()) return Rejected("msprt_tau2", look.status());
    out->always_valid_p_value = look->p_value;
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<const ExperimentArm*> ExperimentArmsInResultOrder(
    const ExperimentQuery& query, const std::vector<const ExperimentArm*>& by_name) {
  const ExperimentArm* control = nullptr;
  for (const ExperimentArm* arm : by_name) {
    if (arm->name == query.control) control = arm;
  }
  std::vector<const ExperimentArm*> ordered;
  if (control != nullptr) ordered.push_back(control);
  for (const ExperimentArm* arm : by_name) {
    if (arm != control) ordered.push_back(arm);
  }
  return ordered;
}

absl::Status SummarizeExperimentArms(const ExperimentQuery& query,
                                     const std::vector<const ExperimentArm*>& by_name,
                                     ExperimentResult* result) {
  const bool mean_metric = query.sum_property.has_value();
  const std::vector<const ExperimentArm*> ordered = ExperimentArmsInResultOrder(query, by_name);
  const ExperimentArm* control =
      !ordered.empty() && ordered.front()->name == query.control ? ordered.front() : nullptr;
  const int64_t comparisons = static_cast<int64_t>(ordered.size()) - 1;
  for (const ExperimentArm* arm : ordered) {
    VariantResult variant;
    variant.variant = arm->name;
    variant.actors = arm->actors;
    variant.conversions = arm->conversions;
    const stats::SampleMoments moments = MomentsOf(*arm, mean_metric);
    variant.mean = moments.mean;
    variant.variance = moments.variance;
    if (control != nullptr && arm != control) {
      absl::Status compared = Compare(query, mean_metric, comparisons, *control, *arm, &variant);
      if (!compared.ok()) return compared;
    }
    result->variants.push_back(std::move(variant));
  }

  if (by_name.size() >= 2) {
    std::vector<int64_t> observed;
    for (const ExperimentArm* arm : by_name) observed.push_back(arm->actors);
    absl::StatusOr<stats::SampleRatioResult> srm =
        stats::SampleRatioMismatch(observed, query.expected_split);
    if (!srm.ok()) return Rejected("expected_split", srm.status());
    result->srm_chi_squared = srm->chi_squared;
    result->srm_p_value = srm->p_value;
    result->sample_ratio_mismatch = srm->mismatch;
  }
  return absl::OkStatus();
}

}  // namespace cohort::analytics
