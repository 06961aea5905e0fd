#include "analytics/model/funnel_progress.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

namespace cohort::analytics {
namespace {

constexpr uint32_t kNone = UINT32_MAX;

}  // namespace

FunnelProgressScan::FunnelProgressScan(const FunnelQuery& query)
    : query_(query), k_(query.steps.size()), full_((1u << k_) - 1) {}

const FunnelProgress& FunnelProgressScan::Best(const FunnelActorEvents& events) {
  best_.times.clear();
  best_.label = -1;
  if (query_.order == FunnelOrder::kUnordered) {
    BestUnordered(events);
  } else {
    BestOrdered(events);
  }
  return best_;
}

bool FunnelProgressScan::InRange(int64_t t) const {
  return t >= query_.scope.from_ms && t < query_.scope.to_ms;
}

// Ordered and strict: every in-range step-1 event is a candidate; each next step jumps to the
// step's next match after the previous matched event.
void FunnelProgressScan::BestOrdered(const FunnelActorEvents& events) {
  const size_t n = events.size();
  const bool strict = query_.order == FunnelOrder::kStrict;
  FunnelProgress& best = best_;
  bool entered = false;  // some step-1 event in range: else the tables below are not needed
  for (size_t c = 0; c < n && !entered; ++c) {
    entered = (events.steps[c] & 1) != 0 && InRange(events.time[c]);
  }
  if (!entered) return;
  // next_[s * (n + 1) + i]: the first event at or after i matching step s (kNone: none), for
  // s >= 1; every entry is written below.
  next_.resize(k_ * (n + 1));
  next_active_.resize(n + 1);
  for (size_t s = 1; s < k_; ++s) next_[s * (n + 1) + n] = kNone;
  next_active_[n] = kNone;
  for (size_t i = n; i-- > 0;) {
    for (size_t s = 1; s < k_; ++s) {
      next_[s * (n + 1) + i] =
          (events.steps[i] >> s) & 1 ? static_cast<uint32_t>(i) : next_[s * (n + 1) + i + 1];
    }
    if (strict) {
      next_active_[i] = events.active[i] ? static_cast<uint32_t>(i) : next_active_[i + 1];
    }
  }
  std::vector<int64_t>& times = times_;
  for (size_t c = 0; c < n && best.times.size() < k_; ++c) {
    if ((events.steps[c] & 1) == 0 || !InRange(events.time[c])) continue;
    const int64_t deadline = events.time[c] + query_.window_ms;
    times.assign(1, events.time[c]);
    size_t previous = c;
    for (size_t s = 1; s < k_; ++s) {
      uint32_t found = next_[s * (n + 1) + previous + 1];
      if (found == kNone || events.time[found] > deadline) break;
      if (strict && next_active_[previous + 1] < found) break;
      times.push_back(events.time[found]);
      previous = found;
    }
    if (times.size() > best.times.size()) {
      best.times = times;
      best.label = events.label[c];
    }
  }
}

// Unordered: which steps can take distinct events of a window is Hall's condition over the
// events' step masks — steps T can all be served iff at least |T| events match some step of T —
// checked with subset sums over the masks of the window's events.
void FunnelProgressScan::BestUnordered(const FunnelActorEvents& events) {
  const size_t n = events.size();
  FunnelProgress& best = best_;
  sums_.assign(size_t{1} << k_, 0);
  // sums_ covers the events (anchor, end): the window without the anchor.
  size_t end = 0;
  for (size_t a = 0; a < n && best.times.size() < k_; ++a) {
    if (end > a) Shift(events.steps[a], -1);  // a leaves the window's rest
    if (end <= a) end = a + 1;
    const int64_t deadline = events.time[a] + query_.window_ms;
    while (end < n && events.time[end] <= deadline) Shift(events.steps[end++], +1);
    if (events.steps[a] == 0 || !InRange(events.time[a])) continue;
    anchor_mask_ = events.steps[a];
    for (size_t reach = k_; reach > best.times.size(); --reach) {
      const uint32_t wanted = (1u << reach) - 1;
      removed_.clear();
      if (!Feasible(wanted, /*anchor_pending=*/true)) continue;
      best = Assign(events, a, end, reach);
      break;
    }
  }
}

// sums_[S] = the number of window events (anchor excluded) matching some step, all of whose
// steps lie in S. An event enters or leaves every superset of its mask; events matching no
// step never serve one and stay out.
void FunnelProgressScan::Shift(uint32_t mask, int64_t delta) {
  if (mask == 0) return;
  for (uint32_t s = mask;; s = (s + 1) | mask) {
    sums_[s] += delta;
    if (s == full_) break;
  }
}

// Whether the steps of `wanted` can take distinct events of the window other than removed_.
bool FunnelProgressScan::Hall(uint32_t wanted) const {
  const int64_t total = sums_[full_];
  for (uint32_t t = wanted; t != 0; t = (t - 1) & wanted) {
    int64_t serving = total - sums_[full_ & ~t];
    for (uint32_t r : removed_) serving -= (r & t) != 0;
    if (serving < std::popcount(t)) return false;
  }
  return true;
}

// Hall, and when the anchor is pending, the anchor takes one of the wanted steps it matches.
bool FunnelProgressScan::Feasible(uint32_t wanted, bool anchor_pending) const {
  if (!anchor_pending) return Hall(wanted);
  for (uint32_t options = wanted & anchor_mask_; options != 0; options &= options - 1) {
    if (Hall(wanted & ~(options & -options))) return true;
  }
  return false;
}

// The assignment of steps 0..reach-1 smallest step by step, given that one exists.
FunnelProgress FunnelProgressScan::Assign(const FunnelActorEvents& events, size_t anchor,
                                          size_t end, size_t reach) {
  uint32_t wanted = (1u << reach) - 1;
  bool anchor_pending = true;
  std::vector<size_t> chosen;
  int32_t label = -1;
  for (size_t s = 0; s < reach; ++s) {
    const uint32_t bit = 1u << s;
    wanted &= ~bit;
    std::optional<size_t> pick;
    if (anchor_pending && (anchor_mask_ & bit) && Feasible(wanted, false)) {
      pick = anchor;
      anchor_pending = false;
    }
    // Events with equal masks are interchangeable here: a mask that failed fails again.
    std::vector<uint32_t> failed;
    for (size_t p = anchor + 1; !pick && p < end; ++p) {
      uint32_t mask = events.steps[p];
      if (!(mask & bit) || std::find(chosen.begin(), chosen.end(), p) != chosen.end() ||
          std::find(failed.begin(), failed.end(), mask) != failed.end()) {
        continue;
      }
      removed_.push_back(mask);
      if (Feasible(wanted, anchor_pending)) {
        pick = p;
      } else {
        removed_.pop_back();
        failed.push_back(mask);
      }
    }
    if (!pick) {
      // A bug: feasibility of the whole reach guarantees a pick (Hall's theorem).
      std::fprintf(stderr, "funnel_progress: unordered assignment found no event for step %zu\n",
                   s + 1);
      std::abort();
    }
    if (s == 0) label = events.label[*pick];
    chosen.push_back(*pick);
  }
  std::sort(chosen.begin(), chosen.end());
  FunnelProgress progress;
  progress.label = label;
  for (size_t p : chosen) progress.times.push_back(events.time[p]);
  return progress;
}

FunnelGroup BuildFunnelGroup(std::string label, const std::vector<const FunnelEntry*>& entries,
                             const std::vector<int64_t>& all_gaps, size_t k) {
  auto ratio = [](int64_t a, int64_t b) -> Number {
    if (b == 0) return std::nullopt;
    return static_cast<double>(a) / static_cast<double>(b);
  };
  // One pass over the entries: actors reaching each step, and the gaps into each step.
  std::vector<int64_t> reached(k, 0);
  std::vector<std::vector<int64_t>> gaps(k);
  for (const FunnelEntry* entry : entries) {
    for (size_t j = 0; j < entry->reach; ++j) {
      ++reached[j];
      if (j > 0) gaps[j].push_back(all_gaps[entry->gaps_offset + j - 1]);
    }
  }
  FunnelGroup group{std::move(label), {}};
  for (size_t j = 0; j < k; ++j) {
    FunnelStep step;
    step.actors = reached[j];
    const int64_t first = reached[0];
    const int64_t previous = j == 0 ? reached[0] : reached[j - 1];
    step.conversion_from_first = ratio(step.actors, first);
    step.conversion_from_previous = ratio(step.actors, previous);
    std::vector<int64_t>& into = gaps[j];
    if (!into.empty()) {
      int64_t sum = 0;
      for (int64_t gap : into) sum += gap;
      step.average_time_ms = static_cast<double>(sum) / static_cast<double>(into.size());
      auto median = into.begin() + static_cast<std::ptrdiff_t>((into.size() - 1) / 2);
      std::nth_element(into.begin(), median, into.end());
      step.median_time_ms = *median;
    }
    group.steps.push_back(std::move(step));
  }
  return group;
}

FunnelResult BuildFunnelResult(
    const FunnelQuery& query, const std::vector<FunnelEntry>& entries,
    const std::vector<int64_t>& gaps, const std::vector<std::string>& labels,
    const std::function<void(int row, const std::vector<const FunnelEntry*>& members)>& on_group) {
  const size_t k = query.steps.size();
  FunnelResult result;
  std::vector<const FunnelEntry*> all;
  std::vector<std::vector<const FunnelEntry*>> by_label(labels.size());
  for (const FunnelEntry& entry : entries) {
    all.push_back(&entry);
    if (query.group_by) by_label[entry.label].push_back(&entry);
  }
  result.all = BuildFunnelGroup("", all, gaps, k);
  auto collect = [&](int row, const std::vector<const FunnelEntry*>& members) {
    if (on_group) on_group(row, members);
  };
  collect(-1, all);
  if (!query.group_by) return result;

  // Every entry reached step 1, so a group's size is its step-1 actors.
  std::vector<int32_t> ranked;
  for (size_t l = 0; l < labels.size(); ++l) {
    if (!by_label[l].empty()) ranked.push_back(static_cast<int32_t>(l));
  }
  std::sort(ranked.begin(), ranked.end(), [&](int32_t x, int32_t y) {
    if (by_label[x].size() != by_label[y].size()) return by_label[x].size() > by_label[y].size();
    return labels[x] < labels[y];
  });
  const size_t limit = static_cast<size_t>(std::max(query.limit, 0));
  std::vector<const FunnelEntry*> other;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const std::vector<const FunnelEntry*>& members = by_label[ranked[i]];
    if (i < limit) {
      collect(static_cast<int>(result.groups.size()), members);
      result.groups.push_back(BuildFunnelGroup(labels[ranked[i]], members, gaps, k));
    } else {
      other.insert(other.end(), members.begin(), members.end());
    }
  }
  if (ranked.size() > limit) {
    collect(static_cast<int>(result.groups.size()), other);
    result.groups.push_back(BuildFunnelGroup(kOtherGroup, other, gaps, k));
  }
  return result;
}

}  // namespace cohort::analytics
