#include "analytics/reference/experiments.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/stats/bonferroni.h"
#include "analytics/stats/msprt.h"
#include "analytics/stats/proportion_ztest.h"
#include "analytics/stats/sample_moments.h"
#include "analytics/stats/sample_ratio.h"
#include "analytics/stats/welch_ttest.h"

namespace cohort::analytics::reference {
namespace {

struct Arm {
  std::string name;
  ActorSet exposed;
  ActorSet converted;
  double sum = 0;
  double sum_of_squares = 0;
};

absl::Status Named(const char* field, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", std::string(status.message())));
}

stats::SampleMoments MomentsOf(const Arm& arm, bool mean_metric) {
  int64_t n = static_cast<int64_t>(arm.exposed.size());
  double sum = mean_metric ? arm.sum : static_cast<double>(arm.converted.size());
  double squares = mean_metric ? arm.sum_of_squares : sum;
  stats::SampleMoments moments{n, n > 0 ? sum / static_cast<double>(n) : 0, 0};
  if (n >= 2) {
    absl::StatusOr<stats::SampleMoments> exact = stats::SampleMomentsFromSums(n, sum, squares);
    if (exact.ok()) moments = *exact;
  }
  return moments;
}

}  // namespace

absl::StatusOr<Answer<ExperimentResult>> AnalyzeExperiment(const ExperimentQuery& query,
                                                           const Timelines& timelines) {
  const bool mean_metric = query.sum_property.has_value();
  std::map<std::string, Arm> arms;  // by name
  Answer<ExperimentResult> answer;
  for (const ActorTimeline& actor : timelines.actors) {
    const auto& events = actor.events;
    std::optional<size_t> first;
    std::set<std::string> variants;
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = *events[i].event;
      if (e.event_type != query.exposure_event || !timelines.InRange(e.time_ms)) continue;
      auto it = e.event_properties.find(query.variant_property);
      if (it == e.event_properties.end()) continue;
      if (!first) first = i;
      variants.insert(it->second.Label());
    }
    if (!first) continue;
    if (variants.size() > 1) {
      ++answer.result.multiple_exposures;
      continue;
    }
    Arm& arm = arms[*variants.begin()];
    arm.name = *variants.begin();
    arm.exposed.insert(actor.actor);
    int64_t deadline = events[*first].time() + query.window_ms;
    bool converted = false;
    double value = 0;
    for (size_t i = *first + 1; i < events.size() && events[i].time() <= deadline; ++i) {
      if (!timelines.InRange(events[i].time()) || !Matches(query.goal, events[i])) continue;
      converted = true;
      if (mean_metric) {
        auto it = events[i].event->event_properties.find(*query.sum_property);
        if (it != events[i].event->event_properties.end()) {
          value += NumericValue(it->second).value_or(0);
        }
      }
    }
    if (converted) arm.converted.insert(actor.actor);
    arm.sum += value;
    arm.sum_of_squares += value * value;
  }

  // The control first, then by name.
  std::vector<const Arm*> ordered;
  if (auto it = arms.find(query.control); it != arms.end()) ordered.push_back(&it->second);
  for (const auto& [name, arm] : arms) {
    if (name != query.control) ordered.push_back(&arm);
  }
  const Arm* control = arms.contains(query.control) ? ordered.front() : nullptr;
  int64_t comparisons = static_cast<int64_t>(ordered.size()) - 1;

  for (size_t v = 0; v < ordered.size(); ++v) {
    const Arm& arm = *ordered[v];
    VariantResult result;
    result.variant = arm.name;
    result.actors = static_cast<int64_t>(arm.exposed.size());
    result.conversions = static_cast<int64_t>(arm.converted.size());
    stats::SampleMoments moments = MomentsOf(arm, mean_metric);
    result.mean = moments.mean;
    result.variance = moments.variance;
    answer.cells[{static_cast<int>(v), 0}] = arm.exposed;
    answer.cells[{static_cast<int>(v), 1}] = arm.converted;
    if (control != nullptr && &arm != control) {
      std::optional<stats::DifferenceEstimate> estimate;
      if (!mean_metric) {
        stats::ProportionCounts x1{result.conversions, result.actors};
        stats::ProportionCounts x0{static_cast<int64_t>(control->converted.size()),
                                   static_cast<int64_t>(control->exposed.size())};
        if (x0.n > 0) {
          absl::StatusOr<stats::ProportionTestResult> test =
              stats::TwoProportionZTest(x0, x1, query.confidence);
          if (!test.ok()) return Named("confidence", test.status());
          result.p_value = test->p_value;
          result.degenerate = test->degenerate;
          result.difference = test->difference;
          result.difference_low = test->difference_ci.lower;
          result.difference_high = test->difference_ci.upper;
          if (test->relative_lift) {
            result.lift = *test->relative_lift;
            result.lift_low = test->relative_lift_ci->lower;
            result.lift_high = test->relative_lift_ci->upper;
          }
          absl::StatusOr<stats::DifferenceEstimate> d = stats::DifferenceOfProportions(x0, x1);
          if (d.ok()) estimate = *d;
        }
      } else {
        stats::SampleMoments m0 = MomentsOf(*control, mean_metric);
        if (m0.n >= 2 && moments.n >= 2) {
          absl::StatusOr<stats::WelchTestResult> test =
              stats::WelchTTest(m0, moments, query.confidence);
          if (!test.ok()) return Named("confidence", test.status());
          result.p_value = test->p_value;
          result.degenerate = test->degenerate;
          result.difference = test->difference;
          result.difference_low = test->difference_ci.lower;
          result.difference_high = test->difference_ci.upper;
          if (test->relative_lift) {
            result.lift = *test->relative_lift;
            result.lift_low = test->relative_lift_ci->lower;
            result.lift_high = test->relative_lift_ci->upper;
          }
          absl::StatusOr<stats::DifferenceEstimate> d = stats::DifferenceOfMeans(m0, moments);
          if (d.ok()) estimate = *d;
        }
      }
      if (result.p_value && comparisons > 1) {
        absl::StatusOr<double> adjusted = stats::BonferroniAdjust(*result.p_value, comparisons);
        if (adjusted.ok()) result.p_value_adjusted = *adjusted;
      }
      if (query.msprt_tau2 && estimate) {
        absl::StatusOr<stats::MixtureSprtLook> look =
            stats::MixtureSprt(*estimate, *query.msprt_tau2);
        if (!look.ok()) return Named("msprt_tau2", look.status());
        result.always_valid_p_value = look->p_value;
      }
    }
    answer.result.variants.push_back(std::move(result));
  }

  if (arms.size() >= 2) {
    std::vector<int64_t> observed;
    for (const auto& [name, arm] : arms)
      observed.push_back(static_cast<int64_t>(arm.exposed.size()));
    absl::StatusOr<stats::SampleRatioResult> srm =
        stats::SampleRatioMismatch(observed, query.expected_split);
    if (!srm.ok()) return Named("expected_split", srm.status());
    answer.result.srm_chi_squared = srm->chi_squared;
    answer.result.srm_p_value = srm->p_value;
    answer.result.sample_ratio_mismatch = srm->mismatch;
  }
  return answer;
}

}  // namespace cohort::analytics::reference
