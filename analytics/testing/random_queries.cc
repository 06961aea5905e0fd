#include "analytics/testing/random_queries.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <optional>
#include <string>

#include "analytics/time/calendar.h"

namespace cohort::analytics::testing {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

const char* const kZones[] = {"UTC", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe",
                              "Asia/Kolkata"};

template <typename T, size_t N>
const T& Pick(std::mt19937& rng, const T (&items)[N]) {
  return items[rng() % N];
}

// A range starting in the dataset's first `start_days` days, from an hour to `max_ms` long.
void RandomRange(std::mt19937& rng, const RandomEventsOptions& dataset, int start_days,
                 int64_t max_ms, QueryScope& scope) {
  scope.from_ms = dataset.start_ms + static_cast<int64_t>(rng() % start_days) * kDay +
                  static_cast<int64_t>(rng() % kDay);
  scope.to_ms = scope.from_ms + kHour + static_cast<int64_t>(rng() % static_cast<uint64_t>(max_ms));
}

// A range from an hour before the data to its middle, up to the dataset's span long.
void RandomRangeOverSpan(std::mt19937& rng, const RandomEventsOptions& dataset, QueryScope& scope) {
  scope.from_ms = dataset.start_ms - kHour + static_cast<int64_t>(rng() % (dataset.span_ms / 2));
  scope.to_ms = scope.from_ms + kHour + static_cast<int64_t>(rng() % dataset.span_ms);
}

QueryScope Scope(const RandomEventsOptions& dataset, IdentityMerge identity) {
  QueryScope scope;
  scope.project = dataset.project;
  scope.identity = identity;
  return scope;
}

void MaybeInactiveView(std::mt19937& rng, QueryScope& scope) {
  if (rng() % 3 == 0) scope.inactive_event_types = {"view"};
}

std::optional<PropertyRef> RandomGroupBy(std::mt19937& rng) {
  using S = PropertyRef::Scope;
  switch (rng() % 7) {
    case 0:
      return std::nullopt;
    case 1:
      return PropertyRef{S::kEvent, "button"};
    case 2:
      return PropertyRef{S::kEvent, "price"};  // numbers and numeric strings: "3" and 3 merge
    case 3:
      return PropertyRef{S::kEvent, "variant"};
    case 4:
      return PropertyRef{S::kUser, "plan"};
    case 5: {
      // country (own values), credits (numbers summed by $add), tier (plain $identify keys)
      static const char* kKeys[] = {"country", "credits", "tier"};
      return PropertyRef{S::kUser, kKeys[rng() % 3]};
    }
    default:
      return PropertyRef{S::kEvent, "absent"};
  }
}

std::vector<std::string> RandomFormulas(std::mt19937& rng, size_t series) {
  static const char* const kOne[] = {"TOTALS(A)/UNIQUES(A)", "TOTALS(A) - 2 * UNIQUES(A)",
                                     "(TOTALS(A) + 1) / (UNIQUES(A) - 1)", "-UNIQUES(A) / 3"};
  static const char* const kMore[] = {"UNIQUES(B)/UNIQUES(A)", "TOTALS(B) / TOTALS(A) * 100",
                                      "(UNIQUES(A) + TOTALS(B)) / (UNIQUES(B) - UNIQUES(A))"};
  std::vector<std::string> formulas;
  for (int i = 0, count = static_cast<int>(rng() % 3); i < count; ++i) {
    formulas.push_back(series >= 2 && rng() % 2 == 0 ? Pick(rng, kMore) : Pick(rng, kOne));
  }
  return formulas;
}

// A random ascending histogram: sometimes none, sometimes whole seconds (lengths hit them
// exactly), sometimes fractions.
std::vector<double> RandomBounds(std::mt19937& rng) {
  switch (rng() % 4) {
    case 0:
      return {};
    case 1:
      return SessionsQuery().length_buckets_s;
    default: {
      std::vector<double> bounds;
      double bound = (rng() % 2) ? 0 : 0.5;
      for (int i = 0, n = 1 + static_cast<int>(rng() % 6); i < n; ++i) {
        bounds.push_back(bound);
        bound += (rng() % 2) ? static_cast<double>(1 + rng() % 7200) : 0.25 * (1 + rng() % 400);
      }
      return bounds;
    }
  }
}

bool StripUserFilters(EventSelector& selector) {
  return std::erase_if(selector.filters, [](const PropertyFilter& filter) {
           return filter.property.scope == PropertyRef::Scope::kUser;
         }) > 0;
}

bool StripUserGroupBy(std::optional<PropertyRef>& group_by) {
  if (!group_by || group_by->scope != PropertyRef::Scope::kUser) return false;
  group_by.reset();
  return true;
}

}  // namespace

std::vector<Event> FunnelEvents(uint32_t seed, RandomEventsOptions& options) {
  if (seed % 2 == 0) {
    options.span_ms = 36 * kHour;
    options.actors = 15;
  }
  return RandomEvents(seed, options);
}

std::vector<Event> SessionsEvents(uint32_t seed, RandomEventsOptions& options) {
  if (seed % 2 == 0) options.span_ms = 36 * kHour;
  std::vector<Event> events = RandomEvents(seed, options);
  if (seed % 2 == 0) {
    const int64_t unit = seed % 4 == 0 ? kMinute : 1000;
    for (Event& e : events) e.time_ms -= e.time_ms % unit;
  }
  return events;
}

std::vector<Event> StickinessEvents(uint32_t seed, RandomEventsOptions& options) {
  options.span_ms = 40 * kDay;
  return RandomEvents(seed, options);
}

std::vector<Event> ExperimentEvents(uint32_t seed, RandomEventsOptions& options) {
  if (seed % 3 == 0) {
    options.actors = 80;
    options.events = 900;
  }
  std::vector<Event> events = RandomEvents(seed, options);
  const int mode = static_cast<int>(seed % 4);
  if (mode == 0) return events;
  std::mt19937 rng(seed * 7919);
  for (Event& e : events) {
    if (e.event_type != "$exposure") continue;
    const std::string& who = e.user_id.empty() ? e.device_id : e.user_id;
    size_t h = std::hash<std::string>()(who);
    if (rng() % 10 == 0) h = rng();  // a stray exposure to another variant
    PropertyValue variant;
    switch (mode) {
      case 1:
        variant = PropertyValue::String(h % 2 ? "control" : "treatment");
        break;
      case 2:
        switch (h % 4) {
          case 0:
            variant = PropertyValue::String("control");
            break;
          case 1:
            variant = PropertyValue::String("treatment");
            break;
          case 2:
            variant = PropertyValue::String("b");
            break;
          default:
            variant = rng() % 2 ? PropertyValue::Number(1) : PropertyValue::String("1");
        }
        break;
      default:
        variant = PropertyValue::String(h % 3 ? "control" : "treatment");
        if (rng() % 5 == 0) {
          e.event_properties.erase("variant");
          continue;
        }
    }
    e.event_properties["variant"] = variant;
  }
  return events;
}

PropertyFilter RandomFilter(std::mt19937& rng) {
  using S = PropertyRef::Scope;
  using V = PropertyValue;
  switch (rng() % 18) {
    case 0:
      return MakeFilter(S::kEvent, "button", FilterOp::kEquals, {V::String("buy")});
    case 1:
      return MakeFilter(S::kEvent, "button", FilterOp::kNotEquals, {V::String("sell")});
    case 2:
      return MakeFilter(S::kEvent, "price", FilterOp::kGreater,
                        {V::Number(static_cast<double>(rng() % 5))});
    case 3:
      return MakeFilter(S::kEvent, "price", FilterOp::kLessOrEqual,
                        {V::Number(static_cast<double>(rng() % 4))});
    case 4:
      return MakeFilter(S::kEvent, "price", FilterOp::kIsSet, {});
    case 5:
      return MakeFilter(S::kEvent, "variant", FilterOp::kContains, {V::String("tr")});
    case 6:  // a numeric string and a number
      return MakeFilter(S::kEvent, "price", FilterOp::kEquals, {V::String("3"), V::Number(2.5)});
    case 7:
      return MakeFilter(S::kEvent, "variant", FilterOp::kIsNotSet, {});
    case 8:
      return MakeFilter(S::kEvent, "button", FilterOp::kNotContains, {V::String("u")});
    case 9:  // compared as a number
      return MakeFilter(S::kEvent, "price", FilterOp::kLess, {V::String("4")});
    case 10:
      return MakeFilter(S::kEvent, "price", FilterOp::kGreaterOrEqual, {V::Number(2)});
    case 11:
      return MakeFilter(S::kEvent, "price", FilterOp::kLess, {V::Number(3)});
    case 12:
      return MakeFilter(S::kUser, "plan", FilterOp::kEquals, {V::String("pro")});
    case 13:
      return MakeFilter(S::kUser, "plan", FilterOp::kIsNotSet, {});
    case 14:
      return MakeFilter(S::kUser, "plan", FilterOp::kNotEquals, {V::String("free")});
    case 15:
      return MakeFilter(S::kUser, "country", FilterOp::kNotEquals, {V::String("CN")});
    case 16:
      switch (rng() % 4) {
        case 0:
          return MakeFilter(S::kUser, "country", FilterOp::kIsSet, {});
        case 1:
          return MakeFilter(S::kUser, "credits", FilterOp::kGreater, {V::Number(0.25)});
        case 2:
          return MakeFilter(S::kUser, "first_plan", FilterOp::kEquals, {V::String("pro")});
        default:
          return MakeFilter(S::kUser, "credits", FilterOp::kIsSet, {});
      }
    default:
      return MakeFilter(S::kUser, "country", FilterOp::kEquals, {V::String("US"), V::String("CN")});
  }
}

SegmentationQuery RandomSegmentationQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                          IdentityMerge identity) {
  static const char* const kTypes[] = {"view",      "click",        "purchase",  "signup",
                                       "$identify", "dify.message", "$exposure", kAnyActiveEvent,
                                       kAnyEvent,   "resent",       "missing"};
  const Interval kIntervals[] = {Interval::kHour, Interval::kDay, Interval::kWeek};
  SegmentationQuery query;
  query.scope = Scope(dataset, identity);
  query.scope.time_zone = Pick(rng, kZones);
  RandomRange(rng, dataset, 4, 6 * kDay, query.scope);
  MaybeInactiveView(rng, query.scope);
  const size_t series = 1 + rng() % 3;
  for (size_t s = 0; s < series; ++s) {
    EventSelector selector{Pick(rng, kTypes), {}};
    int filters = static_cast<int>(rng() % 5);  // 0 (most often) .. 2
    for (filters = filters < 2 ? 0 : filters - 2; filters > 0; --filters) {
      selector.filters.push_back(RandomFilter(rng));
    }
    query.events.push_back(std::move(selector));
  }
  query.metric = rng() % 2 ? SeriesMetric::kTotals : SeriesMetric::kUniques;
  query.interval = Pick(rng, kIntervals);
  query.group_by = RandomGroupBy(rng);
  query.limit = 1 + static_cast<int>(rng() % 3);
  query.formulas = RandomFormulas(rng, series);
  return query;
}

ActiveUsersQuery RandomActiveUsersQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                        IdentityMerge identity) {
  const ActiveUsersMetric kMetrics[] = {ActiveUsersMetric::kActive, ActiveUsersMetric::kNew,
                                        ActiveUsersMetric::kRolling7,
                                        ActiveUsersMetric::kRolling30};
  const Interval kIntervals[] = {Interval::kHour, Interval::kDay, Interval::kWeek,
                                 Interval::kMonth};
  ActiveUsersQuery query;
  query.scope = Scope(dataset, identity);
  query.scope.time_zone = Pick(rng, kZones);
  RandomRange(rng, dataset, 4, 6 * kDay, query.scope);
  query.metric = Pick(rng, kMetrics);
  query.interval = Pick(rng, kIntervals);
  MaybeInactiveView(rng, query.scope);
  return query;
}

StickinessQuery RandomStickinessQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                      IdentityMerge identity) {
  StickinessQuery query;
  query.scope = Scope(dataset, identity);
  query.scope.time_zone = kZones[rng() % 4];
  const int start_days = static_cast<int>(std::max<int64_t>(1, dataset.span_ms / kDay - 5));
  RandomRange(rng, dataset, start_days, 20 * kDay, query.scope);
  MaybeInactiveView(rng, query.scope);
  return query;
}

SessionsQuery RandomSessionsQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                  IdentityMerge identity) {
  const Interval kIntervals[] = {Interval::kHour, Interval::kDay, Interval::kWeek,
                                 Interval::kMonth};
  const int64_t kTimeouts[] = {1000, kMinute, 30 * kMinute, 6 * kHour, kDay};
  SessionsQuery query;
  query.scope = Scope(dataset, identity);
  query.scope.time_zone = Pick(rng, kZones);
  RandomRangeOverSpan(rng, dataset, query.scope);
  query.interval = Pick(rng, kIntervals);
  if (rng() % 4 == 0 && query.scope.to_ms - query.scope.from_ms < 2 * kDay) {
    query.interval = Interval::kMinute;
  }
  query.timeout_ms = Pick(rng, kTimeouts);
  query.length_buckets_s = RandomBounds(rng);
  MaybeInactiveView(rng, query.scope);
  return query;
}

RetentionQuery RandomRetentionQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                    IdentityMerge identity, const std::vector<Event>& events) {
  static const char* const kStartTypes[] = {kAnyActiveEvent, kNewUserEvent, kNewUserEvent, "signup",
                                            "view",          "click",       kAnyEvent};
  static const char* const kReturnTypes[] = {kAnyActiveEvent, kAnyActiveEvent, "view",
                                             "purchase",      "dify.message",  kAnyEvent};
  const auto selector = [&rng](const char* type) {
    EventSelector s{type, {}};
    if (rng() % 3 == 0) {
      s.filters.push_back(RandomFilter(rng));
      if (rng() % 3 == 0) s.filters.push_back(RandomFilter(rng));
    }
    return s;
  };
  RetentionQuery query;
  query.scope = Scope(dataset, identity);
  query.scope.time_zone = Pick(rng, kZones);
  RandomRange(rng, dataset, 5, 5 * kDay, query.scope);
  MaybeInactiveView(rng, query.scope);
  query.start = selector(Pick(rng, kStartTypes));
  query.returned = selector(Pick(rng, kReturnTypes));
  query.mode = static_cast<RetentionMode>(rng() % 3);
  query.days = rng() % 2 ? RetentionDays::kRolling : RetentionDays::kCalendar;
  query.max_day = 1 + static_cast<int>(rng() % 10);
  if (query.mode == RetentionMode::kBracket) {
    int day = 1 + static_cast<int>(rng() % 3);
    for (int b = 1 + static_cast<int>(rng() % 4); b > 0 && day <= 10; --b) {
      int last = day + static_cast<int>(rng() % 3);
      query.brackets.emplace_back(day, last);
      day = last + 1 + static_cast<int>(rng() % 2);
    }
  }
  // As of: well after the data; inside it at a random instant; at a calendar day start (where
  // calendar days end); or an event's time plus whole days (where rolling days end, and a
  // return exactly at as-of).
  switch (rng() % 4) {
    case 0:
      query.as_of_ms = dataset.start_ms + dataset.span_ms + 15 * kDay;
      break;
    case 1:
      query.as_of_ms = query.scope.from_ms + static_cast<int64_t>(rng() % (12 * kDay));
      break;
    case 2: {
      Calendar calendar = *Calendar::Load(query.scope.time_zone);
      query.as_of_ms =
          calendar.DayStart(calendar.Day(query.scope.from_ms) + static_cast<int64_t>(rng() % 12));
      break;
    }
    default:
      query.as_of_ms = events.empty() ? dataset.start_ms
                                      : events[rng() % events.size()].time_ms +
                                            static_cast<int64_t>(rng() % 4) * kDay;
  }
  return query;
}

FunnelQuery RandomFunnelQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                              IdentityMerge identity, FunnelOrder order) {
  const int64_t kWindows[] = {kMinute, 10 * kMinute, kHour, 6 * kHour, kDay, 3 * kDay};
  const PropertyRef kGroupBys[] = {
      {PropertyRef::Scope::kEvent, "button"},  {PropertyRef::Scope::kEvent, "price"},
      {PropertyRef::Scope::kEvent, "variant"}, {PropertyRef::Scope::kUser, "plan"},
      {PropertyRef::Scope::kUser, "country"},  {PropertyRef::Scope::kUser, "credits"}};
  FunnelQuery query;
  query.scope = Scope(dataset, identity);
  RandomRangeOverSpan(rng, dataset, query.scope);
  MaybeInactiveView(rng, query.scope);
  for (int s = 0, n = 2 + static_cast<int>(rng() % 3); s < n; ++s) {
    // The common types more often.
    query.steps.push_back(RandomSelector(
        rng, {"view", "click", "purchase", "signup", "view", "click", kAnyActiveEvent, kAnyEvent,
              "$exposure", "$identify", "dify.message", "resent"}));
  }
  query.window_ms = Pick(rng, kWindows);
  if (rng() % 2) query.window_ms += static_cast<int64_t>(rng() % kHour);
  query.order = order;
  if (rng() % 3 == 0) {
    query.group_by = Pick(rng, kGroupBys);
    query.limit = static_cast<int>(rng() % 4);
  }
  return query;
}

ExperimentQuery RandomExperimentQuery(std::mt19937& rng, const RandomEventsOptions& dataset,
                                      IdentityMerge identity, uint32_t seed) {
  const int64_t kWindows[] = {0, kMinute, kHour, kDay, 3 * kDay, 14 * kDay};
  const double kConfidences[] = {0.9, 0.95, 0.99};
  const double kTau2[] = {0.0001, 0.01, 1, 25};
  ExperimentQuery query;
  query.scope = Scope(dataset, identity);
  if (rng() % 4 == 0) {
    query.scope.from_ms = dataset.start_ms - kHour;
    query.scope.to_ms = dataset.start_ms + dataset.span_ms + kHour;
  } else {
    RandomRangeOverSpan(rng, dataset, query.scope);
  }
  MaybeInactiveView(rng, query.scope);
  if (rng() % 10 == 0) {  // another exposure event and variant property
    query.exposure_event = "click";
    query.variant_property = "button";
    query.control = "buy";
  }
  if (rng() % 8 == 0) query.control = rng() % 2 ? "treatment" : "nobody";
  // Purchase more often.
  query.goal = RandomSelector(
      rng, {"purchase", "purchase", "click", "view", "signup", kAnyActiveEvent, kAnyEvent,
            "$exposure", "resent", "purchase", "dify.message", "$identify"});
  query.window_ms = Pick(rng, kWindows);
  if (rng() % 2) query.window_ms += static_cast<int64_t>(rng() % kDay);
  if (rng() % 2) {
    static const char* const kSums[] = {"price", "price", "price", "button", "variant"};
    query.sum_property = Pick(rng, kSums);
  }
  query.confidence = Pick(rng, kConfidences);
  if (rng() % 4 == 0) {  // sized for the seed's variants, rarely not
    size_t variants = seed % 4 == 2 && query.exposure_event == "$exposure" ? 4 : 2;
    if (rng() % 10 == 0) variants = 5 - variants;
    for (size_t v = 0; v < variants; ++v) {
      query.expected_split.push_back(1 + static_cast<double>(rng() % 3));
    }
  }
  if (rng() % 2) query.msprt_tau2 = Pick(rng, kTau2);
  if (rng() % 40 == 0) query.confidence = 1.5;
  if (rng() % 40 == 0) query.msprt_tau2 = -1;
  if (rng() % 80 == 0) query.scope.time_zone = "Not/AZone";
  return query;
}

bool StripUserProperties(SegmentationQuery& query) {
  bool stripped = StripUserGroupBy(query.group_by);
  for (EventSelector& selector : query.events) stripped |= StripUserFilters(selector);
  return stripped;
}

bool StripUserProperties(RetentionQuery& query) {
  const bool start = StripUserFilters(query.start);
  return StripUserFilters(query.returned) || start;
}

bool StripUserProperties(FunnelQuery& query) {
  bool stripped = StripUserGroupBy(query.group_by);
  for (EventSelector& step : query.steps) stripped |= StripUserFilters(step);
  return stripped;
}

bool StripUserProperties(ExperimentQuery& query) { return StripUserFilters(query.goal); }

}  // namespace cohort::analytics::testing
