#include "analytics/reference/funnels.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cohort::analytics::reference {
namespace {

// How far one actor got: the times of its matched steps (unordered: the matched events' times in
// total order), one per step reached, and the event of step 1.
struct Progress {
  std::vector<int64_t> times;
  const TimelineEvent* first = nullptr;
};

Progress Ordered(const FunnelQuery& query, const Timelines& timelines, const ActorTimeline& actor) {
  const auto& events = actor.events;
  const auto& steps = query.steps;
  Progress best;
  for (size_t c = 0; c < events.size(); ++c) {
    if (!timelines.InRange(events[c].time()) || !Matches(steps[0], events[c])) continue;
    int64_t deadline = events[c].time() + query.window_ms;
    Progress progress{{events[c].time()}, &events[c]};
    size_t previous = c;
    for (size_t s = 1; s < steps.size(); ++s) {
      std::optional<size_t> found;
      for (size_t j = previous + 1; j < events.size() && events[j].time() <= deadline; ++j) {
        if (Matches(steps[s], events[j])) {
          found = j;
          break;
        }
      }
      if (!found) break;
      if (query.order == FunnelOrder::kStrict) {
        bool interrupted = false;
        for (size_t m = previous + 1; m < *found; ++m) interrupted |= events[m].active;
        if (interrupted) break;
      }
      progress.times.push_back(events[*found].time());
      previous = *found;
    }
    if (progress.times.size() > best.times.size()) best = std::move(progress);
  }
  return best;
}

// Bipartite matching of steps to events for the unordered mode. `candidates[s]`: the events
// (positions) step s may take.
class Assigner {
 public:
  explicit Assigner(const std::vector<std::vector<size_t>>& candidates) : candidates_(candidates) {}

  // The assignment of steps 0..reach-1 that uses `anchor`, smallest step by step; empty when
  // there is none.
  std::vector<size_t> SmallestUsing(size_t reach, size_t anchor) {
    std::set<size_t> used;
    if (!Feasible(0, reach, used, anchor)) return {};
    std::vector<size_t> chosen;
    for (size_t s = 0; s < reach; ++s) {
      for (size_t p : candidates_[s]) {
        if (used.contains(p)) continue;
        used.insert(p);
        if (Feasible(s + 1, reach, used, anchor)) {
          chosen.push_back(p);
          break;
        }
        used.erase(p);
      }
    }
    return chosen;
  }

 private:
  // Whether steps from..reach-1 can take distinct events not in `used`, `anchor` among the used
  // ones in the end.
  bool Feasible(size_t from, size_t reach, const std::set<size_t>& used, size_t anchor) {
    std::vector<size_t> steps;
    for (size_t s = from; s < reach; ++s) steps.push_back(s);
    if (used.contains(anchor)) return Match(steps, used);
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto& options = candidates_[steps[i]];
      if (std::find(options.begin(), options.end(), anchor) == options.end()) continue;
      std::vector<size_t> rest = steps;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
      std::set<size_t> with_anchor = used;
      with_anchor.insert(anchor);
      if (Match(rest, with_anchor)) return true;
    }
    return false;
  }

  // Whether every step of `steps` gets its own event outside `used` (Kuhn's augmenting paths).
  bool Match(const std::vector<size_t>& steps, const std::set<size_t>& used) {
    std::map<size_t, size_t> owner;  // event → step
    for (size_t s : steps) {
      std::set<size_t> visited;
      if (!Augment(s, used, owner, visited)) return false;
    }
    return true;
  }
  bool Augment(size_t step, const std::set<size_t>& used, std::map<size_t, size_t>& owner,
               std::set<size_t>& visited) {
    for (size_t p : candidates_[step]) {
      if (used.contains(p) || !visited.insert(p).second) continue;
      auto it = owner.find(p);
      if (it == owner.end() || Augment(it->second, used, owner, visited)) {
        owner[p] = step;
        return true;
      }
    }
    return false;
  }

  const std::vector<std::vector<size_t>>& candidates_;
};

Progress Unordered(const FunnelQuery& query, const Timelines& timelines,
                   const ActorTimeline& actor) {
  const auto& events = actor.events;
  const size_t k = query.steps.size();
  Progress best;
  for (size_t a = 0; a < events.size(); ++a) {
    if (!timelines.InRange(events[a].time())) continue;
    int64_t deadline = events[a].time() + query.window_ms;
    // Per step its first k events from the anchor on: enough for any assignment (a step with k
    // options always finds a free one), and the anchor itself, which comes first.
    std::vector<std::vector<size_t>> candidates(k);
    for (size_t j = a; j < events.size() && events[j].time() <= deadline; ++j) {
      for (size_t s = 0; s < k; ++s) {
        if (candidates[s].size() < k && Matches(query.steps[s], events[j])) {
          candidates[s].push_back(j);
        }
      }
    }
    Assigner assigner(candidates);
    for (size_t reach = k; reach > best.times.size(); --reach) {
      std::vector<size_t> chosen = assigner.SmallestUsing(reach, a);
      if (chosen.empty()) continue;
      Progress progress{{}, &events[chosen[0]]};
      std::sort(chosen.begin(), chosen.end());
      for (size_t p : chosen) progress.times.push_back(events[p].time());
      best = std::move(progress);
      break;
    }
  }
  return best;
}

struct Entry {
  const std::string* actor;
  const Progress* progress;
};

FunnelGroup BuildGroup(std::string label, const std::vector<Entry>& entries, size_t k, int row,
                       CellActors& cells) {
  FunnelGroup group{std::move(label), {}};
  for (size_t j = 0; j < k; ++j) {
    ActorSet& actors = cells[{row, static_cast<int>(j)}];
    std::vector<int64_t> gaps;
    for (const Entry& entry : entries) {
      if (entry.progress->times.size() <= j) continue;
      actors.insert(*entry.actor);
      if (j > 0) gaps.push_back(entry.progress->times[j] - entry.progress->times[j - 1]);
    }
    FunnelStep step;
    step.actors = static_cast<int64_t>(actors.size());
    auto ratio = [](int64_t a, int64_t b) -> Number {
      if (b == 0) return std::nullopt;
      return static_cast<double>(a) / static_cast<double>(b);
    };
    int64_t first = j == 0 ? step.actors : group.steps[0].actors;
    int64_t previous = j == 0 ? step.actors : group.steps[j - 1].actors;
    step.conversion_from_first = ratio(step.actors, first);
    step.conversion_from_previous = ratio(step.actors, previous);
    if (!gaps.empty()) {
      int64_t sum = 0;
      for (int64_t gap : gaps) sum += gap;
      step.average_time_ms = static_cast<double>(sum) / static_cast<double>(gaps.size());
      std::sort(gaps.begin(), gaps.end());
      step.median_time_ms = gaps[(gaps.size() - 1) / 2];
    }
    group.steps.push_back(std::move(step));
  }
  return group;
}

}  // namespace

Answer<FunnelResult> ComputeFunnel(const FunnelQuery& query, const Timelines& timelines) {
  std::vector<std::pair<const std::string*, Progress>> progress;
  for (const ActorTimeline& actor : timelines.actors) {
    Progress p = query.order == FunnelOrder::kUnordered ? Unordered(query, timelines, actor)
                                                        : Ordered(query, timelines, actor);
    if (!p.times.empty()) progress.emplace_back(&actor.actor, std::move(p));
  }
  const size_t k = query.steps.size();
  Answer<FunnelResult> answer;
  std::vector<Entry> all;
  std::map<std::string, std::vector<Entry>> by_label;
  for (const auto& [actor, p] : progress) {
    all.push_back({actor, &p});
    if (query.group_by) by_label[GroupLabel(*query.group_by, *p.first)].push_back({actor, &p});
  }
  answer.result.all = BuildGroup("", all, k, -1, answer.cells);
  if (!query.group_by) return answer;

  std::vector<std::pair<int64_t, std::string>> ranked;
  for (const auto& [label, entries] : by_label) {
    ranked.emplace_back(-static_cast<int64_t>(entries.size()), label);
  }
  std::sort(ranked.begin(), ranked.end());
  size_t limit = static_cast<size_t>(std::max(query.limit, 0));
  std::vector<Entry> other;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const std::vector<Entry>& entries = by_label[ranked[i].second];
    if (i < limit) {
      answer.result.groups.push_back(
          BuildGroup(ranked[i].second, entries, k, static_cast<int>(i), answer.cells));
    } else {
      other.insert(other.end(), entries.begin(), entries.end());
    }
  }
  if (ranked.size() > limit) {
    answer.result.groups.push_back(
        BuildGroup(kOtherGroup, other, k, static_cast<int>(limit), answer.cells));
  }
  return answer;
}

}  // namespace cohort::analytics::reference
