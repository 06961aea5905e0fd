#include "analytics/store/sessions_query.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analytics/store/activity.h"
#include "analytics/store/segment.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

struct Session {
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // the last event's time
};

// Adds sessions to the per-bucket and range totals.
class Tally {
 public:
  Tally(const SessionsQuery& query, std::vector<int64_t> buckets)
      : from_ms_(query.scope.from_ms),
        to_ms_(query.scope.to_ms),
        bounds_(query.length_buckets_s),
        buckets_(std::move(buckets)),
        counts_(buckets_.size(), 0),
        sum_ms_(buckets_.size(), 0),
        histogram_(buckets_.size(), std::vector<int64_t>(bounds_.size() + 1, 0)) {}

  void Add(const Session& session, uint32_t actor, CellCollector* cells) {
    if (session.start_ms < from_ms_ || session.start_ms >= to_ms_) return;
    // The bucket holding the start: the last bucket start <= it (the first is <= from_ms).
    size_t b =
        static_cast<size_t>(std::upper_bound(buckets_.begin(), buckets_.end(), session.start_ms) -
                            buckets_.begin() - 1);
    int64_t length_ms = session.end_ms - session.start_ms;
    double length_s = static_cast<double>(length_ms) / 1000.0;
    // The first bound >= the length; past the end: the rest bucket.
    size_t h = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), length_s) -
                                   bounds_.begin());
    ++counts_[b];
    if (cells != nullptr) cells->Add(-1, static_cast<int>(b), actor);
    sum_ms_[b] += length_ms;
    ++histogram_[b][h];
  }

  SessionsResult Finish() && {
    SessionsResult result;
    int64_t total_sum_ms = 0;
    for (size_t b = 0; b < buckets_.size(); ++b) {
      result.average_length_s.push_back(Average(sum_ms_[b], counts_[b]));
      result.total_count += counts_[b];
      total_sum_ms += sum_ms_[b];
    }
    result.total_average_length_s = Average(total_sum_ms, result.total_count);
    result.buckets = std::move(buckets_);
    result.counts = std::move(counts_);
    result.histogram = std::move(histogram_);
    return result;
  }

 private:
  static Number Average(int64_t sum_ms, int64_t count) {
    if (count == 0) return std::nullopt;
    return static_cast<double>(sum_ms) / (1000.0 * static_cast<double>(count));
  }

  int64_t from_ms_;
  int64_t to_ms_;
  const std::vector<double>& bounds_;
  std::vector<int64_t> buckets_;
  std::vector<int64_t> counts_;
  std::vector<int64_t> sum_ms_;
  std::vector<std::vector<int64_t>> histogram_;
};

}  // namespace

absl::StatusOr<SessionsResult> RunSessions(const SessionsQuery& query, const ActorView& view,
                                           CellCollector* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return calendar.status();
  Tally tally(query, calendar->BucketStarts(scope.from_ms, scope.to_ms, query.interval));
  if (scope.from_ms >= scope.to_ms) return std::move(tally).Finish();
  Activity activity(view, scope);
  absl::flat_hash_map<int64_t, Session> explicit_sessions;  // the actor's, by session_id
  for (size_t a = 0; a < view.actor_count(); ++a) {
    const uint32_t actor = static_cast<uint32_t>(a);
    explicit_sessions.clear();
    std::optional<Session> open;  // the actor's current gap session
    view.ForEachEvent(a, [&](const EventRef& ref) {
      if (!activity.active(ref)) return;
      int64_t t = ref.segment->time_ms(ref.index);  // ascends: the total order starts with time
      int64_t session_id = ref.segment->session_column(ref.index);
      if (session_id != kNoSessionColumn) {
        if (session_id < 0) return;  // kNoSessionId: in no session
        auto [it, inserted] = explicit_sessions.try_emplace(session_id, Session{t, t});
        if (!inserted) it->second.end_ms = t;
        return;
      }
      if (open && t - open->end_ms <= query.timeout_ms) {
        open->end_ms = t;
        return;
      }
      if (open) tally.Add(*open, actor, cells);
      open = Session{t, t};
    });
    if (open) tally.Add(*open, actor, cells);
    for (const auto& [id, session] : explicit_sessions) tally.Add(session, actor, cells);
  }
  return std::move(tally).Finish();
}

}  // namespace cohort::analytics::store
