// The metric queries of issue 6, as typed values: what the query API parses from JSON, what every
// engine (the brute-force reference, the embedded store, the ClickHouse backend) answers, and
// what the tests compare. Semantics are analytics.md's; the choices it leaves open are in
// docs/metrics.md. Validation of user input (bad window, too many steps ...) happens when the
// JSON is parsed (query_json.h), so engines receive well-formed queries.
//
// Plain value types; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "analytics/model/property_value.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics {

// ---- Common parts ------------------------------------------------------------------------------

// "_active": any active event (analytics.md, "Activity"); "_all": any event at all.
inline constexpr char kAnyActiveEvent[] = "_active";
inline constexpr char kAnyEvent[] = "_all";
// Retention only: the actor's first-ever active event.
inline constexpr char kNewUserEvent[] = "_new";

struct PropertyRef {
  enum class Scope : uint8_t { kEvent, kUser };
  Scope scope = Scope::kEvent;
  std::string key;  // a top-level key of event_properties / user properties as of the event
  friend bool operator==(const PropertyRef&, const PropertyRef&) = default;
};

enum class FilterOp : uint8_t {
  kEquals,     // the value equals one of `values` (strings as strings, numbers as numbers)
  kNotEquals,  // set and equal to none of `values`, or missing (docs/metrics.md)
  kLess,       // numeric comparisons against values[0]; see NumericValue
  kLessOrEqual,
  kGreater,
  kGreaterOrEqual,
  kContains,     // a string value containing values[0] (a string) as a substring
  kNotContains,  // a string value not containing it; non-strings and missing do not match
  kIsSet,        // present (null counts as present)
  kIsNotSet,     // missing
};

struct PropertyFilter {
  PropertyRef property;
  FilterOp op = FilterOp::kEquals;
  std::vector<PropertyValue> values;
};

// Which events a series, a step or a cohort counts: an event type (or kAnyActiveEvent /
// kAnyEvent) and filters that must all hold.
struct EventSelector {
  std::string event_type;
  std::vector<PropertyFilter> filters;
};

enum class IdentityMerge : uint8_t { kDeviceToUser, kNone };

// What every query carries.
struct QueryScope {
  std::string project;
  int64_t from_ms = 0;  // the query range [from_ms, to_ms)
  int64_t to_ms = 0;
  std::string time_zone = "UTC";  // IANA
  IdentityMerge identity = IdentityMerge::kDeviceToUser;
  // Event types that are not activity besides $identify and $groupidentify.
  std::vector<std::string> inactive_event_types = {"dify.generate_conversation_name"};
};

// ---- Event segmentation
// --------------------------------------------------------------------------

enum class SeriesMetric : uint8_t { kTotals, kUniques };

struct SegmentationQuery {
  QueryScope scope;
  std::vector<EventSelector> events;  // 1..10, named A, B, C ... in formulas
  SeriesMetric metric = SeriesMetric::kTotals;
  Interval interval = Interval::kDay;
  std::optional<PropertyRef> group_by;
  int limit = 10;  // group-by: the top `limit` groups by total over the range, the rest "other"
  // Optional formulas over the series, e.g. "UNIQUES(B)/UNIQUES(A)": +, -, *, /, parentheses,
  // numbers, UNIQUES(X) and TOTALS(X). Computed per bucket (and group) from independent counts;
  // division by zero gives null.
  std::vector<std::string> formulas;
};

// ---- Active users
// --------------------------------------------------------------------------------

enum class ActiveUsersMetric : uint8_t {
  kActive,     // distinct actors with an active event in each bucket of `interval`
  kRolling7,   // per day: distinct actors in the 7 calendar days ending that day
  kRolling30,  // per day: the same over 30 days
  kNew,        // actors whose first-ever active event falls in the bucket
};

struct ActiveUsersQuery {
  QueryScope scope;
  ActiveUsersMetric metric = ActiveUsersMetric::kActive;
  Interval interval = Interval::kDay;  // kActive and kNew; rolling metrics are daily
};

struct StickinessQuery {
  QueryScope scope;  // whole days in the time zone
};

// ---- Sessions
// ------------------------------------------------------------------------------------

struct SessionsQuery {
  QueryScope scope;
  Interval interval = Interval::kDay;
  int64_t timeout_ms = 30 * 60 * 1000;  // the gap that ends an implicit session
  // Upper bounds (seconds, ascending) of the length histogram; a last bucket holds the rest.
  std::vector<double> length_buckets_s = {0, 10, 30, 60, 180, 600, 1800, 3600};
};

// ---- Retention
// -----------------------------------------------------------------------------------

enum class RetentionMode : uint8_t { kNDay, kUnbounded, kBracket };
enum class RetentionDays : uint8_t { kRolling, kCalendar };

struct RetentionQuery {
  QueryScope scope;
  EventSelector start;     // or kAnyActiveEvent / kNewUserEvent
  EventSelector returned;  // or kAnyActiveEvent
  RetentionMode mode = RetentionMode::kNDay;
  RetentionDays days = RetentionDays::kRolling;
  int max_day = 7;  // kNDay / kUnbounded: days 0..max_day
  // kBracket: inclusive day ranges [a, b] with 1 <= a <= b, ascending, not overlapping.
  std::vector<std::pair<int, int>> brackets;
  int64_t as_of_ms = 0;  // which days are complete (the API defaults it to now)
};

// ---- Funnels
// -------------------------------------------------------------------------------------

enum class FunnelOrder : uint8_t { kOrdered, kStrict, kUnordered };

struct FunnelQuery {
  QueryScope scope;
  std::vector<EventSelector> steps;  // 2..10
  int64_t window_ms = 24LL * 3600 * 1000;
  FunnelOrder order = FunnelOrder::kOrdered;
  std::optional<PropertyRef> group_by;  // the value on the matched first-step event
  int limit = 10;                       // top groups by step-1 actors, the rest "other"
};

// ---- Experiments
// ---------------------------------------------------------------------------------

struct ExperimentQuery {
  QueryScope scope;
  std::string exposure_event = "$exposure";
  std::string variant_property = "variant";  // an event property of the exposure
  std::string control = "control";
  // Conversion: the goal event after the actor's first exposure and within `window_ms` of it.
  EventSelector goal;
  int64_t window_ms = 14LL * 24 * 3600 * 1000;
  // Mean metric instead of conversion: the sum of this event property of the goal events in the
  // window (zeros included for actors without any); empty = conversion.
  std::optional<std::string> sum_property;
  double confidence = 0.95;
  std::vector<double> expected_split;  // SRM: weights per variant in name order; empty = equal
  std::optional<double> msprt_tau2;    // always-valid p-values when set
};

// ---- Drill-down
// ----------------------------------------------------------------------------------

// An actor's id: the user_id, or "device:<device_id>" for an anonymous device (analytics.md).
//
// The actors behind one number of a result: the query that produced it and the cell, by
// query type:
//   segmentation  row = index into SegmentationResult::series (event series only, not formulas),
//                 column = bucket index, or -1 for the range total
//   active users  column = bucket index          sessions  column = bucket index (session starters)
//   stickiness    row = week index, column = N-1 (active on exactly N days); row -1: column = day
//                 index, the day's active actors
//   retention     row = cohort row index or -1 for the total; column 0 = the cohort, k >= 1 = the
//                 retained actors of cells[k-1]
//   funnel        row = group index or -1 for all; column = step index (actors reaching it)
//   experiment    row = variant index; column 0 = exposed, 1 = converted (conversion metric)
// Actors come sorted by id (bytes), at most `limit` after `after` (exclusive; "" = from the start).
struct CellRef {
  int row = -1;
  int column = 0;
};

using Query = std::variant<SegmentationQuery, ActiveUsersQuery, StickinessQuery, SessionsQuery,
                           RetentionQuery, FunnelQuery, ExperimentQuery>;

}  // namespace cohort::analytics
