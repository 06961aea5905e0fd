#include "analytics/store/stickiness_query.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "analytics/store/activity.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

constexpr int kMonthDays = 30;

// The index of the bucket of `starts` holding `t` (t >= starts.front()).
int IndexOf(const std::vector<int64_t>& starts, int64_t t) {
  return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), t) - starts.begin()) - 1;
}

void SortUnique(std::vector<int>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

absl::StatusOr<StickinessResult> RunStickiness(const StickinessQuery& query, const ActorView& view,
                                               CellCollector* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return calendar.status();
  Activity activity(view, scope);
  StickinessResult result;
  result.days = calendar->BucketStarts(scope.from_ms, scope.to_ms, Interval::kDay);
  result.weeks = calendar->BucketStarts(scope.from_ms, scope.to_ms, Interval::kWeek);
  result.days_active_per_week.assign(result.weeks.size(), std::vector<int64_t>(7, 0));
  if (result.days.empty()) return result;

  // Days from 29 before the first range day: the rolling-30 window of every range day.
  std::vector<int64_t> days = calendar->BucketStarts(
      calendar->DayStart(calendar->Day(result.days.front()) - (kMonthDays - 1)), scope.to_ms,
      Interval::kDay);
  const int offset = static_cast<int>(days.size() - result.days.size());
  std::vector<int64_t> dau(result.days.size(), 0);
  std::vector<int64_t> mau_diff(days.size() + kMonthDays + 1, 0);

  std::vector<int> active_days;  // extended-day indexes, any time before the range end
  std::vector<int> range_days;   // range-day indexes of events inside the range
  std::vector<std::pair<int, int>> week_days;  // (week index, extended-day index), in range
  for (size_t a = 0; a < view.actor_count(); ++a) {
    active_days.clear();
    range_days.clear();
    week_days.clear();
    view.ForEachEvent(a, [&](const EventRef& ref) {
      if (!activity.active(ref)) return;
      int64_t t = ref.segment->time_ms(ref.index);
      if (t >= scope.to_ms || t < days.front()) return;
      int d = IndexOf(days, t);
      active_days.push_back(d);
      if (t >= scope.from_ms) {
        range_days.push_back(d - offset);
        week_days.emplace_back(IndexOf(result.weeks, t), d);
      }
    });
    SortUnique(&active_days);
    SortUnique(&range_days);
    for (int d : range_days) {
      ++dau[d];
      if (cells != nullptr) cells->Add(-1, d, static_cast<uint32_t>(a));
    }
    int covered_until = -1;
    for (int d : active_days) {
      int from = std::max(d, covered_until);
      int to = d + kMonthDays;
      if (from < to) {
        ++mau_diff[from];
        --mau_diff[to];
        covered_until = to;
      }
    }
    std::sort(week_days.begin(), week_days.end());
    week_days.erase(std::unique(week_days.begin(), week_days.end()), week_days.end());
    for (size_t i = 0; i < week_days.size();) {
      size_t j = i;
      while (j < week_days.size() && week_days[j].first == week_days[i].first) ++j;
      ++result.days_active_per_week[week_days[i].first][j - i - 1];
      if (cells != nullptr) {
        cells->Add(week_days[i].first, static_cast<int>(j - i - 1), static_cast<uint32_t>(a));
      }
      i = j;
    }
  }
  int64_t mau = 0;
  double sum = 0;
  int defined = 0;
  for (size_t d = 0; d < days.size(); ++d) {
    mau += mau_diff[d];
    if (static_cast<int>(d) < offset) continue;
    size_t r = d - offset;
    Number ratio;
    if (mau > 0) {
      ratio = static_cast<double>(dau[r]) / static_cast<double>(mau);
      sum += *ratio;
      ++defined;
    }
    result.dau_over_mau.push_back(ratio);
  }
  if (defined > 0) result.mean_dau_over_mau = sum / defined;
  return result;
}

}  // namespace cohort::analytics::store
