#include "analytics/reference/timeline.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "analytics/model/filter.h"
#include "analytics/model/result.h"
#include "analytics/reference/user_properties.h"

namespace cohort::analytics::reference {
namespace {

bool InTotalOrder(const Event* a, const Event* b) {
  return std::tie(a->time_ms, a->insert_id, a->device_id, a->user_id) <
         std::tie(b->time_ms, b->insert_id, b->device_id, b->user_id);
}

// device_id → the user_id of the device's earliest event that has both.
absl::flat_hash_map<std::string, std::string> DeviceUsers(const std::vector<const Event*>& events) {
  absl::flat_hash_map<std::string, const Event*> earliest;
  for (const Event* e : events) {
    if (e->device_id.empty() || e->user_id.empty()) continue;
    auto [it, inserted] = earliest.try_emplace(e->device_id, e);
    const Event* current = it->second;
    if (!inserted && std::tie(e->time_ms, e->insert_id, e->user_id) <
                         std::tie(current->time_ms, current->insert_id, current->user_id)) {
      it->second = e;
    }
  }
  absl::flat_hash_map<std::string, std::string> users;
  for (const auto& [device, e] : earliest) users[device] = e->user_id;
  return users;
}

}  // namespace

std::vector<Event> Deduplicate(std::vector<Event> events) {
  // The key is the event's storage group — its user_id, else its device — and its insert_id
  // (docs/metrics.md, "Dedup key").
  std::set<std::tuple<std::string, bool, std::string, std::string>> seen;
  std::vector<Event> kept;
  for (Event& e : events) {
    bool by_user = !e.user_id.empty();
    const std::string& who = by_user ? e.user_id : e.device_id;
    if (seen.emplace(e.project, by_user, who, e.insert_id).second) kept.push_back(std::move(e));
  }
  return kept;
}

std::string DeviceActor(const std::string& device_id) { return absl::StrCat("device:", device_id); }

absl::StatusOr<Timelines> BuildTimelines(const std::vector<Event>& deduplicated,
                                         const QueryScope& scope) {
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("time_zone: ", std::string(calendar.status().message())));
  }
  std::vector<const Event*> events;
  for (const Event& e : deduplicated) {
    if (e.project == scope.project) events.push_back(&e);
  }
  absl::flat_hash_map<std::string, std::string> device_users;
  if (scope.identity == IdentityMerge::kDeviceToUser) device_users = DeviceUsers(events);

  std::map<std::string, std::vector<const Event*>> by_actor;
  for (const Event* e : events) {
    std::string actor;
    if (!e->user_id.empty()) {
      actor = e->user_id;
    } else if (auto it = device_users.find(e->device_id); it != device_users.end()) {
      actor = it->second;
    } else {
      actor = DeviceActor(e->device_id);
    }
    by_actor[actor].push_back(e);
  }

  absl::flat_hash_set<std::string> inactive(scope.inactive_event_types.begin(),
                                            scope.inactive_event_types.end());
  inactive.insert(kIdentifyEvent);
  inactive.insert(kGroupIdentifyEvent);

  Timelines timelines{scope, *calendar, {}};
  for (auto& [actor, actor_events] : by_actor) {
    std::sort(actor_events.begin(), actor_events.end(), InTotalOrder);
    ActorTimeline timeline{actor, {}};
    Properties state;
    for (const Event* e : actor_events) {
      TimelineEvent te{e, !inactive.contains(e->event_type), {}};
      if (e->event_type == kIdentifyEvent) {
        ApplyIdentify(e->user_properties, state);
        te.user_properties = state;
      } else {
        te.user_properties = state;
        for (const auto& [key, value] : e->user_properties) te.user_properties[key] = value;
      }
      timeline.events.push_back(std::move(te));
    }
    timelines.actors.push_back(std::move(timeline));
  }
  return timelines;
}

const PropertyValue* LookUp(const PropertyRef& ref, const TimelineEvent& event) {
  const Properties& properties = ref.scope == PropertyRef::Scope::kEvent
                                     ? event.event->event_properties
                                     : event.user_properties;
  auto it = properties.find(ref.key);
  return it == properties.end() ? nullptr : &it->second;
}

std::string GroupLabel(const PropertyRef& ref, const TimelineEvent& event) {
  const PropertyValue* value = LookUp(ref, event);
  return value == nullptr ? kNoneGroup : value->Label();
}

bool PassesFilters(const std::vector<PropertyFilter>& filters, const TimelineEvent& event) {
  for (const PropertyFilter& filter : filters) {
    if (!FilterMatches(filter, LookUp(filter.property, event))) return false;
  }
  return true;
}

bool Matches(const EventSelector& selector, const TimelineEvent& event) {
  bool type_matches =
      selector.event_type == kAnyEvent ||
      (selector.event_type == kAnyActiveEvent ? event.active
                                              : selector.event_type == event.event->event_type);
  return type_matches && PassesFilters(selector.filters, event);
}

}  // namespace cohort::analytics::reference
