// Sessions on the embedded store (analytics.md, "Sessions"; docs/metrics.md): per bucket of the
// query interval, the sessions that start in it (count, average length, length histogram), and
// the same over the range, computed in one pass over each actor's events.
//
// Sessions are made of active events only. An event with session_id >= 0 belongs to the session
// (actor, session_id); session_id < 0 (-1, Amplitude's "none") to no session. Events without a
// session_id are sessionized per actor: the next such event continues the open session when its
// gap to the session's last event is <= timeout_ms (explicit and -1 events in between neither
// split nor join it). Start = the first event's time, length = last − first. A session counts in
// the bucket of its start when the start lies in [from_ms, to_ms), with its full length (events
// after to_ms included). Averages are (Σ length in ms) / (1000 · n), one double division; a
// length of L ms falls in the first histogram bucket i with L / 1000.0 <= length_buckets_s[i],
// else in the extra last bucket.
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/cell_collector.h"

namespace cohort::analytics::store {

// `view` must have been built with query.scope.identity; query.length_buckets_s must ascend
// (query_json.h validates it). Errors: kInvalidArgument for a time zone not in the tz database.
[[nodiscard]] absl::StatusOr<SessionsResult> RunSessions(const SessionsQuery& query,
                                                         const ActorView& view,
                                                         CellCollector* cells = nullptr);

}  // namespace cohort::analytics::store
