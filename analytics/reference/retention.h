// Retention (analytics.md, "Retention") by brute force: N-day, unbounded and bracket, rolling
// (exact 24 h multiples from t0) or calendar days, with completeness against as_of.
//
// Decisions (README.md): return events count when their time is before as_of (they may lie after
// the range end). For `_new`, the start selector's filters apply to the first-ever active event.
// Unbounded day N: a return at or after day N's window start (and before as_of); complete when
// day N's window ends at or before as_of. A bracket [a, b] is one cell: a return in days a..b;
// complete when day b's window ends at or before as_of.
#pragma once

#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/answer.h"
#include "analytics/reference/timeline.h"

namespace cohort::analytics::reference {

Answer<RetentionResult> ComputeRetention(const RetentionQuery& query, const Timelines& timelines);

}  // namespace cohort::analytics::reference
