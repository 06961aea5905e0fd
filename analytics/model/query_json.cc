#include "analytics/model/query_json.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "analytics/model/formula.h"
#include "nlohmann/json.hpp"

namespace cohort::analytics {
namespace {

using json = nlohmann::json;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

absl::Status FieldError(const std::string& path, std::string_view problem) {
  absl::Status status = absl::InvalidArgumentError(
      path.empty() ? std::string(problem) : absl::StrCat(path, ": ", std::string(problem)));
  status.SetPayload(kQueryFieldPayload, absl::Cord(path));
  return status;
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", std::string(key));
}

std::string Index(const std::string& path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

// One JSON object being read: typed getters that name the field on error, and a final check
// that every key present was one the reader knows.
class ObjectReader {
 public:
  ObjectReader(const json& value, std::string path) : value_(value), path_(std::move(path)) {}

  absl::Status CheckObject() const {
    return value_.is_object() ? absl::OkStatus() : FieldError(path_, "must be a JSON object");
  }

  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const { return Join(path_, key); }

  // The member `key`, or nullptr when absent. Marks the key known.
  const json* Find(std::string_view key) {
    known_.insert(std::string(key));
    auto it = value_.find(std::string(key));
    return it == value_.end() ? nullptr : &*it;
  }

  absl::Status String(std::string_view key, std::string* out, bool required = false) {
    const json* v = Find(key);
    if (v == nullptr) return required ? FieldError(PathOf(key), "is required") : absl::OkStatus();
    if (!v->is_string()) return FieldError(PathOf(key), "must be a string");
    *out = v->get<std::string>();
    return absl::OkStatus();
  }

  absl::Status Integer(std::string_view key, int64_t* out, int64_t min, int64_t max) {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number_integer()) return FieldError(PathOf(key), "must be an integer");
    int64_t n = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX}
                    ? INT64_MAX
                    : v->get<int64_t>();
    if (n < min || n > max) {
      return FieldError(PathOf(key), absl::StrCat("must be between ", min, " and ", max));
    }
    *out = n;
    return absl::OkStatus();
  }

  absl::Status Int(std::string_view key, int* out, int min, int max) {
    int64_t n = *out;
    absl::Status s = Integer(key, &n, min, max);
    *out = static_cast<int>(n);
    return s;
  }

  absl::Status Double(std::string_view key, double* out, double min_exclusive,
                      double max_exclusive) {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number()) return FieldError(PathOf(key), "must be a number");
    double d = v->get<double>();
    if (!(d > min_exclusive && d < max_exclusive)) {
      return FieldError(PathOf(key), absl::StrCat("must be greater than ", min_exclusive,
                                                  " and less than ", max_exclusive));
    }
    *out = d;
    return absl::OkStatus();
  }

  // A string that must be one of `names` (mapped to values).
  template <typename T>
  absl::Status Enum(std::string_view key, const std::vector<std::pair<const char*, T>>& names,
                    T* out) {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    std::vector<std::string> choices;
    for (const auto& [name, value] : names) {
      if (v->is_string() && v->get<std::string>() == name) {
        *out = value;
        return absl::OkStatus();
      }
      choices.push_back(name);
    }
    return FieldError(PathOf(key), absl::StrCat("must be one of ", absl::StrJoin(choices, ", ")));
  }

  absl::Status CheckNoUnknownKeys() const {
    for (auto it = value_.begin(); it != value_.end(); ++it) {
      if (!known_.contains(it.key())) return FieldError(PathOf(it.key()), "is not a known field");
    }
    return absl::OkStatus();
  }

 private:
  const json& value_;
  std::string path_;
  absl::flat_hash_set<std::string> known_;
};

#define RETURN_IF_ERROR(expr)          \
  do {                                 \
    absl::Status _status = (expr);     \
    if (!_status.ok()) return _status; \
  } while (false)

absl::StatusOr<int64_t> ParseTime(const json& v, const std::string& path) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    absl::Time t;
    std::string error;
    if (absl::ParseTime(absl::RFC3339_full, v.get<std::string>(), &t, &error)) {
      return absl::ToUnixMillis(t);
    }
  }
  return FieldError(path, "must be an RFC 3339 time (\"2026-11-01T00:00:00Z\") or epoch ms");
}

absl::StatusOr<PropertyValue> ParseValue(const json& v, const std::string& path) {
  switch (v.type()) {
    case json::value_t::null:
      return PropertyValue::Null();
    case json::value_t::boolean:
      return PropertyValue::Bool(v.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return PropertyValue::Number(v.get<double>());
    case json::value_t::string:
      return PropertyValue::String(v.get<std::string>());
    default:
      return FieldError(path, "must be a string, number, boolean or null");
  }
}

absl::Status ParsePropertyRef(ObjectReader& r, PropertyRef* ref) {
  RETURN_IF_ERROR(r.String("property", &ref->key, /*required=*/true));
  if (ref->key.empty()) return FieldError(r.PathOf("property"), "must not be empty");
  return r.Enum<PropertyRef::Scope>(
      "scope", {{"event", PropertyRef::Scope::kEvent}, {"user", PropertyRef::Scope::kUser}},
      &ref->scope);
}

absl::StatusOr<PropertyRef> ParseGroupBy(const json& v, const std::string& path) {
  ObjectReader r(v, path);
  RETURN_IF_ERROR(r.CheckObject());
  PropertyRef ref;
  RETURN_IF_ERROR(ParsePropertyRef(r, &ref));
  RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  return ref;
}

absl::StatusOr<PropertyFilter> ParseFilter(const json& v, const std::string& path,
                                           const QueryLimits& limits) {
  ObjectReader r(v, path);
  RETURN_IF_ERROR(r.CheckObject());
  PropertyFilter filter;
  RETURN_IF_ERROR(ParsePropertyRef(r, &filter.property));
  if (r.Find("op") == nullptr) return FieldError(r.PathOf("op"), "is required");
  RETURN_IF_ERROR(r.Enum<FilterOp>("op",
                                   {{"equals", FilterOp::kEquals},
                                    {"notEquals", FilterOp::kNotEquals},
                                    {"lt", FilterOp::kLess},
                                    {"lte", FilterOp::kLessOrEqual},
                                    {"gt", FilterOp::kGreater},
                                    {"gte", FilterOp::kGreaterOrEqual},
                                    {"contains", FilterOp::kContains},
                                    {"notContains", FilterOp::kNotContains},
                                    {"isSet", FilterOp::kIsSet},
                                    {"isNotSet", FilterOp::kIsNotSet}},
                                   &filter.op));
  const json* values = r.Find("values");
  std::string values_path = r.PathOf("values");
  bool wants_values = filter.op != FilterOp::kIsSet && filter.op != FilterOp::kIsNotSet;
  bool single = filter.op != FilterOp::kEquals && filter.op != FilterOp::kNotEquals;
  if (values != nullptr) {
    if (!values->is_array()) return FieldError(values_path, "must be an array");
    if (!wants_values && !values->empty()) {
      return FieldError(values_path, "must be empty for isSet and isNotSet");
    }
    if (static_cast<int>(values->size()) > limits.max_filter_values) {
      return FieldError(values_path,
                        absl::StrCat("has more than ", limits.max_filter_values, " values"));
    }
    for (size_t i = 0; i < values->size(); ++i) {
      absl::StatusOr<PropertyValue> value = ParseValue((*values)[i], Index(values_path, i));
      if (!value.ok()) return value.status();
      filter.values.push_back(*std::move(value));
    }
  }
  if (wants_values && filter.values.empty()) return FieldError(values_path, "needs a value");
  if (single && filter.values.size() > 1) {
    return FieldError(values_path, "takes exactly one value for this op");
  }
  if ((filter.op == FilterOp::kContains || filter.op == FilterOp::kNotContains) &&
      filter.values[0].kind() != PropertyValue::Kind::kString) {
    return FieldError(Index(values_path, 0), "must be a string");
  }
  if ((filter.op == FilterOp::kLess || filter.op == FilterOp::kLessOrEqual ||
       filter.op == FilterOp::kGreater || filter.op == FilterOp::kGreaterOrEqual) &&
      !NumericValue(filter.values[0])) {
    return FieldError(Index(values_path, 0), "must be a number");
  }
  RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  return filter;
}

// `specials`: which of _active / _all / _new the selector may name.
absl::StatusOr<EventSelector> ParseSelector(const json& v, const std::string& path,
                                            const QueryLimits& limits, bool allow_new) {
  ObjectReader r(v, path);
  RETURN_IF_ERROR(r.CheckObject());
  EventSelector selector;
  RETURN_IF_ERROR(r.String("eventType", &selector.event_type, /*required=*/true));
  if (selector.event_type.empty()) return FieldError(r.PathOf("eventType"), "must not be empty");
  if (selector.event_type == kNewUserEvent && !allow_new) {
    return FieldError(r.PathOf("eventType"), "_new is only a retention start event");
  }
  if (const json* filters = r.Find("filters"); filters != nullptr) {
    std::string filters_path = r.PathOf("filters");
    if (!filters->is_array()) return FieldError(filters_path, "must be an array");
    if (static_cast<int>(filters->size()) > limits.max_filters) {
      return FieldError(filters_path,
                        absl::StrCat("has more than ", limits.max_filters, " filters"));
    }
    for (size_t i = 0; i < filters->size(); ++i) {
      absl::StatusOr<PropertyFilter> filter =
          ParseFilter((*filters)[i], Index(filters_path, i), limits);
      if (!filter.ok()) return filter.status();
      selector.filters.push_back(*std::move(filter));
    }
  }
  if (selector.event_type == kNewUserEvent && !selector.filters.empty()) {
    return FieldError(r.PathOf("filters"), "_new takes no filters");
  }
  RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  return selector;
}

absl::StatusOr<std::vector<EventSelector>> ParseSelectors(ObjectReader& r, std::string_view key,
                                                          int min, int max,
                                                          const QueryLimits& limits) {
  const json* list = r.Find(key);
  std::string path = r.PathOf(key);
  if (list == nullptr) return FieldError(path, "is required");
  if (!list->is_array()) return FieldError(path, "must be an array");
  if (static_cast<int>(list->size()) < min || static_cast<int>(list->size()) > max) {
    return FieldError(path, absl::StrCat("must have ", min, " to ", max, " entries"));
  }
  std::vector<EventSelector> selectors;
  for (size_t i = 0; i < list->size(); ++i) {
    absl::StatusOr<EventSelector> s = ParseSelector((*list)[i], Index(path, i), limits, false);
    if (!s.ok()) return s.status();
    selectors.push_back(*std::move(s));
  }
  return selectors;
}

absl::StatusOr<EventSelector> ParseOneSelector(ObjectReader& r, std::string_view key,
                                               const QueryLimits& limits, bool allow_new) {
  const json* v = r.Find(key);
  if (v == nullptr) return FieldError(r.PathOf(key), "is required");
  return ParseSelector(*v, r.PathOf(key), limits, allow_new);
}

absl::Status ParseScope(ObjectReader& r, const QueryLimits& limits, QueryScope* scope) {
  RETURN_IF_ERROR(r.String("project", &scope->project));
  if (scope->project.empty()) scope->project = "default";
  const json* range = r.Find("range");
  if (range == nullptr) return FieldError("range", "is required");
  ObjectReader rr(*range, "range");
  RETURN_IF_ERROR(rr.CheckObject());
  const json* from = rr.Find("from");
  const json* to = rr.Find("to");
  if (from == nullptr) return FieldError("range.from", "is required");
  if (to == nullptr) return FieldError("range.to", "is required");
  absl::StatusOr<int64_t> from_ms = ParseTime(*from, "range.from");
  if (!from_ms.ok()) return from_ms.status();
  absl::StatusOr<int64_t> to_ms = ParseTime(*to, "range.to");
  if (!to_ms.ok()) return to_ms.status();
  RETURN_IF_ERROR(rr.CheckNoUnknownKeys());
  if (*to_ms <= *from_ms) return FieldError("range.to", "must be after range.from");
  if ((*to_ms - *from_ms) / kDayMs > limits.max_range_days) {
    return FieldError("range", absl::StrCat("spans more than ", limits.max_range_days, " days"));
  }
  scope->from_ms = *from_ms;
  scope->to_ms = *to_ms;
  RETURN_IF_ERROR(r.String("timeZone", &scope->time_zone));
  if (absl::StatusOr<Calendar> calendar = Calendar::Load(scope->time_zone); !calendar.ok()) {
    return FieldError("timeZone", std::string(calendar.status().message()));
  }
  RETURN_IF_ERROR(r.Enum<IdentityMerge>(
      "identity", {{"deviceToUser", IdentityMerge::kDeviceToUser}, {"none", IdentityMerge::kNone}},
      &scope->identity));
  if (const json* inactive = r.Find("inactiveEvents"); inactive != nullptr) {
    if (!inactive->is_array()) return FieldError("inactiveEvents", "must be an array of strings");
    scope->inactive_event_types.clear();
    for (size_t i = 0; i < inactive->size(); ++i) {
      if (!(*inactive)[i].is_string()) {
        return FieldError(Index("inactiveEvents", i), "must be a string");
      }
      scope->inactive_event_types.push_back((*inactive)[i].get<std::string>());
    }
  }
  return absl::OkStatus();
}

absl::Status ParseInterval(ObjectReader& r, const QueryScope& scope, const QueryLimits& limits,
                           Interval* interval) {
  if (const json* v = r.Find("interval"); v != nullptr) {
    absl::StatusOr<Interval> parsed = v->is_string()
                                          ? analytics::ParseInterval(v->get<std::string>())
                                          : absl::InvalidArgumentError("must be a string");
    if (!parsed.ok()) return FieldError("interval", std::string(parsed.status().message()));
    *interval = *parsed;
  }
  // Bound the bucket count before anyone enumerates the buckets.
  static constexpr int64_t kMinUnitMs[] = {60'000, 3'600'000 / 2, 23 * 3'600'000LL,
                                           7 * kDayMs - 3'600'000, 28 * kDayMs};
  int64_t estimate = (scope.to_ms - scope.from_ms) / kMinUnitMs[static_cast<int>(*interval)] + 1;
  if (estimate > limits.max_buckets) {
    return FieldError("interval", absl::StrCat("gives more than ", limits.max_buckets,
                                               " buckets over the range; use a coarser interval"));
  }
  return absl::OkStatus();
}

absl::Status ParseGroupLimit(ObjectReader& r, const QueryLimits& limits,
                             std::optional<PropertyRef>* group_by, int* limit) {
  if (const json* g = r.Find("groupBy"); g != nullptr) {
    absl::StatusOr<PropertyRef> ref = ParseGroupBy(*g, "groupBy");
    if (!ref.ok()) return ref.status();
    *group_by = *std::move(ref);
  }
  return r.Int("limit", limit, 1, limits.max_group_limit);
}

absl::StatusOr<Query> ParseSegmentation(ObjectReader& r, QueryScope scope,
                                        const QueryLimits& limits) {
  SegmentationQuery q;
  q.scope = std::move(scope);
  absl::StatusOr<std::vector<EventSelector>> events =
      ParseSelectors(r, "events", 1, limits.max_series, limits);
  if (!events.ok()) return events.status();
  q.events = *std::move(events);
  RETURN_IF_ERROR(r.Enum<SeriesMetric>(
      "metric", {{"totals", SeriesMetric::kTotals}, {"uniques", SeriesMetric::kUniques}},
      &q.metric));
  RETURN_IF_ERROR(ParseInterval(r, q.scope, limits, &q.interval));
  RETURN_IF_ERROR(ParseGroupLimit(r, limits, &q.group_by, &q.limit));
  if (const json* formulas = r.Find("formulas"); formulas != nullptr) {
    if (!formulas->is_array()) return FieldError("formulas", "must be an array of strings");
    if (static_cast<int>(formulas->size()) > limits.max_formulas) {
      return FieldError("formulas", absl::StrCat("has more than ", limits.max_formulas));
    }
    for (size_t i = 0; i < formulas->size(); ++i) {
      std::string path = Index("formulas", i);
      if (!(*formulas)[i].is_string()) return FieldError(path, "must be a string");
      std::string text = (*formulas)[i].get<std::string>();
      absl::StatusOr<Formula> f = Formula::Parse(text, static_cast<int>(q.events.size()));
      if (!f.ok()) return FieldError(path, std::string(f.status().message()));
      q.formulas.push_back(std::move(text));
    }
  }
  return q;
}

absl::StatusOr<Query> ParseActiveUsers(ObjectReader& r, QueryScope scope,
                                       const QueryLimits& limits) {
  ActiveUsersQuery q;
  q.scope = std::move(scope);
  RETURN_IF_ERROR(r.Enum<ActiveUsersMetric>("metric",
                                            {{"active", ActiveUsersMetric::kActive},
                                             {"rolling7", ActiveUsersMetric::kRolling7},
                                             {"rolling30", ActiveUsersMetric::kRolling30},
                                             {"new", ActiveUsersMetric::kNew}},
                                            &q.metric));
  RETURN_IF_ERROR(ParseInterval(r, q.scope, limits, &q.interval));
  bool rolling =
      q.metric == ActiveUsersMetric::kRolling7 || q.metric == ActiveUsersMetric::kRolling30;
  if (rolling && q.interval != Interval::kDay) {
    return FieldError("interval", "rolling metrics are daily");
  }
  return q;
}

absl::StatusOr<Query> ParseSessions(ObjectReader& r, QueryScope scope, const QueryLimits& limits) {
  SessionsQuery q;
  q.scope = std::move(scope);
  RETURN_IF_ERROR(ParseInterval(r, q.scope, limits, &q.interval));
  RETURN_IF_ERROR(r.Integer("timeoutMs", &q.timeout_ms, 1000, kDayMs));
  if (const json* buckets = r.Find("lengthBucketsSeconds"); buckets != nullptr) {
    if (!buckets->is_array() || buckets->empty() || buckets->size() > 64) {
      return FieldError("lengthBucketsSeconds", "must be an array of 1 to 64 numbers");
    }
    q.length_buckets_s.clear();
    for (size_t i = 0; i < buckets->size(); ++i) {
      std::string path = Index("lengthBucketsSeconds", i);
      if (!(*buckets)[i].is_number()) return FieldError(path, "must be a number");
      double bound = (*buckets)[i].get<double>();
      if (bound < 0 || (!q.length_buckets_s.empty() && bound <= q.length_buckets_s.back())) {
        return FieldError(path, "must be >= 0 and greater than the previous bound");
      }
      q.length_buckets_s.push_back(bound);
    }
  }
  return q;
}

absl::StatusOr<Query> ParseRetention(ObjectReader& r, QueryScope scope, int64_t now_ms,
                                     const QueryLimits& limits) {
  RetentionQuery q;
  q.scope = std::move(scope);
  absl::StatusOr<EventSelector> start = ParseOneSelector(r, "startEvent", limits, true);
  if (!start.ok()) return start.status();
  q.start = *std::move(start);
  absl::StatusOr<EventSelector> returned = ParseOneSelector(r, "returnEvent", limits, false);
  if (!returned.ok()) return returned.status();
  q.returned = *std::move(returned);
  if (q.returned.event_type == kAnyEvent || q.start.event_type == kAnyEvent) {
    return FieldError(
        q.start.event_type == kAnyEvent ? "startEvent.eventType" : "returnEvent.eventType",
        "retention counts activity: use _active, not _all");
  }
  RETURN_IF_ERROR(r.Enum<RetentionMode>("mode",
                                        {{"nDay", RetentionMode::kNDay},
                                         {"unbounded", RetentionMode::kUnbounded},
                                         {"bracket", RetentionMode::kBracket}},
                                        &q.mode));
  RETURN_IF_ERROR(r.Enum<RetentionDays>(
      "days", {{"rolling", RetentionDays::kRolling}, {"calendar", RetentionDays::kCalendar}},
      &q.days));
  RETURN_IF_ERROR(r.Int("maxDay", &q.max_day, 1, limits.max_retention_day));
  const json* brackets = r.Find("brackets");
  if (q.mode == RetentionMode::kBracket) {
    if (brackets == nullptr) return FieldError("brackets", "is required in bracket mode");
    if (!brackets->is_array() || brackets->empty() ||
        static_cast<int>(brackets->size()) > limits.max_brackets) {
      return FieldError("brackets",
                        absl::StrCat("must be an array of 1 to ", limits.max_brackets, " [a, b]"));
    }
    for (size_t i = 0; i < brackets->size(); ++i) {
      const json& b = (*brackets)[i];
      std::string path = Index("brackets", i);
      if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() ||
          !b[1].is_number_integer()) {
        return FieldError(path, "must be [a, b] with integer days");
      }
      int64_t a = b[0].get<int64_t>(), e = b[1].get<int64_t>();
      int64_t previous_end = q.brackets.empty() ? 0 : q.brackets.back().second;
      if (a < 1 || e < a || e > limits.max_retention_day || a <= previous_end) {
        return FieldError(path,
                          absl::StrCat("must satisfy 1 <= a <= b <= ", limits.max_retention_day,
                                       " and start after the previous bracket"));
      }
      q.brackets.emplace_back(static_cast<int>(a), static_cast<int>(e));
    }
  } else if (brackets != nullptr) {
    return FieldError("brackets", "is only for bracket mode");
  }
  q.as_of_ms = now_ms;
  if (const json* as_of = r.Find("asOf"); as_of != nullptr) {
    absl::StatusOr<int64_t> t = ParseTime(*as_of, "asOf");
    if (!t.ok()) return t.status();
    q.as_of_ms = *t;
  }
  return q;
}

absl::StatusOr<Query> ParseFunnel(ObjectReader& r, QueryScope scope, const QueryLimits& limits) {
  FunnelQuery q;
  q.scope = std::move(scope);
  absl::StatusOr<std::vector<EventSelector>> steps =
      ParseSelectors(r, "steps", 2, limits.max_steps, limits);
  if (!steps.ok()) return steps.status();
  q.steps = *std::move(steps);
  RETURN_IF_ERROR(r.Integer("windowMs", &q.window_ms, 1, limits.max_window_ms));
  RETURN_IF_ERROR(r.Enum<FunnelOrder>("order",
                                      {{"ordered", FunnelOrder::kOrdered},
                                       {"strict", FunnelOrder::kStrict},
                                       {"unordered", FunnelOrder::kUnordered}},
                                      &q.order));
  RETURN_IF_ERROR(ParseGroupLimit(r, limits, &q.group_by, &q.limit));
  return q;
}

absl::StatusOr<Query> ParseExperiment(ObjectReader& r, QueryScope scope,
                                      const QueryLimits& limits) {
  ExperimentQuery q;
  q.scope = std::move(scope);
  RETURN_IF_ERROR(r.String("exposureEvent", &q.exposure_event));
  RETURN_IF_ERROR(r.String("variantProperty", &q.variant_property));
  RETURN_IF_ERROR(r.String("control", &q.control));
  for (auto [key, value] :
       {std::pair<const char*, const std::string*>{"exposureEvent", &q.exposure_event},
        {"variantProperty", &q.variant_property},
        {"control", &q.control}}) {
    if (value->empty()) return FieldError(key, "must not be empty");
  }
  absl::StatusOr<EventSelector> goal = ParseOneSelector(r, "goal", limits, false);
  if (!goal.ok()) return goal.status();
  q.goal = *std::move(goal);
  RETURN_IF_ERROR(r.Integer("windowMs", &q.window_ms, 1, limits.max_window_ms));
  std::string sum_property;
  RETURN_IF_ERROR(r.String("sumProperty", &sum_property));
  if (!sum_property.empty()) q.sum_property = sum_property;
  RETURN_IF_ERROR(r.Double("confidence", &q.confidence, 0, 1));
  if (const json* split = r.Find("expectedSplit"); split != nullptr) {
    if (!split->is_array() || split->size() < 2 || split->size() > 26) {
      return FieldError("expectedSplit", "must be an array of 2 to 26 positive weights");
    }
    for (size_t i = 0; i < split->size(); ++i) {
      if (!(*split)[i].is_number() || !((*split)[i].get<double>() > 0)) {
        return FieldError(Index("expectedSplit", i), "must be a positive number");
      }
      q.expected_split.push_back((*split)[i].get<double>());
    }
  }
  if (r.Find("msprtTau2") != nullptr) {
    double tau2 = 0;
    RETURN_IF_ERROR(r.Double("msprtTau2", &tau2, 0, 1e12));
    q.msprt_tau2 = tau2;
  }
  return q;
}

}  // namespace

absl::StatusOr<Query> ParseQueryJson(std::string_view text, int64_t now_ms,
                                     const QueryLimits& limits) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return FieldError("", "the body is not valid JSON");
  ObjectReader r(document, "");
  RETURN_IF_ERROR(r.CheckObject());
  std::string type;
  RETURN_IF_ERROR(r.String("type", &type, /*required=*/true));
  QueryScope scope;
  RETURN_IF_ERROR(ParseScope(r, limits, &scope));
  absl::StatusOr<Query> query;
  if (type == "segmentation") {
    query = ParseSegmentation(r, std::move(scope), limits);
  } else if (type == "activeUsers") {
    query = ParseActiveUsers(r, std::move(scope), limits);
  } else if (type == "stickiness") {
    query = StickinessQuery{std::move(scope)};
  } else if (type == "sessions") {
    query = ParseSessions(r, std::move(scope), limits);
  } else if (type == "retention") {
    query = ParseRetention(r, std::move(scope), now_ms, limits);
  } else if (type == "funnel") {
    query = ParseFunnel(r, std::move(scope), limits);
  } else if (type == "experiment") {
    query = ParseExperiment(r, std::move(scope), limits);
  } else {
    return FieldError("type",
                      "must be one of segmentation, activeUsers, stickiness, sessions, retention, "
                      "funnel, experiment");
  }
  if (!query.ok()) return query;
  RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  return query;
}

std::string QueryErrorField(const absl::Status& status) {
  absl::optional<absl::Cord> field = status.GetPayload(kQueryFieldPayload);
  return field ? std::string(*field) : std::string();
}

}  // namespace cohort::analytics
