#include "analytics/store/retention_query.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "analytics/model/retention_spans.h"
#include "analytics/store/activity.h"
#include "analytics/store/actor_scan.h"
#include "analytics/store/event_matcher.h"
#include "analytics/store/hourly_active_actors.h"
#include "analytics/store/selector_type_masks.h"
#include "analytics/store/user_state.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// The day offsets an actor returned on, as bits (offsets past the last a cell reads share one).
class DayBits {
 public:
  explicit DayBits(int days) : words_(static_cast<size_t>(days / 64 + 1), 0) {}
  void Clear() { std::fill(words_.begin(), words_.end(), 0); }
  void Set(int day) { words_[day / 64] |= uint64_t{1} << (day % 64); }
  bool none() const {
    return std::all_of(words_.begin(), words_.end(), [](uint64_t w) { return w == 0; });
  }
  // Whether a day in [first, last] is set.
  bool Any(int first, int last) const {
    for (int w = first / 64; w <= last / 64; ++w) {
      uint64_t bits = words_[w];
      if (w == first / 64) bits &= ~uint64_t{0} << (first % 64);
      if (w == last / 64 && last % 64 != 63) bits &= (uint64_t{1} << (last % 64 + 1)) - 1;
      if (bits != 0) return true;
    }
    return false;
  }
  // The highest day set; -1 when none is.
  int Highest() const {
    for (size_t w = words_.size(); w-- > 0;) {
      if (words_[w] != 0) return static_cast<int>(w * 64) + 63 - std::countl_zero(words_[w]);
    }
    return -1;
  }
  // Calls visit(day) for each day set in [first, last], ascending.
  template <typename F>
  void ForEachSet(int first, int last, F&& visit) const {
    for (int w = first / 64; w <= last / 64; ++w) {
      uint64_t bits = words_[w];
      while (bits != 0) {
        const int day = w * 64 + std::countr_zero(bits);
        bits &= bits - 1;
        if (day > last) return;
        if (day >= first) visit(day);
      }
    }
  }

 private:
  std::vector<uint64_t> words_;
};

// One cohort date's sums. An actor's cells are complete through a day `L` (every cell whose
// last day is <= L), so the actors are counted by L instead of per cell, and only the cells of
// actors with a return are visited.
struct RowSums {
  int64_t size = 0;
  std::vector<int64_t> complete_through;  // [L + 1]: actors complete through day L (-1..last)
  // Per cell: complete and retained actors. Unbounded rows add them up at the end instead:
  // cells 0..k-1 of an actor are retained together, so retained[0] += 1, retained[k] -= 1.
  std::vector<int64_t> retained;
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
  // Calendar days: the civil days that have ended by as_of are those before as_of's day index
  // (every day in `starts` when as_of is past them all).
  const int64_t as_of = query.as_of_ms;
  const int ended_days =
      as_of >= starts.back() ? std::numeric_limits<int>::max() : std::max(0, day_index(as_of));

  Activity activity(view, scope);
  const bool new_users = query.start.event_type == kNewUserEvent;
  // For _new the start filters apply to the first-ever active event.
  EventSelector start_selector = query.start;
  if (new_users) start_selector.event_type = kAnyActiveEvent;
  std::vector<EventMatcher> matchers;  // 0: start, 1: return
  matchers.emplace_back(view, start_selector, activity);
  matchers.emplace_back(view, query.returned, activity);
  const bool needs_user_properties =
      matchers[0].needs_user_properties() || matchers[1].needs_user_properties();
  const SelectorTypeMasks type_masks(view, matchers);

  std::vector<RowSums> rows(static_cast<size_t>(cohort_days));
  for (RowSums& row : rows) {
    row.complete_through.resize(static_cast<size_t>(last_day + 2));
    row.retained.resize(spans.size());
  }
  std::optional<UserState> user_state;  // only when a filter reads user properties
  if (needs_user_properties) user_state.emplace(view);
  DayBits returned_on(beyond);  // by day offset 0..beyond
  // The day offset of a return at `t` of an actor whose day 0 starts at t0 on civil day `cohort`.
  const auto day_offset = [&](int64_t t0, int cohort, int64_t t) {
    const int64_t offset = query.days == RetentionDays::kRolling
                               ? (t - t0) / kDayMs
                               : static_cast<int64_t>(day_index(t) - cohort);
    return static_cast<int>(std::min<int64_t>(offset, beyond));
  };
  // Returns to _active under the default activity come from the actors' active hours
  // (hourly_active_actors.h) instead of their events: the scan stops at the start event.
  const bool returns_from_hours = query.returned.event_type == kAnyActiveEvent &&
                                  query.returned.filters.empty() &&
                                  HourlyActiveActors::Applies(scope);
  // And _new without filters starts at the actor's first active hour's first event: no event is
  // read at all.
  const bool start_from_hours = returns_from_hours && new_users && query.start.filters.empty();
  const HourlyActiveActors& hours = view.hourly_active();

  for (size_t a = 0; a < view.actor_count(); ++a) {
    bool in_cohort = false;
    int64_t t0 = 0;
    int cohort = 0;          // index of t0's civil day in `starts`
    int64_t day1_start = 0;  // where day 1 begins
    returned_on.Clear();
    const auto start = [&](int64_t t) {
      in_cohort = true;
      t0 = t;
      cohort = day_index(t0);
      day1_start = query.days == RetentionDays::kRolling ? t0 + kDayMs : starts[cohort + 1];
    };

    if (start_from_hours) {
      if (hours.hours_begin(a) == hours.hours_end(a)) continue;
      const int64_t first_active = hours.first_ms(hours.hours_begin(a));
      if (first_active < scope.from_ms || first_active >= scope.to_ms) continue;
      start(first_active);
    } else {
      // One event: its time, its event type id, `event()` giving its EventRef (read only for
      // filters) and the user properties as of it (empty when nothing reads them). Returns
      // whether the actor's later events still matter.
      const auto visit = [&](int64_t t, uint32_t type, auto&& event, const Properties* properties) {
        const uint32_t candidates = type_masks.TypeMask(type);
        const auto passes = [&](int i) {
          if (((candidates >> i) & 1) == 0) return false;
          return ((type_masks.filtered() >> i) & 1) == 0 ||
                 matchers[i].Matches(event(), properties);
        };
        if (!in_cohort) {
          if (new_users && !activity.active_type(type)) return true;
          bool in_range = t >= scope.from_ms && t < scope.to_ms;
          if (in_range && passes(0)) {
            start(t);
            return !returns_from_hours;
          }
          // For _new, the first-ever active event does not start a cohort: no cohort.
          return !new_users;
        }
        // Events come in time order: none after as_of counts any more. The start event itself
        // is never a return (it is before day 1).
        if (t >= as_of) return false;
        if (t >= day1_start && passes(1)) returned_on.Set(day_offset(t0, cohort, t));
        return true;
      };
      ScanActor(view, a, user_state ? &*user_state : nullptr, visit);
    }
    if (in_cohort && returns_from_hours) {
      // Each active hour's first and last events stand for it: an event between them lies on
      // one of their days (an hour is shorter than a day). The first counts when it is a
      // return; the last when it is before as_of — when it is not, the first's day is the only
      // day with a return before as_of that a complete cell can read (the last's day ends
      // after as_of).
      size_t i = hours.hours_begin(a);
      const size_t end = hours.hours_end(a);
      while (i < end && hours.last_ms(i) < day1_start) ++i;
      for (; i < end && hours.first_ms(i) < as_of; ++i) {
        const int64_t first = hours.first_ms(i), last = hours.last_ms(i);
        if (first >= day1_start) returned_on.Set(day_offset(t0, cohort, first));
        if (last < as_of) returned_on.Set(day_offset(t0, cohort, last));
      }
    }
    if (!in_cohort) continue;

    RowSums& row = rows[static_cast<size_t>(cohort)];
    ++row.size;
    // The last complete day: day N ends at t0 + (N + 1)·24 h, or at starts[cohort + N + 1].
    int64_t complete = query.days == RetentionDays::kRolling
                           ? (as_of < t0 ? -1 : (as_of - t0) / kDayMs - 1)
                           : static_cast<int64_t>(ended_days) - cohort - 1;
    const int through = static_cast<int>(std::clamp<int64_t>(complete, -1, last_day));
    ++row.complete_through[static_cast<size_t>(through + 1)];
    // Drill-down rows: the cohort's day index for now (mapped to result rows below), -1 total.
    const uint32_t actor = static_cast<uint32_t>(a);
    if (cells != nullptr) {
      cells->Add(cohort, 0, actor);
      cells->Add(-1, 0, actor);
    }
    if (returned_on.none()) continue;
    // The cells retained and complete, as the mode lays them out (retention_spans.h).
    const auto retain = [&](size_t c) {
      if (cells != nullptr) {
        cells->Add(cohort, static_cast<int>(c) + 1, actor);
        cells->Add(-1, static_cast<int>(c) + 1, actor);
      }
    };
    switch (query.mode) {
      case RetentionMode::kNDay:  // cell c is day c + 1
        returned_on.ForEachSet(1, through, [&](int day) {
          ++row.retained[static_cast<size_t>(day - 1)];
          retain(static_cast<size_t>(day - 1));
        });
        break;
      case RetentionMode::kUnbounded: {  // cell c: a return on day c + 1 or later
        const int retained_cells = std::min(returned_on.Highest(), through);
        if (retained_cells <= 0) break;
        ++row.retained[0];
        if (static_cast<size_t>(retained_cells) < spans.size()) --row.retained[retained_cells];
        for (int c = 0; c < retained_cells; ++c) retain(static_cast<size_t>(c));
        break;
      }
      case RetentionMode::kBracket:
        for (size_t c = 0; c < spans.size(); ++c) {
          auto [first, last] = spans[c];
          if (last <= through && returned_on.Any(first, last)) {
            ++row.retained[c];
            retain(c);
          }
        }
        break;
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

  for (size_t d = 0; d < rows.size(); ++d) {
    RowSums& sums = rows[d];
    if (sums.size == 0) continue;
    if (query.mode == RetentionMode::kUnbounded) {
      for (size_t c = 1; c < spans.size(); ++c) sums.retained[c] += sums.retained[c - 1];
    }
    RetentionRow row{starts[d], sums.size, std::vector<RetentionCell>(spans.size())};
    for (size_t c = 0; c < spans.size(); ++c) {
      RetentionCell& cell = row.cells[c];
      // Actors complete through the cell's last day or later.
      for (int through = spans[c].second; through <= last_day; ++through) {
        cell.out_of += sums.complete_through[static_cast<size_t>(through + 1)];
      }
      cell.count = sums.retained[c];
      cell.incomplete = cell.out_of < sums.size;
      RetentionCell& total = result.total.cells[c];
      total.count += cell.count;
      total.out_of += cell.out_of;
      total.incomplete = total.incomplete || cell.incomplete;
    }
    result.total.size += sums.size;
    result.rows.push_back(std::move(row));
  }
  return result;
}

}  // namespace cohort::analytics::store
