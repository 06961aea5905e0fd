// The query API's JSON (version v1) → the typed queries of query.h, validated: every problem is a
// kInvalidArgument whose message starts with the JSON path of the offending field and which
// carries that path as the payload kQueryFieldPayload (QueryErrorField reads it), so the HTTP
// layer answers 400 {"code":400,"error":"...","field":"steps[2].eventType"}.
//
// The document (docs/query-api.md has the full reference; unknown keys are errors, so a typo
// never silently changes a number):
//   {"type": "segmentation" | "activeUsers" | "stickiness" | "sessions" | "retention" |
//            "funnel" | "experiment",
//    "project": "default",
//    "range": {"from": T, "to": T},          T: RFC 3339 ("2026-11-01T00:00:00Z") or epoch ms
//    "timeZone": "UTC", "identity": "deviceToUser" | "none",
//    "inactiveEvents": ["dify.generate_conversation_name"],
//    ... the type's own fields, as in query.h, in camelCase }
// An event selector is {"eventType": "click", "filters": [{"property": "button",
// "scope": "event" | "user", "op": "equals" | "notEquals" | "lt" | "lte" | "gt" | "gte" |
// "contains" | "notContains" | "isSet" | "isNotSet", "values": [...]}]}.
// `now_ms` fills retention's default asOf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/model/query.h"

namespace cohort::analytics {

inline constexpr char kQueryFieldPayload[] = "type.cohort.dev/query-field";

// Bounds that keep one query's cost in check (each violation is a 400 naming the field).
struct QueryLimits {
  int max_series = 10;
  int max_steps = 10;
  int max_filters = 20;
  int max_filter_values = 100;
  int max_formulas = 10;
  int max_group_limit = 1000;
  int64_t max_buckets = 10'000;  // buckets of the range at the query's interval
  int64_t max_range_days = 3'660;
  int max_retention_day = 366;
  int max_brackets = 32;
  int64_t max_window_ms = 366LL * 24 * 3600 * 1000;
};

[[nodiscard]] absl::StatusOr<Query> ParseQueryJson(std::string_view json, int64_t now_ms,
                                                   const QueryLimits& limits = {});

// The JSON path a ParseQueryJson error names ("" when it names none).
std::string QueryErrorField(const absl::Status& status);

}  // namespace cohort::analytics
