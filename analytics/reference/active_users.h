// Active users, new users and stickiness (analytics.md, "Active users") by brute force.
//
// Decisions (README.md): rolling7 / rolling30 of day d count the active events in the 7 / 30
// calendar days ending on d, also before the query range (the window looks back), but none at or
// after to_ms. "New" looks at all data for the first-ever active event. Stickiness: DAU(d) counts
// the day's active events inside the range; rolling30 as above; the mean is the sum of the
// defined ratios in day order divided by their number.
#pragma once

#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/answer.h"
#include "analytics/reference/timeline.h"

namespace cohort::analytics::reference {

Answer<ActiveUsersResult> CountActiveUsers(const ActiveUsersQuery& query,
                                           const Timelines& timelines);

Answer<StickinessResult> ComputeStickiness(const StickinessQuery& query,
                                           const Timelines& timelines);

}  // namespace cohort::analytics::reference
