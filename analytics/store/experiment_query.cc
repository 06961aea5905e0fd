#include "analytics/store/experiment_query.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/stats/bonferroni.h"
#include "analytics/stats/msprt.h"
#include "analytics/stats/proportion_ztest.h"
#include "analytics/stats/sample_moments.h"
#include "analytics/stats/sample_ratio.h"
#include "analytics/stats/welch_ttest.h"
#include "analytics/store/activity.h"
#include "analytics/store/event_matcher.h"
#include "analytics/store/segment.h"
#include "analytics/store/user_state.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

// One variant's tallies over its (single-variant) actors.
struct Arm {
  std::string name;
  int64_t actors = 0;
  int64_t conversions = 0;
  double sum = 0;             // Σ per-actor values, actor-id order (mean metric)
  double sum_of_squares = 0;  // Σ squares, same order
};

// What one actor's scan found.
struct ActorOutcome {
  std::optional<int64_t> first_exposure_ms;
  int32_t variant = -1;  // label id of the first exposure's variant
  bool multiple = false;
  bool converted = false;
  double value = 0;
};

absl::Status Rejected(const char* field, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", std::string(status.message())));
}

// n, mean and sample variance of an arm's per-actor values: converted-or-not (0/1) for a
// conversion metric, the sums for a mean metric. The variance stays 0 below two actors or when
// the sums are rejected.
stats::SampleMoments MomentsOf(const Arm& arm, bool mean_metric) {
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
                     const Arm& control, const Arm& arm, VariantResult* out) {
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
  if (comparisons > 1) {
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

absl::StatusOr<ExperimentResult> RunExperiment(const ExperimentQuery& query, const ActorView& view,
                                               CellCollector* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return Rejected("time_zone", calendar.status());
  const bool mean_metric = query.sum_property.has_value();
  Activity activity(view, scope);
  EventMatcher goal(view, query.goal, activity);

  // Per segment: the exposure's event type code and the property keys read.
  const size_t segment_count = view.segments().size();
  std::vector<std::optional<uint32_t>> exposure_code(segment_count);
  std::vector<std::optional<uint32_t>> variant_key(segment_count);
  std::vector<std::optional<uint32_t>> sum_key(segment_count);
  for (size_t s = 0; s < segment_count; ++s) {
    const Segment& segment = *view.segments()[s];
    exposure_code[s] = segment.FindEventType(query.exposure_event);
    variant_key[s] = segment.FindPropertyKey(false, query.variant_property);
    if (mean_metric) sum_key[s] = segment.FindPropertyKey(false, *query.sum_property);
  }

  // Variant labels by id; a value (a dictionary entry of one segment) maps to its label's id.
  std::vector<Arm> arms;
  absl::flat_hash_map<std::string, int32_t> label_ids;
  absl::flat_hash_map<const PropertyValue*, int32_t> value_labels;
  auto variant_of = [&](const PropertyValue* value) {
    auto cached = value_labels.find(value);
    if (cached != value_labels.end()) return cached->second;
    std::string label = value->Label();
    auto [it, inserted] = label_ids.try_emplace(label, static_cast<int32_t>(arms.size()));
    if (inserted) arms.push_back(Arm{std::move(label)});
    value_labels.emplace(value, it->second);
    return it->second;
  };

  ExperimentResult result;
  UserState user;
  for (size_t a = 0; a < view.actor_count(); ++a) {
    ActorOutcome actor;
    user.Reset();
    view.ForEachEvent(a, [&](const EventRef& ref) {
      const Properties* properties = goal.needs_user_properties() ? &user.Advance(ref) : nullptr;
      if (actor.multiple) return;
      const int64_t t = ref.segment->time_ms(ref.index);
      const bool in_range = t >= scope.from_ms && t < scope.to_ms;
      const uint32_t s = ref.segment_number;
      if (in_range && exposure_code[s] &&
          ref.segment->event_type_code(ref.index) == *exposure_code[s] && variant_key[s]) {
        const PropertyValue* value = ref.segment->Property(false, *variant_key[s], ref.index);
        if (value != nullptr) {
          const int32_t variant = variant_of(value);
          if (!actor.first_exposure_ms) {
            actor.first_exposure_ms = t;
            actor.variant = variant;
            return;  // goal events come strictly after the first exposure
          }
          if (variant != actor.variant) {
            actor.multiple = true;
            return;
          }
        }
      }
      if (!actor.first_exposure_ms || !in_range || t > *actor.first_exposure_ms + query.window_ms) {
        return;
      }
      if (!goal.Matches(ref, properties)) return;
      actor.converted = true;
      if (mean_metric && sum_key[s]) {
        const PropertyValue* value = ref.segment->Property(false, *sum_key[s], ref.index);
        if (value != nullptr) actor.value += NumericValue(*value).value_or(0);
      }
    });
    if (!actor.first_exposure_ms) continue;
    if (actor.multiple) {
      ++result.multiple_exposures;
      continue;
    }
    Arm& arm = arms[actor.variant];
    ++arm.actors;
    if (actor.converted) ++arm.conversions;
    // Drill-down rows: the variant's label id for now (mapped to result rows below).
    if (cells != nullptr) {
      cells->Add(actor.variant, 0, static_cast<uint32_t>(a));
      if (actor.converted) cells->Add(actor.variant, 1, static_cast<uint32_t>(a));
    }
    arm.sum += actor.value;
    arm.sum_of_squares += actor.value * actor.value;
  }

  // Variants with actors by name (a label seen only on multiple-exposure actors has none).
  std::vector<const Arm*> by_name;
  for (const Arm& arm : arms) {
    if (arm.actors > 0) by_name.push_back(&arm);
  }
  std::sort(by_name.begin(), by_name.end(),
            [](const Arm* x, const Arm* y) { return x->name < y->name; });
  const Arm* control = nullptr;
  std::vector<const Arm*> ordered;
  for (const Arm* arm : by_name) {
    if (arm->name == query.control) control = arm;
  }
  if (control != nullptr) ordered.push_back(control);
  for (const Arm* arm : by_name) {
    if (arm != control) ordered.push_back(arm);
  }
  const int64_t comparisons = static_cast<int64_t>(ordered.size()) - 1;
  if (cells != nullptr) {
    cells->MapRows([&](int label) -> std::optional<int> {
      for (size_t v = 0; v < ordered.size(); ++v) {
        if (ordered[v] == &arms[static_cast<size_t>(label)]) return static_cast<int>(v);
      }
      return std::nullopt;
    });
  }

  for (const Arm* arm : ordered) {
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
    result.variants.push_back(std::move(variant));
  }

  if (by_name.size() >= 2) {
    std::vector<int64_t> observed;
    for (const Arm* arm : by_name) observed.push_back(arm->actors);
    absl::StatusOr<stats::SampleRatioResult> srm =
        stats::SampleRatioMismatch(observed, query.expected_split);
    if (!srm.ok()) return Rejected("expected_split", srm.status());
    result.srm_chi_squared = srm->chi_squared;
    result.srm_p_value = srm->p_value;
    result.sample_ratio_mismatch = srm->mismatch;
  }
  return result;
}

}  // namespace cohort::analytics::store
