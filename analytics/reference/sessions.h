// Sessions (analytics.md, "Sessions") by brute force: explicit sessions (actor, session_id >= 0),
// no session for session_id = -1, and gap sessionization per actor of the events without a
// session_id (a gap of exactly the timeout continues the session; explicit and -1 events in
// between neither split nor join it).
//
// Decisions (README.md): sessions are made of active events only ($identify and the pipeline's
// inactive types are not user activity). Sessions are built from all of the actor's data; one
// counts when its start lies in the range, with its full length. Length in seconds =
// (last − first) / 1000.0; averages = (Σ length in ms) / (1000 · n), one double division of
// exact integers. Histogram bucket i holds lengths ≤ length_buckets_s[i] and > the previous
// bound; the extra last bucket holds the rest.
#pragma once

#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/answer.h"
#include "analytics/reference/timeline.h"

namespace cohort::analytics::reference {

Answer<SessionsResult> CountSessions(const SessionsQuery& query, const Timelines& timelines);

}  // namespace cohort::analytics::reference
