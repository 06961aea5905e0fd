#include "analytics/reference/retention.h"

#include <map>
#include <utility>
#include <vector>

namespace cohort::analytics::reference {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

struct Window {
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // exclusive
};

// The actor's day 0 event (index into its events), or -1 when it is not in the cohort.
int StartEvent(const RetentionQuery& query, const Timelines& timelines,
               const ActorTimeline& actor) {
  const auto& events = actor.events;
  if (query.start.event_type == kNewUserEvent) {
    for (size_t i = 0; i < events.size(); ++i) {
      if (!events[i].active) continue;
      bool counts =
          timelines.InRange(events[i].time()) && PassesFilters(query.start.filters, events[i]);
      return counts ? static_cast<int>(i) : -1;
    }
    return -1;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (timelines.InRange(events[i].time()) && Matches(query.start, events[i])) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// Cells of one row (or the total) being summed.
struct RowCells {
  ActorSet cohort;
  std::vector<RetentionCell> cells;
  std::vector<ActorSet> retained;
};

}  // namespace

Answer<RetentionResult> ComputeRetention(const RetentionQuery& query, const Timelines& timelines) {
  const Calendar& calendar = timelines.calendar;
  // The cells as day ranges [first, last].
  std::vector<std::pair<int, int>> spans;
  if (query.mode == RetentionMode::kBracket) {
    spans = query.brackets;
  } else {
    for (int n = 1; n <= query.max_day; ++n) spans.emplace_back(n, n);
  }

  std::map<int64_t, RowCells> rows;  // cohort day start → cells
  RowCells total;
  for (RowCells* row : {&total}) {
    row->cells.resize(spans.size());
    row->retained.resize(spans.size());
  }
  for (const ActorTimeline& actor : timelines.actors) {
    int start = StartEvent(query, timelines, actor);
    if (start < 0) continue;
    int64_t t0 = actor.events[start].time();
    absl::CivilDay day0 = calendar.Day(t0);
    auto window = [&](int n) -> Window {
      if (query.days == RetentionDays::kRolling) return {t0 + n * kDayMs, t0 + (n + 1) * kDayMs};
      return {calendar.DayStart(day0 + n), calendar.DayStart(day0 + n + 1)};
    };
    std::vector<int64_t> returns;
    for (size_t i = 0; i < actor.events.size(); ++i) {
      const TimelineEvent& event = actor.events[i];
      if (static_cast<int>(i) != start && event.time() < query.as_of_ms &&
          Matches(query.returned, event)) {
        returns.push_back(event.time());
      }
    }
    auto [row_it, inserted] = rows.try_emplace(calendar.DayStart(day0));
    RowCells& row = row_it->second;
    if (inserted) {
      row.cells.resize(spans.size());
      row.retained.resize(spans.size());
    }
    for (RowCells* cells : {&row, &total}) cells->cohort.insert(actor.actor);
    for (size_t c = 0; c < spans.size(); ++c) {
      auto [first, last] = spans[c];
      Window from = window(first);
      // Unbounded: from day N on (before as_of, as every return); else through day `last`.
      int64_t until =
          query.mode == RetentionMode::kUnbounded ? query.as_of_ms : window(last).end_ms;
      bool complete = window(last).end_ms <= query.as_of_ms;
      bool retained = false;
      for (int64_t t : returns) retained |= t >= from.start_ms && t < until;
      for (RowCells* cells : {&row, &total}) {
        RetentionCell& cell = cells->cells[c];
        if (!complete) {
          cell.incomplete = true;
          continue;
        }
        ++cell.out_of;
        if (retained) {
          ++cell.count;
          cells->retained[c].insert(actor.actor);
        }
      }
    }
  }

  Answer<RetentionResult> answer;
  auto emit = [&](int row_index, int64_t cohort_day, RowCells& cells) {
    RetentionRow row{cohort_day, static_cast<int64_t>(cells.cohort.size()), cells.cells};
    answer.cells[{row_index, 0}] = std::move(cells.cohort);
    for (size_t c = 0; c < spans.size(); ++c) {
      answer.cells[{row_index, static_cast<int>(c) + 1}] = std::move(cells.retained[c]);
    }
    return row;
  };
  for (auto& [cohort_day, cells] : rows) {
    int index = static_cast<int>(answer.result.rows.size());
    answer.result.rows.push_back(emit(index, cohort_day, cells));
  }
  answer.result.total = emit(-1, 0, total);
  return answer;
}

}  // namespace cohort::analytics::reference
