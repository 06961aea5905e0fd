// The actor timeline every reference metric reads: the query project's (deduplicated) events,
// grouped by actor after identity resolution, each actor's events in total order, with whether
// each event is activity and the user properties as of it. Built once per query scope.
//
// Decisions (README.md): an event with a user_id belongs to that user; a device-only event
// belongs to the user of the device's earliest event that carries both ids (order: time, then
// insert_id bytes, then user_id bytes), else to "device:<id>". The total order inside an actor is
// (time, insert_id bytes), then device_id and user_id bytes (after dedup these make it total:
// a merged actor may hold a device-only event and a user event with the same insert_id).
//
// Plain values; thread-compatible. Events are borrowed: the vector given to BuildTimelines must
// outlive the Timelines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/model/event.h"
#include "analytics/model/property_value.h"
#include "analytics/model/query.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::reference {

inline constexpr char kIdentifyEvent[] = "$identify";
inline constexpr char kGroupIdentifyEvent[] = "$groupidentify";

struct TimelineEvent {
  const Event* event = nullptr;
  bool active = false;
  // The actor's $identify operations at or before this event folded, then (for events other
  // than $identify) the event's own user_properties over them.
  Properties user_properties;

  int64_t time() const { return event->time_ms; }
};

struct ActorTimeline {
  std::string actor;
  std::vector<TimelineEvent> events;  // total order
};

struct Timelines {
  QueryScope scope;
  Calendar calendar;
  std::vector<ActorTimeline> actors;  // by actor id bytes

  bool InRange(int64_t t_ms) const { return t_ms >= scope.from_ms && t_ms < scope.to_ms; }
};

// Drops later copies of an event: key (project, user_id if non-empty else device_id, insert_id);
// the first in `events` order wins. Keeps the order of the survivors.
std::vector<Event> Deduplicate(std::vector<Event> events);

// The actor id of a user or an anonymous device.
std::string DeviceActor(const std::string& device_id);

// Errors: kInvalidArgument naming "time_zone" when the scope's zone is unknown.
[[nodiscard]] absl::StatusOr<Timelines> BuildTimelines(const std::vector<Event>& deduplicated,
                                                       const QueryScope& scope);

// The value of `ref` on `event` (event property, or user property as of the event); nullptr when
// missing.
const PropertyValue* LookUp(const PropertyRef& ref, const TimelineEvent& event);

// The group-by label of `ref` on `event`: PropertyValue::Label, "(none)" when missing.
std::string GroupLabel(const PropertyRef& ref, const TimelineEvent& event);

// Whether `event` is of the selector's type (kAnyActiveEvent: active; kAnyEvent: any) and passes
// all its filters.
bool Matches(const EventSelector& selector, const TimelineEvent& event);

// Whether the event passes all `filters` (type not checked).
bool PassesFilters(const std::vector<PropertyFilter>& filters, const TimelineEvent& event);

}  // namespace cohort::analytics::reference
