#include "analytics/store/retention_query.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "analytics/model/retention_spans.h"
#include "analytics/store/activity.h"
#include "analytics/store/event_matcher.h"
#include "analytics/store/user_state.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// One cohort date's (or the total's) sums.
struct RowSums {
  int64_t size = 0;
  std::vector<RetentionCell> cells;
};

}  // namespace

absl::StatusOr<RetentionResult> RunRetention(const RetentionQuery& query, const ActorView& view,
                                             CellCollector* cells) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return calendar.status();

  // The cells as inclusive day spans [first, last].
  const std::vector<std::pair<int, int>> spans = RetentionSpans(query);
  const int last_day = RetentionLastDay(spans);
  // Day offsets from t0 that a cell reads are 1..last_day; `beyond` stands for every later day.
  const int beyond = last_day + 1;

  RetentionResult result;
  result.total.cells.resize(spans.size());
  if (scope.from_ms >= scope.to_ms) return result;

  // Civil day starts from the range's first day through the day after the last cohort date's
  // day `last_day`: starts[i] is the first instant of civil day first_day + i.
  const absl::CivilDay first_day = calendar->Day(scope.from_ms);
  const int cohort_days = static_cast<int>(calendar->Day(scope.to_ms - 1) - first_day) + 1;
  std::vector<int64_t> starts(static_cast<size_t>(cohort_days + last_day + 1));
  for (size_t i = 0; i < starts.size(); ++i) {
    starts[i] = calendar->DayStart(first_day + static_cast<int64_t>(i));
  }
  // The civil day index (into `starts`) of `t` >= starts[0]; the last index for later times.
  auto day_index = [&](int64_t t) {
    return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), t) - starts.begin()) - 1;
  };

  Activity activity(view, scope);
  const bool new_users = query.start.event_type == kNewUserEvent;
  // For _new the start filters apply to the first-ever active event.
  EventSelector start_selector = query.start;
  if (new_users) start_selector.event_type = kAnyActiveEvent;
  EventMatcher start_matcher(view, start_selector, activity);
  EventMatcher return_matcher(view, query.returned, activity);
  const bool needs_user_properties =
      start_matcher.needs_user_properties() || return_matcher.needs_user_properties();

  std::vector<RowSums> rows(static_cast<size_t>(cohort_days));
  for (RowSums& row : rows) row.cells.resize(spans.size());
  UserState user_state;
  std::vector<bool> returned_on(static_cast<size_t>(beyond + 1));  // by day offset 0..beyond

  for (size_t a = 0; a < view.actor_count(); ++a) {
    enum class Phase { kSeeking, kStarted, kDone };
    Phase phase = Phase::kSeeking;
    bool in_cohort = false;
    int64_t t0 = 0;
    int cohort = 0;          // index of t0's civil day in `starts`
    int64_t day1_start = 0;  // where day 1 begins
    user_state.Reset();
    std::fill(returned_on.begin(), returned_on.end(), false);

    view.ForEachEvent(a, [&](const EventRef& ref) {
      if (phase == Phase::kDone) return;
      const Properties* properties = needs_user_properties ? &user_state.Advance(ref) : nullptr;
      int64_t t = ref.segment->time_ms(ref.index);
      if (phase == Phase::kSeeking) {
        if (new_users && !activity.active(ref)) return;
        bool in_range = t >= scope.from_ms && t < scope.to_ms;
        if (in_range && start_matcher.Matches(ref, properties)) {
          phase = Phase::kStarted;
          in_cohort = true;
          t0 = t;
          cohort = static_cast<int>(calendar->Day(t0) - first_day);
          day1_start = query.days == RetentionDays::kRolling ? t0 + kDayMs : starts[cohort + 1];
        } else if (new_users) {
          phase = Phase::kDone;  // the first-ever active event does not start a cohort
        }
        return;  // the start event itself is never a return
      }
      // Events come in time order: none after as_of counts any more.
      if (t >= query.as_of_ms) {
        phase = Phase::kDone;
        return;
      }
      if (t < day1_start || !return_matcher.Matches(ref, properties)) return;
      int64_t offset = query.days == RetentionDays::kRolling
                           ? (t - t0) / kDayMs
                           : static_cast<int64_t>(day_index(t) - cohort);
      returned_on[static_cast<size_t>(std::min<int64_t>(offset, beyond))] = true;
    });
    if (!in_cohort) continue;

    RowSums& row = rows[static_cast<size_t>(cohort)];
    ++row.size;
    ++result.total.size;
    // Drill-down rows: the cohort's day index for now (mapped to result rows below), -1 total.
    const uint32_t actor = static_cast<uint32_t>(a);
    if (cells != nullptr) {
      cells->Add(cohort, 0, actor);
      cells->Add(-1, 0, actor);
    }
    for (size_t c = 0; c < spans.size(); ++c) {
      auto [first, last] = spans[c];
      int64_t last_end = query.days == RetentionDays::kRolling ? t0 + (last + 1) * kDayMs
                                                               : starts[cohort + last + 1];
      bool complete = last_end <= query.as_of_ms;
      // Unbounded: day `first` or any later day (returns are all before as_of).
      int until = query.mode == RetentionMode::kUnbounded ? beyond : last;
      bool retained = false;
      for (int k = first; k <= until && !retained; ++k) retained = returned_on[k];
      for (RetentionCell* cell : {&row.cells[c], &result.total.cells[c]}) {
        if (!complete) {
          cell->incomplete = true;
          continue;
        }
        ++cell->out_of;
        if (retained) ++cell->count;
      }
      if (complete && retained && cells != nullptr) {
        cells->Add(cohort, static_cast<int>(c) + 1, actor);
        cells->Add(-1, static_cast<int>(c) + 1, actor);
      }
    }
  }

  std::vector<int> result_row(rows.size(), -1);
  for (size_t c = 0, r = 0; c < rows.size(); ++c) {
    if (rows[c].size > 0) result_row[c] = static_cast<int>(r++);
  }
  if (cells != nullptr) {
    cells->MapRows([&](int row) -> std::optional<int> {
      return row < 0 ? -1 : result_row[static_cast<size_t>(row)];
    });
  }

  for (size_t c = 0; c < rows.size(); ++c) {
    if (rows[c].size == 0) continue;
    result.rows.push_back(RetentionRow{starts[c], rows[c].size, std::move(rows[c].cells)});
  }
  return result;
}

}  // namespace cohort::analytics::store
