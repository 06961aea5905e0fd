// Funnels (analytics.md, "Funnels"): how far one actor got, and a group's step counts and times.
// Pure functions over one actor's events, shared by every engine that finds the per-actor
// progress itself (the embedded store always; ClickHouse for unordered funnels) so they cannot
// drift apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics {

// Steps are bits of a mask; the unordered mode enumerates subsets of them.
inline constexpr size_t kMaxFunnelSteps = 16;

// One actor's events in total order, reduced to what a funnel reads. All four vectors have one
// entry per event; `active` is read by strict funnels only (others may fill it with false).
struct FunnelActorEvents {
  std::vector<int64_t> time;
  std::vector<uint32_t> steps;  // bit s: the event matches step s
  std::vector<uint8_t> active;  // 1: an active event (strict funnels stop at one)
  std::vector<int32_t> label;   // group-by label id of events matching step 1, else -1

  void Clear() {
    time.clear();
    steps.clear();
    active.clear();
    label.clear();
  }
  size_t size() const { return time.size(); }
};

// How far an actor got: the times of its matched events in total order, one per step reached,
// and the label of its step-1 event (empty times: the actor did not enter the funnel).
struct FunnelProgress {
  std::vector<int64_t> times;
  int32_t label = -1;
};

// Finds the furthest progress of actors for one query (order, window, scope's [from_ms, to_ms)
// for the step-1 event); keeps its buffers between actors. Requires 1..kMaxFunnelSteps steps.
// Ordered and strict: the earliest in-range step-1 event reaching furthest, each next step the
// step's next match after the previous one (strict: with no active event between). Unordered:
// distinct events of the window for steps 1..reach (Hall's condition), the smallest step first.
class FunnelProgressScan {
 public:
  explicit FunnelProgressScan(const FunnelQuery& query);

  // The reference stays valid until the next call.
  const FunnelProgress& Best(const FunnelActorEvents& events);

 private:
  void BestOrdered(const FunnelActorEvents& events);
  void BestUnordered(const FunnelActorEvents& events);
  bool InRange(int64_t t) const;
  void Shift(uint32_t mask, int64_t delta);
  bool Hall(uint32_t wanted) const;
  bool Feasible(uint32_t wanted, bool anchor_pending) const;
  FunnelProgress Assign(const FunnelActorEvents& events, size_t anchor, size_t end, size_t reach);

  const FunnelQuery& query_;
  const size_t k_;
  const uint32_t full_;
  // Ordered: next_[s * (n + 1) + i], the first event at or after i matching step s.
  std::vector<uint32_t> next_;
  std::vector<uint32_t> next_active_;
  std::vector<int64_t> times_;  // BestOrdered's candidate
  FunnelProgress best_;         // Best's answer
  // Unordered.
  uint32_t anchor_mask_ = 0;
  std::vector<int64_t> sums_;
  std::vector<uint32_t> removed_;  // masks of the events already assigned (anchor excluded)
};

// One actor's entry in a funnel result: the steps reached and its gaps (reach - 1 of them at
// gaps_offset in the gaps of all entries).
struct FunnelEntry {
  uint32_t actor = 0;  // the engine's actor id (for drill-down; 0 when unused)
  size_t reach = 0;
  size_t gaps_offset = 0;
  int32_t label = -1;
};

// A result group over `entries`: per step its actors, conversions, and average and lower-median
// time from the previous step.
FunnelGroup BuildFunnelGroup(std::string label, const std::vector<const FunnelEntry*>& entries,
                             const std::vector<int64_t>& all_gaps, size_t k);

// The result over `entries` (labels: the group-by label of each id; the entries' gaps in `gaps`):
// `all`, and with a group-by the top query.limit labels by step-1 actors (ties by label), then
// the rest as kOtherGroup. `on_group`, when set, sees each row's entries: -1 for `all`, then the
// index of each group.
FunnelResult BuildFunnelResult(
    const FunnelQuery& query, const std::vector<FunnelEntry>& entries,
    const std::vector<int64_t>& gaps, const std::vector<std::string>& labels,
    const std::function<void(int row, const std::vector<const FunnelEntry*>& members)>& on_group =
        nullptr);

}  // namespace cohort::analytics
