#include "analytics/store/active_users_query.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "analytics/store/activity.h"
#include "analytics/store/hourly_active_actors.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

// The index of the bucket of `starts` (ascending bucket starts, the last bucket ending at `end`)
// that holds `t`, or -1 outside them.
int BucketIndex(const std::vector<int64_t>& starts, int64_t end, int64_t t) {
  if (starts.empty() || t < starts.front() || t >= end) return -1;
  return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), t) - starts.begin()) - 1;
}

}  // namespace

absl::StatusOr<ActiveUsersResult> RunActiveUsers(const ActiveUsersQuery& query,
                                                 const ActorView& view, CellCollector* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return calendar.status();
  Activity activity(view, scope);
  bool rolling =
      query.metric == ActiveUsersMetric::kRolling7 || query.metric == ActiveUsersMetric::kRolling30;
  Interval interval = rolling ? Interval::kDay : query.interval;
  ActiveUsersResult result;
  result.buckets = calendar->BucketStarts(scope.from_ms, scope.to_ms, interval);
  result.values.assign(result.buckets.size(), 0);
  if (result.buckets.empty()) return result;

  // Active and new actors per bucket from the view's hourly sets, when every clipped bucket is
  // whole hours and activity is the default (a drill-down scans: it lists the actors).
  if ((query.metric == ActiveUsersMetric::kActive || query.metric == ActiveUsersMetric::kNew) &&
      cells == nullptr && HourlyActiveActors::Applies(scope)) {
    std::vector<int64_t> lows;  // the buckets clipped to the range
    for (int64_t start : result.buckets) lows.push_back(std::max(start, scope.from_ms));
    const bool whole_hours = HourlyActiveActors::Aligned(scope.to_ms) &&
                             std::all_of(lows.begin(), lows.end(),
                                         [](int64_t t) { return HourlyActiveActors::Aligned(t); });
    if (whole_hours) {
      const HourlyActiveActors& hourly = view.hourly_active();
      if (query.metric == ActiveUsersMetric::kNew) {
        result.values = hourly.CountNew(lows, scope.to_ms);
        return result;
      }
      for (size_t b = 0; b < lows.size(); ++b) {
        const int64_t hi = b + 1 < lows.size() ? lows[b + 1] : scope.to_ms;
        result.values[b] = static_cast<int64_t>(hourly.CountActive(lows[b], hi));
      }
      return result;
    }
  }

  if (query.metric == ActiveUsersMetric::kActive || query.metric == ActiveUsersMetric::kNew) {
    std::vector<int> seen;  // the actor's buckets, to count each once
    for (size_t a = 0; a < view.actor_count(); ++a) {
      seen.clear();
      std::optional<int64_t> first_active;
      view.ForEachEvent(a, [&](const EventRef& ref) {
        if (!activity.active(ref)) return;
        int64_t t = ref.segment->time_ms(ref.index);
        if (!first_active || t < *first_active) first_active = t;
        if (query.metric == ActiveUsersMetric::kActive && t >= scope.from_ms && t < scope.to_ms) {
          seen.push_back(BucketIndex(result.buckets, scope.to_ms, t));
        }
      });
      if (query.metric == ActiveUsersMetric::kNew) {
        if (first_active && *first_active >= scope.from_ms && *first_active < scope.to_ms) {
          int b = BucketIndex(result.buckets, scope.to_ms, *first_active);
          ++result.values[b];
          if (cells != nullptr) cells->Add(-1, b, static_cast<uint32_t>(a));
        }
        continue;
      }
      std::sort(seen.begin(), seen.end());
      seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
      for (int b : seen) {
        ++result.values[b];
        if (cells != nullptr) cells->Add(-1, b, static_cast<uint32_t>(a));
      }
    }
    return result;
  }

  // Rolling: each range day d counts the actors active in the `window` calendar days ending on
  // d, before the range end. Days are indexed from `window - 1` days before the first range day.
  int window = query.metric == ActiveUsersMetric::kRolling7 ? 7 : 30;
  int64_t first_day = result.buckets.front();
  std::vector<int64_t> days = calendar->BucketStarts(
      calendar->DayStart(calendar->Day(first_day) - (window - 1)), scope.to_ms, Interval::kDay);
  int offset = static_cast<int>(days.size() - result.buckets.size());
  std::vector<int64_t> diff(days.size() + window + 1, 0);
  std::vector<int> active_days;
  for (size_t a = 0; a < view.actor_count(); ++a) {
    active_days.clear();
    view.ForEachEvent(a, [&](const EventRef& ref) {
      if (!activity.active(ref)) return;
      int d = BucketIndex(days, scope.to_ms, ref.segment->time_ms(ref.index));
      if (d >= 0) active_days.push_back(d);
    });
    std::sort(active_days.begin(), active_days.end());
    active_days.erase(std::unique(active_days.begin(), active_days.end()), active_days.end());
    // The union of [d, d + window) over the active days, each day counted once.
    int covered_until = -1;
    for (int d : active_days) {
      int from = std::max(d, covered_until);
      int to = d + window;
      if (from < to) {
        ++diff[from];
        --diff[to];
        covered_until = to;
        if (cells != nullptr) {
          for (int day = std::max(from, offset); day < to && day < static_cast<int>(days.size());
               ++day) {
            cells->Add(-1, day - offset, static_cast<uint32_t>(a));
          }
        }
      }
    }
  }
  int64_t running = 0;
  for (size_t d = 0; d < days.size(); ++d) {
    running += diff[d];
    if (static_cast<int>(d) >= offset) result.values[d - offset] = running;
  }
  return result;
}

}  // namespace cohort::analytics::store
