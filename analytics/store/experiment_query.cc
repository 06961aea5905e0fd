#include "analytics/store/experiment_query.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/model/experiment_arms.h"
#include "analytics/store/activity.h"
#include "analytics/store/event_matcher.h"
#include "analytics/store/segment.h"
#include "analytics/store/user_state.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

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
  std::vector<ExperimentArm> arms;
  absl::flat_hash_map<std::string, int32_t> label_ids;
  absl::flat_hash_map<const PropertyValue*, int32_t> value_labels;
  auto variant_of = [&](const PropertyValue* value) {
    auto cached = value_labels.find(value);
    if (cached != value_labels.end()) return cached->second;
    std::string label = value->Label();
    auto [it, inserted] = label_ids.try_emplace(label, static_cast<int32_t>(arms.size()));
    if (inserted) arms.push_back(ExperimentArm{std::move(label)});
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
    ExperimentArm& arm = arms[actor.variant];
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
  std::vector<const ExperimentArm*> by_name;
  for (const ExperimentArm& arm : arms) {
    if (arm.actors > 0) by_name.push_back(&arm);
  }
  std::sort(by_name.begin(), by_name.end(),
            [](const ExperimentArm* x, const ExperimentArm* y) { return x->name < y->name; });
  const std::vector<const ExperimentArm*> ordered = ExperimentArmsInResultOrder(query, by_name);
  if (cells != nullptr) {
    cells->MapRows([&](int label) -> std::optional<int> {
      for (size_t v = 0; v < ordered.size(); ++v) {
        if (ordered[v] == &arms[static_cast<size_t>(label)]) return static_cast<int>(v);
      }
      return std::nullopt;
    });
  }

  absl::Status summarized = SummarizeExperimentArms(query, by_name, &result);
  if (!summarized.ok()) return summarized;
  return result;
}

}  // namespace cohort::analytics::store
