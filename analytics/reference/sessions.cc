#include "analytics/reference/sessions.h"

#include <map>
#include <utility>
#include <vector>

namespace cohort::analytics::reference {
namespace {

struct Session {
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // the last event's time
};

// The actor's sessions, from its events in total order.
std::vector<Session> SessionsOf(const ActorTimeline& actor, int64_t timeout_ms) {
  std::map<int64_t, Session> explicit_sessions;
  std::vector<Session> sessions;
  for (const TimelineEvent& event : actor.events) {
    if (!event.active) continue;
    const std::optional<int64_t>& id = event.event->session_id;
    if (id.has_value()) {
      if (*id < 0) continue;  // kNoSessionId: outside any session
      auto [it, inserted] = explicit_sessions.try_emplace(*id, Session{event.time(), event.time()});
      if (!inserted) it->second.end_ms = event.time();  // total order: times ascend
      continue;
    }
    if (!sessions.empty() && event.time() - sessions.back().end_ms <= timeout_ms) {
      sessions.back().end_ms = event.time();
    } else {
      sessions.push_back({event.time(), event.time()});
    }
  }
  for (const auto& [id, session] : explicit_sessions) sessions.push_back(session);
  return sessions;
}

Number Average(int64_t sum_ms, int64_t count) {
  if (count == 0) return std::nullopt;
  return static_cast<double>(sum_ms) / (1000.0 * static_cast<double>(count));
}

}  // namespace

Answer<SessionsResult> CountSessions(const SessionsQuery& query, const Timelines& timelines) {
  const QueryScope& scope = query.scope;
  const Calendar& calendar = timelines.calendar;
  Answer<SessionsResult> answer;
  SessionsResult& result = answer.result;
  result.buckets = calendar.BucketStarts(scope.from_ms, scope.to_ms, query.interval);
  size_t n = result.buckets.size();
  std::map<int64_t, size_t> bucket_index;
  for (size_t b = 0; b < n; ++b) {
    bucket_index[result.buckets[b]] = b;
    answer.cells[{-1, static_cast<int>(b)}];
  }
  result.counts.assign(n, 0);
  result.histogram.assign(n, std::vector<int64_t>(query.length_buckets_s.size() + 1, 0));
  std::vector<int64_t> sum_ms(n, 0);
  int64_t total_sum_ms = 0;
  for (const ActorTimeline& actor : timelines.actors) {
    for (const Session& session : SessionsOf(actor, query.timeout_ms)) {
      if (!timelines.InRange(session.start_ms)) continue;
      size_t b = bucket_index.at(calendar.BucketStart(session.start_ms, query.interval));
      int64_t length_ms = session.end_ms - session.start_ms;
      double length_s = static_cast<double>(length_ms) / 1000.0;
      size_t h = 0;
      while (h < query.length_buckets_s.size() && length_s > query.length_buckets_s[h]) ++h;
      ++result.counts[b];
      ++result.histogram[b][h];
      sum_ms[b] += length_ms;
      ++result.total_count;
      total_sum_ms += length_ms;
      answer.cells[{-1, static_cast<int>(b)}].insert(actor.actor);
    }
  }
  for (size_t b = 0; b < n; ++b)
    result.average_length_s.push_back(Average(sum_ms[b], result.counts[b]));
  result.total_average_length_s = Average(total_sum_ms, result.total_count);
  return answer;
}

}  // namespace cohort::analytics::reference
