#include "analytics/store/actor_view.h"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace cohort::analytics::store {
namespace {

std::string_view DeviceOf(const EventRef& r) {
  uint32_t code = r.segment->device_code(r.index);
  return code == kNoCode ? std::string_view() : std::string_view(r.segment->devices()[code]);
}

std::string_view UserOf(const EventRef& r) {
  const GroupKey& g = r.segment->group(r.segment->group_of_event(r.index));
  return g.is_user ? std::string_view(g.id) : std::string_view();
}

}  // namespace

bool ActorView::Before(const EventRef& x, const EventRef& y) {
  int64_t tx = x.segment->time_ms(x.index), ty = y.segment->time_ms(y.index);
  if (tx != ty) return tx < ty;
  std::string_view ix = x.segment->insert_id(x.index), iy = y.segment->insert_id(y.index);
  if (ix != iy) return ix < iy;
  std::string_view dx = DeviceOf(x), dy = DeviceOf(y);
  if (dx != dy) return dx < dy;
  return UserOf(x) < UserOf(y);
}

void ActorView::MergeRuns(const EventRun* first, const EventRun* last,
                          std::vector<EventRef>* out) const {
  const size_t start = out->size();
  for (const EventRun* run = first; run != last; ++run) {
    const Segment* s = segments_[run->segment].get();
    for (uint32_t e = run->begin; e < run->end; ++e) out->push_back(EventRef{s, e, run->segment});
  }
  // Each run is sorted by (time, insert_id) already; a stable sort on the full order is simple.
  std::stable_sort(out->begin() + static_cast<std::ptrdiff_t>(start), out->end(), Before);
}

ActorView ActorView::Build(std::vector<SegmentPtr> segments, IdentityMerge identity) {
  ActorView view;
  view.segments_ = std::move(segments);
  absl::flat_hash_map<GroupKey, uint32_t> group_ids;
  std::vector<const GroupKey*> keys;
  std::vector<std::vector<EventRun>> group_runs;
  for (uint32_t s = 0; s < view.segments_.size(); ++s) {
    const Segment& segment = *view.segments_[s];
    for (size_t g = 0; g < segment.group_count(); ++g) {
      auto [it, inserted] = group_ids.try_emplace(segment.group(g), keys.size());
      if (inserted) {
        keys.push_back(&segment.group(g));
        group_runs.emplace_back();
      }
      group_runs[it->second].push_back(
          EventRun{s, segment.group_begin(g), segment.group_begin(g + 1)});
    }
  }
  std::vector<uint32_t> root(keys.size());
  std::iota(root.begin(), root.end(), 0);
  if (identity == IdentityMerge::kDeviceToUser) {
    // The earliest event carrying both ids, per device: (time, insert_id, user_id). Found per
    // segment first, in an array indexed by the segment's device codes (most events repeat
    // their group's device), then folded across segments by device id.
    using First = std::tuple<int64_t, std::string_view, std::string_view>;
    absl::flat_hash_map<std::string_view, First> first;
    std::vector<First> best;  // by device code; valid where `has`
    std::vector<uint8_t> has;
    std::vector<uint32_t> seen;  // the codes with `has`
    for (const SegmentPtr& segment : view.segments_) {
      const Segment& s = *segment;
      best.resize(s.devices().size());
      has.assign(s.devices().size(), 0);
      seen.clear();
      for (size_t g = 0; g < s.group_count(); ++g) {
        if (!s.group(g).is_user) continue;
        const std::string_view user = s.group(g).id;
        uint32_t previous = kNoCode;
        for (uint32_t e = s.group_begin(g); e < s.group_begin(g + 1); ++e) {
          const uint32_t code = s.device_code(e);
          // A group's events are in (time, insert_id) order: only the first of a run of the
          // same device can be its earliest.
          if (code == kNoCode || code == previous) continue;
          previous = code;
          First candidate{s.time_ms(e), s.insert_id(e), user};
          if (!has[code]) {
            has[code] = 1;
            seen.push_back(code);
            best[code] = candidate;
          } else if (candidate < best[code]) {
            best[code] = candidate;
          }
        }
      }
      for (uint32_t code : seen) {
        auto [it, inserted] = first.try_emplace(s.devices()[code], best[code]);
        if (!inserted && best[code] < it->second) it->second = best[code];
      }
    }
    for (uint32_t id = 0; id < keys.size(); ++id) {
      if (keys[id]->is_user) continue;
      auto it = first.find(keys[id]->id);
      if (it == first.end()) continue;
      root[id] = group_ids.at(GroupKey{true, std::string(std::get<2>(it->second))});
    }
  }
  std::vector<std::vector<uint32_t>> members(keys.size());
  for (uint32_t id = 0; id < keys.size(); ++id) members[root[id]].push_back(id);
  std::vector<std::pair<std::string, uint32_t>> actors;
  for (uint32_t id = 0; id < keys.size(); ++id) {
    if (root[id] != id) continue;
    actors.emplace_back(keys[id]->is_user ? keys[id]->id : absl::StrCat("device:", keys[id]->id),
                        id);
  }
  std::sort(actors.begin(), actors.end());
  view.run_offsets_.push_back(0);
  view.order_offsets_.push_back(0);
  for (auto& [actor_id, id] : actors) {
    view.actor_ids_.push_back(std::move(actor_id));
    const size_t first_run = view.runs_.size();
    for (uint32_t member : members[id]) {
      for (const EventRun& run : group_runs[member]) view.runs_.push_back(run);
    }
    view.run_offsets_.push_back(static_cast<uint32_t>(view.runs_.size()));
    if (view.runs_.size() - first_run > 1) {
      view.MergeRuns(view.runs_.data() + first_run, view.runs_.data() + view.runs_.size(),
                     &view.order_);
    }
    view.order_offsets_.push_back(view.order_.size());
  }
  return view;
}

}  // namespace cohort::analytics::store
