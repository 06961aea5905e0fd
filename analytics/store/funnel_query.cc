#include "analytics/store/funnel_query.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "analytics/model/funnel_progress.h"
#include "analytics/store/activity.h"
#include "analytics/store/actor_scan.h"
#include "analytics/store/event_matcher.h"
#include "analytics/store/segment.h"
#include "analytics/store/selector_type_masks.h"
#include "analytics/store/user_state.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {

absl::StatusOr<FunnelResult> RunFunnel(const FunnelQuery& query, const ActorView& view,
                                       CellCollector* cells, EventAccess access) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return calendar.status();
  const size_t k = query.steps.size();
  if (k == 0 || k > kMaxFunnelSteps) {
    return absl::InvalidArgumentError("steps: a funnel has 1 to 16 steps");
  }
  Activity activity(view, scope);
  std::vector<EventMatcher> matchers;
  bool needs_user_properties = query.group_by && query.group_by->scope == PropertyRef::Scope::kUser;
  for (const EventSelector& step : query.steps) {
    matchers.emplace_back(view, step, activity);
    needs_user_properties |= matchers.back().needs_user_properties();
  }
  // Event-scope group-by: the key's index per segment, and the last lookup's position in its
  // column (the scan reads each segment's events nearly in order).
  std::vector<std::optional<uint32_t>> group_key;
  if (query.group_by && query.group_by->scope == PropertyRef::Scope::kEvent) {
    for (const SegmentPtr& segment : view.segments()) {
      group_key.push_back(segment->FindPropertyKey(false, query.group_by->key));
    }
  }
  std::vector<size_t> group_hint(group_key.size(), 0);
  absl::flat_hash_map<std::string, int32_t> label_ids;
  std::vector<std::string> labels;
  auto label_id = [&](const PropertyValue* value) {
    std::string text = value == nullptr ? kNoneGroup : value->Label();
    auto [it, inserted] = label_ids.try_emplace(text, static_cast<int32_t>(labels.size()));
    if (inserted) labels.push_back(std::move(text));
    return it->second;
  };

  const SelectorTypeMasks type_masks(view, matchers);
  // Only strict funnels read the events that match no step (an active one between steps).
  const bool keep_every_event = query.order == FunnelOrder::kStrict;

  FunnelProgressScan scan(query);
  std::optional<UserState> user;  // only when something reads user properties
  if (needs_user_properties) user.emplace(view);
  FunnelActorEvents events;
  std::vector<FunnelEntry> entries;
  std::vector<int64_t> gaps;
  // One event of the actor: its time, its event type id, and `event()` giving its EventRef (read
  // only when a filter or the group-by needs the segment); the user properties as of it (empty
  // when nothing reads them). Always true: every event is read (actor_scan.h).
  const auto add = [&](int64_t time, uint32_t type, auto&& event, const Properties* properties) {
    const uint32_t candidates = type_masks.TypeMask(type);
    uint32_t steps = candidates & ~type_masks.filtered();
    std::optional<EventRef> ref;
    for (uint32_t rest = candidates & type_masks.filtered(); rest != 0; rest &= rest - 1) {
      const size_t s = static_cast<size_t>(std::countr_zero(rest));
      const EventMatcher& matcher = matchers[s];
      if (!ref) ref = event();
      if (matcher.Matches(*ref, matcher.needs_user_properties() ? properties : nullptr)) {
        steps |= 1u << s;
      }
    }
    if (steps == 0 && !keep_every_event) return true;
    int32_t label = -1;
    if ((steps & 1) && query.group_by) {
      if (query.group_by->scope == PropertyRef::Scope::kUser) {
        auto it = properties->find(query.group_by->key);
        label = label_id(it == properties->end() ? nullptr : &it->second);
      } else {
        if (!ref) ref = event();
        const std::optional<uint32_t>& key = group_key[ref->segment_number];
        label = label_id(key ? ref->segment->PropertyNear(false, *key, ref->index,
                                                          &group_hint[ref->segment_number])
                             : nullptr);
      }
    }
    events.time.push_back(time);
    events.steps.push_back(steps);
    events.active.push_back(activity.active_type(type));
    events.label.push_back(label);
    return true;
  };
  // The actor's best progress once its events are in.
  const auto end_actor = [&](size_t a) {
    if (events.size() != 0) {
      const FunnelProgress& progress = scan.Best(events);
      if (!progress.times.empty()) {
        entries.push_back(
            {static_cast<uint32_t>(a), progress.times.size(), gaps.size(), progress.label});
        for (size_t j = 1; j < progress.times.size(); ++j) {
          gaps.push_back(progress.times[j] - progress.times[j - 1]);
        }
      }
    }
    events.Clear();
  };
  std::vector<uint8_t> wanted(view.event_types().size());
  for (uint32_t t = 0; t < wanted.size(); ++t) {
    wanted[t] = keep_every_event || type_masks.TypeMask(t) != 0;
  }
  ScanActors(view, access, wanted, user ? &*user : nullptr, add, end_actor);

  // Drill-down: row -1 is every actor, row g the result's group g; column j = reached step j.
  auto collect = [&](int row, const std::vector<const FunnelEntry*>& members) {
    for (const FunnelEntry* entry : members) {
      for (size_t j = 0; j < entry->reach; ++j) cells->Add(row, static_cast<int>(j), entry->actor);
    }
  };
  return BuildFunnelResult(query, entries, gaps, labels,
                           cells == nullptr ? nullptr : std::function(collect));
}

}  // namespace cohort::analytics::store
