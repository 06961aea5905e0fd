#include "analytics/reference/segmentation.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/model/formula.h"

namespace cohort::analytics::reference {
namespace {

struct Cell {
  int64_t count = 0;
  ActorSet actors;

  void Merge(const Cell& other) {
    count += other.count;
    actors.insert(other.actors.begin(), other.actors.end());
  }
  int64_t Uniques() const { return static_cast<int64_t>(actors.size()); }
  int64_t Value(SeriesMetric metric) const {
    return metric == SeriesMetric::kTotals ? count : Uniques();
  }
};

// One series in one group (or one label before grouping).
struct GroupCells {
  std::vector<Cell> buckets;
  Cell total;

  explicit GroupCells(size_t bucket_count) : buckets(bucket_count) {}
  void Merge(const GroupCells& other) {
    for (size_t b = 0; b < buckets.size(); ++b) buckets[b].Merge(other.buckets[b]);
    total.Merge(other.total);
  }
};

std::string SeriesName(size_t index) { return std::string(1, static_cast<char>('A' + index)); }

}  // namespace

absl::StatusOr<Answer<SegmentationResult>> Segment(const SegmentationQuery& query,
                                                   const Timelines& timelines) {
  std::vector<Formula> formulas;
  for (size_t f = 0; f < query.formulas.size(); ++f) {
    absl::StatusOr<Formula> formula =
        Formula::Parse(query.formulas[f], static_cast<int>(query.events.size()));
    if (!formula.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("formulas[", f, "]: ", std::string(formula.status().message())));
    }
    formulas.push_back(*std::move(formula));
  }

  const QueryScope& scope = query.scope;
  Answer<SegmentationResult> answer;
  std::vector<int64_t>& buckets = answer.result.buckets;
  buckets = timelines.calendar.BucketStarts(scope.from_ms, scope.to_ms, query.interval);
  std::map<int64_t, size_t> bucket_index;
  for (size_t b = 0; b < buckets.size(); ++b) bucket_index[buckets[b]] = b;

  // Per series: label ("" without group-by) → cells.
  std::vector<std::map<std::string, GroupCells>> by_label(query.events.size());
  for (const ActorTimeline& actor : timelines.actors) {
    for (const TimelineEvent& event : actor.events) {
      if (!timelines.InRange(event.time())) continue;
      size_t b = bucket_index.at(timelines.calendar.BucketStart(event.time(), query.interval));
      for (size_t s = 0; s < query.events.size(); ++s) {
        if (!Matches(query.events[s], event)) continue;
        std::string label = query.group_by ? GroupLabel(*query.group_by, event) : "";
        GroupCells& cells = by_label[s].try_emplace(label, buckets.size()).first->second;
        for (Cell* cell : {&cells.buckets[b], &cells.total}) {
          ++cell->count;
          cell->actors.insert(actor.actor);
        }
      }
    }
  }

  // The groups: labels ranked over all series.
  std::vector<std::string> groups;
  bool has_other = false;
  if (!query.group_by) {
    groups.push_back("");
  } else {
    std::map<std::string, int64_t> score;
    for (const auto& series : by_label) {
      for (const auto& [label, cells] : series) {
        score[label] += cells.total.Value(query.metric);
      }
    }
    std::vector<std::pair<int64_t, std::string>> ranked;
    for (const auto& [label, value] : score) ranked.emplace_back(-value, label);
    std::sort(ranked.begin(), ranked.end());
    size_t limit = static_cast<size_t>(std::max(query.limit, 0));
    for (size_t i = 0; i < ranked.size() && i < limit; ++i) groups.push_back(ranked[i].second);
    has_other = ranked.size() > limit;
  }

  // Per series, per output group (groups, then "(other)"): the cells.
  std::vector<std::vector<GroupCells>> grouped(query.events.size());
  for (size_t s = 0; s < query.events.size(); ++s) {
    for (const std::string& group : groups) {
      auto it = by_label[s].find(group);
      grouped[s].push_back(it != by_label[s].end() ? it->second : GroupCells(buckets.size()));
    }
    if (has_other) {
      GroupCells other(buckets.size());
      for (const auto& [label, cells] : by_label[s]) {
        if (std::find(groups.begin(), groups.end(), label) == groups.end()) other.Merge(cells);
      }
      grouped[s].push_back(std::move(other));
    }
  }
  std::vector<std::string> labels = groups;
  if (has_other) labels.push_back(kOtherGroup);

  auto value = [&](const Cell& cell) -> Number {
    return static_cast<double>(cell.Value(query.metric));
  };
  for (size_t s = 0; s < query.events.size(); ++s) {
    for (size_t g = 0; g < labels.size(); ++g) {
      const GroupCells& cells = grouped[s][g];
      Series series{SeriesName(s), labels[g], {}, value(cells.total)};
      int row = static_cast<int>(answer.result.series.size());
      for (size_t b = 0; b < buckets.size(); ++b) {
        series.values.push_back(value(cells.buckets[b]));
        answer.cells[{row, static_cast<int>(b)}] = cells.buckets[b].actors;
      }
      answer.cells[{row, -1}] = cells.total.actors;
      answer.result.series.push_back(std::move(series));
    }
  }
  for (size_t f = 0; f < formulas.size(); ++f) {
    for (size_t g = 0; g < labels.size(); ++g) {
      // Evaluates the formula on one bucket (b >= 0) or the range total (b = -1) of group g.
      auto evaluate = [&](int b) {
        return formulas[f].Evaluate([&](int s, Formula::Aggregate aggregate) -> Number {
          const GroupCells& cells = grouped[s][g];
          const Cell& cell = b < 0 ? cells.total : cells.buckets[b];
          return static_cast<double>(aggregate == Formula::Aggregate::kTotals ? cell.count
                                                                              : cell.Uniques());
        });
      };
      Series series{query.formulas[f], labels[g], {}, evaluate(-1)};
      for (size_t b = 0; b < buckets.size(); ++b) {
        series.values.push_back(evaluate(static_cast<int>(b)));
      }
      answer.result.series.push_back(std::move(series));
    }
  }
  return answer;
}

}  // namespace cohort::analytics::reference
