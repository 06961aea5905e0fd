// Results (result.h) as the query API's JSON (v1): camelCase fields mirroring the structs,
// bucket and cohort times as epoch milliseconds, undefined numbers as null. docs/query-api.md
// shows each shape.
#pragma once

#include "analytics/model/result.h"
#include "nlohmann/json.hpp"

namespace cohort::analytics {

// {"type": "<query type>", ...the result's fields...}
nlohmann::json ResultToJson(const Result& result);

}  // namespace cohort::analytics
