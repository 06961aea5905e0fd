// Funnels (analytics.md, "Funnels") by brute force: ordered, strict and unordered.
//
// Decisions (README.md):
// - strict: from the previous matched event, the earliest event of the next step (within the
//   window) is taken only when no active event lies strictly between the two in total order;
//   otherwise the chain stops there.
// - unordered: an anchor is an event inside the range; the actor reaches step j from it when
//   steps 1..j can be given distinct events at or after the anchor (total order) with time ≤
//   anchor time + W, the anchor being one of them. The actor's anchor is the one reaching
//   furthest, ties to the earliest; its events are the assignment that is smallest step by step
//   (step 1's event earliest, then step 2's, ...). "Time between steps i and i+1" is then the gap
//   between the i-th and (i+1)-th of those events in total order; group-by reads the event
//   assigned to step 1.
// - Step 1 reports both conversions as actors / actors (1, or null when 0). Averages = (Σ ms) / n
//   as one double division of exact integers; medians are the lower median.
// - Group-by: groups ranked by step-1 actors descending, ties by label bytes; top `limit`, the
//   rest merged into "(other)", which comes last.
#pragma once

#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/answer.h"
#include "analytics/reference/timeline.h"

namespace cohort::analytics::reference {

Answer<FunnelResult> ComputeFunnel(const FunnelQuery& query, const Timelines& timelines);

}  // namespace cohort::analytics::reference
