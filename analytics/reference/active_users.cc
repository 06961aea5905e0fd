#include "analytics/reference/active_users.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace cohort::analytics::reference {
namespace {

// The actors with an active event in [from_ms, to_ms).
ActorSet ActiveIn(const Timelines& timelines, int64_t from_ms, int64_t to_ms) {
  ActorSet actors;
  for (const ActorTimeline& actor : timelines.actors) {
    for (const TimelineEvent& event : actor.events) {
      if (event.active && event.time() >= from_ms && event.time() < to_ms) {
        actors.insert(actor.actor);
        break;
      }
    }
  }
  return actors;
}

// The actors of the `days` calendar days ending on the day that starts at `day_start`.
ActorSet RollingActive(const Timelines& timelines, int64_t day_start, int days) {
  const Calendar& calendar = timelines.calendar;
  int64_t from = calendar.DayStart(calendar.Day(day_start) - (days - 1));
  int64_t to = std::min(calendar.NextBucketStart(day_start, Interval::kDay), timelines.scope.to_ms);
  return ActiveIn(timelines, from, to);
}

// The day's active actors inside the range.
ActorSet DailyActive(const Timelines& timelines, int64_t day_start) {
  const QueryScope& scope = timelines.scope;
  int64_t next = timelines.calendar.NextBucketStart(day_start, Interval::kDay);
  return ActiveIn(timelines, std::max(day_start, scope.from_ms), std::min(next, scope.to_ms));
}

}  // namespace

Answer<ActiveUsersResult> CountActiveUsers(const ActiveUsersQuery& query,
                                           const Timelines& timelines) {
  const QueryScope& scope = query.scope;
  const Calendar& calendar = timelines.calendar;
  bool rolling =
      query.metric == ActiveUsersMetric::kRolling7 || query.metric == ActiveUsersMetric::kRolling30;
  Interval interval = rolling ? Interval::kDay : query.interval;
  Answer<ActiveUsersResult> answer;
  answer.result.buckets = calendar.BucketStarts(scope.from_ms, scope.to_ms, interval);
  const std::vector<int64_t>& buckets = answer.result.buckets;
  for (size_t b = 0; b < buckets.size(); ++b) {
    ActorSet actors;
    if (rolling) {
      actors = RollingActive(timelines, buckets[b],
                             query.metric == ActiveUsersMetric::kRolling7 ? 7 : 30);
    } else if (query.metric == ActiveUsersMetric::kActive) {
      actors = ActiveIn(timelines, std::max(buckets[b], scope.from_ms),
                        std::min(calendar.NextBucketStart(buckets[b], interval), scope.to_ms));
    } else {  // kNew
      for (const ActorTimeline& actor : timelines.actors) {
        auto first = std::find_if(actor.events.begin(), actor.events.end(),
                                  [](const TimelineEvent& e) { return e.active; });
        if (first == actor.events.end() || !timelines.InRange(first->time())) continue;
        if (calendar.BucketStart(first->time(), interval) == buckets[b]) {
          actors.insert(actor.actor);
        }
      }
    }
    answer.result.values.push_back(static_cast<int64_t>(actors.size()));
    answer.cells[{-1, static_cast<int>(b)}] = std::move(actors);
  }
  return answer;
}

Answer<StickinessResult> ComputeStickiness(const StickinessQuery& query,
                                           const Timelines& timelines) {
  const QueryScope& scope = query.scope;
  const Calendar& calendar = timelines.calendar;
  Answer<StickinessResult> answer;
  StickinessResult& result = answer.result;
  result.days = calendar.BucketStarts(scope.from_ms, scope.to_ms, Interval::kDay);
  double sum = 0;
  int defined = 0;
  for (size_t d = 0; d < result.days.size(); ++d) {
    ActorSet dau = DailyActive(timelines, result.days[d]);
    size_t mau = RollingActive(timelines, result.days[d], 30).size();
    Number ratio;
    if (mau > 0) {
      ratio = static_cast<double>(dau.size()) / static_cast<double>(mau);
      sum += *ratio;
      ++defined;
    }
    result.dau_over_mau.push_back(ratio);
    answer.cells[{-1, static_cast<int>(d)}] = std::move(dau);
  }
  if (defined > 0) result.mean_dau_over_mau = sum / defined;

  result.weeks = calendar.BucketStarts(scope.from_ms, scope.to_ms, Interval::kWeek);
  std::map<int64_t, size_t> week_index;
  for (size_t w = 0; w < result.weeks.size(); ++w) {
    week_index[result.weeks[w]] = w;
    for (int n = 0; n < 7; ++n) answer.cells[{static_cast<int>(w), n}];
  }
  result.days_active_per_week.assign(result.weeks.size(), std::vector<int64_t>(7, 0));
  for (const ActorTimeline& actor : timelines.actors) {
    std::map<size_t, std::set<int64_t>> days_per_week;  // week → day starts
    for (const TimelineEvent& event : actor.events) {
      if (!event.active || !timelines.InRange(event.time())) continue;
      days_per_week[week_index.at(calendar.BucketStart(event.time(), Interval::kWeek))].insert(
          calendar.BucketStart(event.time(), Interval::kDay));
    }
    for (const auto& [w, days] : days_per_week) {
      int n = static_cast<int>(days.size());  // 1..7: a week has seven civil days
      ++result.days_active_per_week[w][n - 1];
      answer.cells[{static_cast<int>(w), n - 1}].insert(actor.actor);
    }
  }
  return answer;
}

}  // namespace cohort::analytics::reference
