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

size_t ActorView::memory_bytes() const {
  size_t bytes =
      actor_ids_.capacity() * sizeof(std::string) + run_offsets_.capacity() * sizeof(uint32_t) +
      runs_.capacity() * sizeof(EventRun) + order_.capacity() * sizeof(EventRef) +
      order_offsets_.capacity() * sizeof(size_t) + timeline_offsets_.capacity() * sizeof(size_t) +
      timeline_time_.capacity() * sizeof(int64_t) + timeline_type_.capacity() * sizeof(uint32_t) +
      type_offsets_.capacity() * sizeof(size_t) + type_positions_.capacity() * sizeof(uint32_t) +
      hourly_active_.memory_bytes();
  for (const std::string& id : actor_ids_) {
    if (id.capacity() > 15) bytes += id.capacity() + 1;  // beyond the small-string buffer
  }
  for (const std::vector<uint32_t>& ids : type_ids_) bytes += ids.capacity() * sizeof(uint32_t);
  for (const std::vector<uint32_t>& actors : group_actors_) {
    bytes += actors.capacity() * sizeof(uint32_t);
  }
  return bytes;
}

void ActorView::BuildTimeline() {
  absl::flat_hash_map<std::string_view, uint32_t> ids;
  for (const SegmentPtr& segment : segments_) {
    std::vector<uint32_t>& codes = type_ids_.emplace_back();
    codes.reserve(segment->event_types().size());
    for (const std::string& type : segment->event_types()) {
      auto [it, inserted] = ids.try_emplace(type, static_cast<uint32_t>(event_types_.size()));
      if (inserted) event_types_.push_back(type);
      codes.push_back(it->second);
    }
  }
  size_t events = 0;
  for (const SegmentPtr& segment : segments_) events += segment->event_count();
  timeline_time_.reserve(events);
  timeline_type_.reserve(events);
  timeline_offsets_.reserve(actor_count() + 1);
  timeline_offsets_.push_back(0);
  for (size_t a = 0; a < actor_count(); ++a) {
    ForEachEvent(a, [&](const EventRef& ref) {
      timeline_time_.push_back(ref.segment->time_ms(ref.index));
      timeline_type_.push_back(
          type_ids_[ref.segment_number][ref.segment->event_type_code(ref.index)]);
    });
    timeline_offsets_.push_back(timeline_time_.size());
  }
  BuildTypeIndex();
}

void ActorView::BuildTypeIndex() {
  if (timeline_type_.size() > UINT32_MAX) return;  // positions are 32-bit; scans use the timeline
  type_offsets_.assign(event_types_.size() + 1, 0);
  for (uint32_t type : timeline_type_) ++type_offsets_[type + 1];
  for (size_t t = 0; t < event_types_.size(); ++t) type_offsets_[t + 1] += type_offsets_[t];
  type_positions_.resize(timeline_type_.size());
  std::vector<size_t> next(type_offsets_.begin(), type_offsets_.end() - 1);
  for (size_t i = 0; i < timeline_type_.size(); ++i) {
    type_positions_[next[timeline_type_[i]]++] = static_cast<uint32_t>(i);
  }
}

size_t ActorView::ActorAt(size_t position, size_t from) const {
  // Gallop forward, then binary search: scans ask for nearby actors.
  size_t low = from;  // timeline_offsets_[low] <= position
  size_t step = 1;
  size_t high = low + step;
  while (high < actor_count() && timeline_offsets_[high] <= position) {
    low = high;
    step *= 2;
    high = low + step;
  }
  high = std::min(high, actor_count());
  // The last actor in [low, high) whose timeline begins at or before `position`.
  return static_cast<size_t>(std::upper_bound(timeline_offsets_.begin() + low + 1,
                                              timeline_offsets_.begin() + high, position) -
                             timeline_offsets_.begin()) -
         1;
}

namespace {

// Visits the elements of several sorted lists in merged order: list `l` has sizes[l] elements,
// `less(l1, i1, l2, i2)` orders two of them, and equal elements are visited in list order.
// `visit(l, i)`.
template <typename Less, typename Visit>
void MergeSorted(const std::vector<uint32_t>& sizes, Less less, Visit visit) {
  using Cursor = std::pair<uint32_t, uint32_t>;  // list, index
  const auto after = [&](const Cursor& x, const Cursor& y) {
    if (less(x.first, x.second, y.first, y.second)) return false;
    if (less(y.first, y.second, x.first, x.second)) return true;
    return x.first > y.first;
  };
  std::vector<Cursor> heap;
  for (uint32_t l = 0; l < sizes.size(); ++l) {
    if (sizes[l] > 0) heap.emplace_back(l, 0);
  }
  std::make_heap(heap.begin(), heap.end(), after);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), after);
    Cursor& c = heap.back();
    visit(c.first, c.second);
    if (++c.second < sizes[c.first]) {
      std::push_heap(heap.begin(), heap.end(), after);
    } else {
      heap.pop_back();
    }
  }
}

// A candidate for a device's first user: the event `e` of user group `g` in a segment.
struct DeviceEvent {
  uint32_t code;  // the device's code in the segment
  uint32_t e;
  uint32_t g;
};

// The order of candidates: the earliest event (time, insert_id, user_id) is the device's.
std::tuple<int64_t, std::string_view, std::string_view> FirstKey(const Segment& s,
                                                                 const DeviceEvent& c) {
  return {s.time_ms(c.e), s.insert_id(c.e), s.group(c.g).id};
}

}  // namespace

ActorView ActorView::Build(std::vector<SegmentPtr> segments, IdentityMerge identity) {
  ActorView view;
  view.segments_ = std::move(segments);
  const std::vector<SegmentPtr>& segs = view.segments_;
  const uint32_t segment_count = static_cast<uint32_t>(segs.size());

  // The distinct storage groups in key order (devices, then users, each by id): a merge of the
  // segments' sorted group lists, each group with its runs in segment order.
  std::vector<const GroupKey*> keys;
  std::vector<uint32_t> run_begin;  // group -> its first run in `group_runs`
  std::vector<EventRun> group_runs;
  std::vector<uint32_t> group_run_groups;  // parallel to group_runs: the run's segment group
  {
    std::vector<uint32_t> sizes(segment_count);
    for (uint32_t s = 0; s < segment_count; ++s) {
      sizes[s] = static_cast<uint32_t>(segs[s]->group_count());
    }
    MergeSorted(
        sizes,
        [&](uint32_t s1, uint32_t g1, uint32_t s2, uint32_t g2) {
          return segs[s1]->group(g1) < segs[s2]->group(g2);
        },
        [&](uint32_t s, uint32_t g) {
          const GroupKey& key = segs[s]->group(g);
          if (keys.empty() || !(*keys.back() == key)) {
            keys.push_back(&key);
            run_begin.push_back(static_cast<uint32_t>(group_runs.size()));
          }
          group_runs.push_back(EventRun{s, segs[s]->group_begin(g), segs[s]->group_begin(g + 1)});
          group_run_groups.push_back(g);
        });
    run_begin.push_back(static_cast<uint32_t>(group_runs.size()));
  }
  const uint32_t group_count = static_cast<uint32_t>(keys.size());
  // Devices sort before users: groups [0, first_user) are devices.
  const uint32_t first_user =
      static_cast<uint32_t>(std::partition_point(keys.begin(), keys.end(),
                                                 [](const GroupKey* k) { return !k->is_user; }) -
                            keys.begin());

  std::vector<uint32_t> root(group_count);
  std::iota(root.begin(), root.end(), 0);
  if (identity == IdentityMerge::kDeviceToUser) {
    // Each device's first user: the earliest event (time, insert_id, user_id) carrying both ids.
    // Per segment, the earliest candidate per device code (most events repeat their group's
    // device, and a group's events are in (time, insert_id) order, so only the first of a run
    // of the same device can be its earliest), in code order, which is device id order (the
    // segment's device dictionary is sorted).
    std::vector<std::vector<DeviceEvent>> candidates(segment_count);
    std::vector<uint32_t> best;  // by device code: index into the segment's list, or kNoCode
    for (uint32_t si = 0; si < segment_count; ++si) {
      const Segment& s = *segs[si];
      std::vector<DeviceEvent>& list = candidates[si];
      best.assign(s.devices().size(), kNoCode);
      for (size_t g = 0; g < s.group_count(); ++g) {
        if (!s.group(g).is_user) continue;
        uint32_t previous = kNoCode;
        for (uint32_t e = s.group_begin(g); e < s.group_begin(g + 1); ++e) {
          const uint32_t code = s.device_code(e);
          if (code == kNoCode || code == previous) continue;
          previous = code;
          DeviceEvent candidate{code, e, static_cast<uint32_t>(g)};
          if (best[code] == kNoCode) {
            best[code] = static_cast<uint32_t>(list.size());
            list.push_back(candidate);
          } else if (FirstKey(s, candidate) < FirstKey(s, list[best[code]])) {
            list[best[code]] = candidate;
          }
        }
      }
      std::sort(list.begin(), list.end(),
                [](const DeviceEvent& x, const DeviceEvent& y) { return x.code < y.code; });
    }
    // Each list is sorted by device id, as are the device groups: a merge join of each list with
    // the device groups (galloping, since most devices in a segment have no device group)
    // folds the earliest candidate per device group.
    std::vector<std::pair<const Segment*, DeviceEvent>> first(first_user, {nullptr, {}});
    for (uint32_t si = 0; si < segment_count; ++si) {
      const Segment& s = *segs[si];
      uint32_t j = 0;  // device groups before j have ids below the current candidate's device
      for (const DeviceEvent& candidate : candidates[si]) {
        const std::string& device = s.devices()[candidate.code];
        if (j < first_user && keys[j]->id < device) {
          uint32_t step = 1, hi = j + 1;
          while (hi < first_user && keys[hi]->id < device) {
            j = hi;
            step *= 2;
            hi = std::min(first_user, j + step);
          }
          j = static_cast<uint32_t>(std::lower_bound(keys.begin() + j, keys.begin() + hi, device,
                                                     [](const GroupKey* k, const std::string& id) {
                                                       return k->id < id;
                                                     }) -
                                    keys.begin());
        }
        if (j == first_user) break;
        if (keys[j]->id != device) continue;
        auto& [best_segment, best_event] = first[j];
        if (best_segment == nullptr ||
            FirstKey(s, candidate) < FirstKey(*best_segment, best_event)) {
          best_segment = &s;
          best_event = candidate;
        }
      }
    }
    for (uint32_t id = 0; id < first_user; ++id) {
      const auto& [segment, event] = first[id];
      if (segment == nullptr) continue;
      const std::string& user = segment->group(event.g).id;
      root[id] = static_cast<uint32_t>(
          std::lower_bound(keys.begin() + first_user, keys.end(), user,
                           [](const GroupKey* k, const std::string& u) { return k->id < u; }) -
          keys.begin());
    }
  }

  // Actors: every group that is its own root, ordered by actor id (bytes). Devices and users are
  // each sorted by id already; "device:<id>" ids merge with the user ids.
  std::vector<uint32_t> member_begin(group_count + 1, 0);  // by root
  for (uint32_t id = 0; id < group_count; ++id) ++member_begin[root[id] + 1];
  for (uint32_t id = 0; id < group_count; ++id) member_begin[id + 1] += member_begin[id];
  std::vector<uint32_t> members(group_count);
  {
    std::vector<uint32_t> fill(member_begin.begin(), member_begin.end() - 1);
    for (uint32_t id = 0; id < group_count; ++id) members[fill[root[id]]++] = id;
  }
  std::vector<std::string> device_actors;
  std::vector<uint32_t> device_roots;
  for (uint32_t id = 0; id < first_user; ++id) {
    if (root[id] != id) continue;
    device_actors.push_back(absl::StrCat("device:", keys[id]->id));
    device_roots.push_back(id);
  }
  view.actor_ids_.reserve(device_actors.size() + (group_count - first_user));
  view.run_offsets_.push_back(0);
  view.order_offsets_.push_back(0);
  view.group_actors_.resize(segment_count);
  for (uint32_t s = 0; s < segment_count; ++s) view.group_actors_[s].resize(segs[s]->group_count());
  const auto add_actor = [&](std::string actor_id, uint32_t id) {
    const auto actor = static_cast<uint32_t>(view.actor_ids_.size());
    view.actor_ids_.push_back(std::move(actor_id));
    const size_t first_run = view.runs_.size();
    for (uint32_t m = member_begin[id]; m < member_begin[id + 1]; ++m) {
      const uint32_t member = members[m];
      view.runs_.insert(view.runs_.end(), group_runs.begin() + run_begin[member],
                        group_runs.begin() + run_begin[member + 1]);
      for (uint32_t r = run_begin[member]; r < run_begin[member + 1]; ++r) {
        view.group_actors_[group_runs[r].segment][group_run_groups[r]] = actor;
      }
    }
    view.run_offsets_.push_back(static_cast<uint32_t>(view.runs_.size()));
    if (view.runs_.size() - first_run > 1) {
      view.MergeRuns(view.runs_.data() + first_run, view.runs_.data() + view.runs_.size(),
                     &view.order_);
    }
    view.order_offsets_.push_back(view.order_.size());
  };
  size_t d = 0;
  for (uint32_t id = first_user; id < group_count; ++id) {
    const std::string& user = keys[id]->id;
    for (; d < device_actors.size() && device_actors[d] < user; ++d) {
      add_actor(std::move(device_actors[d]), device_roots[d]);
    }
    add_actor(user, id);
  }
  for (; d < device_actors.size(); ++d) add_actor(std::move(device_actors[d]), device_roots[d]);
  view.BuildTimeline();
  view.hourly_active_ = HourlyActiveActors::Build(view);
  return view;
}

}  // namespace cohort::analytics::store
