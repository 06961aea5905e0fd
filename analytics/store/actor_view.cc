#include "analytics/store/actor_view.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "analytics/store/activity.h"

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

// The actor id of an anonymous device.
std::string DeviceActorId(std::string_view device) {
  std::string id = "device:";
  id.append(device);
  return id;
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
                          HugePageVector<OrderRef>* out, std::vector<EventRef>* scratch) const {
  std::vector<EventRef>& refs = *scratch;
  refs.clear();
  for (const EventRun* run = first; run != last; ++run) {
    const Segment* s = segments_[run->segment].get();
    for (uint32_t e = run->begin; e < run->end; ++e) refs.push_back(EventRef{s, e, run->segment});
  }
  // Each run is sorted by (time, insert_id) already; a stable sort on the full order is simple.
  std::stable_sort(refs.begin(), refs.end(), Before);
  for (const EventRef& r : refs) out->push_back(OrderRef{r.segment_number, r.index});
}

size_t ActorView::memory_bytes() const {
  size_t bytes =
      actor_ids_.capacity() * sizeof(std::string) + run_offsets_.capacity() * sizeof(uint32_t) +
      runs_.capacity() * sizeof(EventRun) + order_.capacity() * sizeof(OrderRef) +
      order_offsets_.capacity() * sizeof(size_t) + timeline_offsets_.capacity() * sizeof(size_t) +
      timeline_time_.capacity() * sizeof(int64_t) + timeline_type_.capacity() * sizeof(uint32_t) +
      type_offsets_.capacity() * sizeof(size_t) + type_positions_.capacity() * sizeof(uint32_t) +
      device_groups_.capacity() * sizeof(GroupRef) + hourly_active_.memory_bytes();
  for (const std::string& id : actor_ids_) {
    if (id.capacity() > 15) bytes += id.capacity() + 1;  // beyond the small-string buffer
  }
  for (const std::vector<uint32_t>& ids : type_ids_) bytes += ids.capacity() * sizeof(uint32_t);
  for (const std::vector<uint32_t>& actors : group_actors_) {
    bytes += actors.capacity() * sizeof(uint32_t);
  }
  return bytes;
}

void ActorView::AddEventTypes(uint32_t from) {
  // Keys are copies: event_types_ grows below, moving its strings.
  absl::flat_hash_map<std::string, uint32_t> ids;
  for (uint32_t t = 0; t < event_types_.size(); ++t) ids.emplace(event_types_[t], t);
  for (uint32_t s = from; s < segments_.size(); ++s) {
    std::vector<uint32_t>& codes = type_ids_.emplace_back();
    codes.reserve(segments_[s]->event_types().size());
    for (const std::string& type : segments_[s]->event_types()) {
      auto [it, inserted] = ids.try_emplace(type, static_cast<uint32_t>(event_types_.size()));
      if (inserted) event_types_.push_back(type);
      codes.push_back(it->second);
    }
  }
}

void ActorView::AppendTimeline(size_t a) {
  ForEachEvent(a, [&](const EventRef& ref) {
    timeline_time_.push_back(ref.segment->time_ms(ref.index));
    timeline_type_.push_back(
        type_ids_[ref.segment_number][ref.segment->event_type_code(ref.index)]);
  });
  timeline_offsets_.push_back(timeline_time_.size());
}

void ActorView::BuildTimeline() {
  size_t events = 0;
  for (const SegmentPtr& segment : segments_) events += segment->event_count();
  timeline_time_.reserve(events);
  timeline_type_.reserve(events);
  timeline_offsets_.reserve(actor_count() + 1);
  timeline_offsets_.push_back(0);
  for (size_t a = 0; a < actor_count(); ++a) AppendTimeline(a);
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

// Visits the first event of each run of one device in the user groups of `s` (most events repeat
// their group's device, and a group's events are in (time, insert_id) order, so only the first
// of such a run can be the device's earliest in the group): `visit(DeviceEvent)`.
template <typename Visit>
void ForEachDeviceCandidate(const Segment& s, Visit&& visit) {
  for (size_t g = 0; g < s.group_count(); ++g) {
    if (!s.group(g).is_user) continue;
    uint32_t previous = kNoCode;
    for (uint32_t e = s.group_begin(g); e < s.group_begin(g + 1); ++e) {
      const uint32_t code = s.device_code(e);
      if (code == kNoCode || code == previous) continue;
      previous = code;
      visit(DeviceEvent{code, e, static_cast<uint32_t>(g)});
    }
  }
}

// The earliest candidate per device code of `s`, in code order — which is device id order (the
// segment's device dictionary is sorted).
std::vector<DeviceEvent> SegmentCandidates(const Segment& s) {
  std::vector<DeviceEvent> list;
  std::vector<uint32_t> best(s.devices().size(), kNoCode);  // by code: index into `list`
  ForEachDeviceCandidate(s, [&](const DeviceEvent& candidate) {
    if (best[candidate.code] == kNoCode) {
      best[candidate.code] = static_cast<uint32_t>(list.size());
      list.push_back(candidate);
    } else if (FirstKey(s, candidate) < FirstKey(s, list[best[candidate.code]])) {
      list[best[candidate.code]] = candidate;
    }
  });
  std::sort(list.begin(), list.end(),
            [](const DeviceEvent& x, const DeviceEvent& y) { return x.code < y.code; });
  return list;
}

// The distinct storage groups of segments [first, last), in key order (devices, then users, each
// by id), each with its runs in segment order.
struct GroupList {
  std::vector<const GroupKey*> keys;
  std::vector<uint32_t> run_begin;  // key -> its first run; keys.size() + 1 entries
  std::vector<EventRun> runs;
  std::vector<uint32_t> run_groups;  // parallel to runs: the run's group in its segment
  uint32_t first_user = 0;           // keys [0, first_user) are devices
};

GroupList CollectGroups(const std::vector<SegmentPtr>& segs, uint32_t first, uint32_t last) {
  GroupList list;
  std::vector<uint32_t> sizes(last - first);
  for (uint32_t l = 0; l < sizes.size(); ++l) {
    sizes[l] = static_cast<uint32_t>(segs[first + l]->group_count());
  }
  MergeSorted(
      sizes,
      [&](uint32_t l1, uint32_t g1, uint32_t l2, uint32_t g2) {
        return segs[first + l1]->group(g1) < segs[first + l2]->group(g2);
      },
      [&](uint32_t l, uint32_t g) {
        const uint32_t s = first + l;
        const GroupKey& key = segs[s]->group(g);
        if (list.keys.empty() || !(*list.keys.back() == key)) {
          list.keys.push_back(&key);
          list.run_begin.push_back(static_cast<uint32_t>(list.runs.size()));
        }
        list.runs.push_back(EventRun{s, segs[s]->group_begin(g), segs[s]->group_begin(g + 1)});
        list.run_groups.push_back(g);
      });
  list.run_begin.push_back(static_cast<uint32_t>(list.runs.size()));
  list.first_user =
      static_cast<uint32_t>(std::partition_point(list.keys.begin(), list.keys.end(),
                                                 [](const GroupKey* k) { return !k->is_user; }) -
                            list.keys.begin());
  return list;
}

}  // namespace

ActorView ActorView::Build(std::vector<SegmentPtr> segments, IdentityMerge identity) {
  ActorView view;
  view.identity_ = identity;
  view.segments_ = std::move(segments);
  const std::vector<SegmentPtr>& segs = view.segments_;
  const uint32_t segment_count = static_cast<uint32_t>(segs.size());

  GroupList groups = CollectGroups(segs, 0, segment_count);
  const std::vector<const GroupKey*>& keys = groups.keys;
  const uint32_t group_count = static_cast<uint32_t>(keys.size());
  const uint32_t first_user = groups.first_user;
  for (uint32_t id = 0; id < first_user; ++id) {
    const uint32_t r = groups.run_begin[id];
    view.device_groups_.push_back(GroupRef{groups.runs[r].segment, groups.run_groups[r]});
  }

  std::vector<uint32_t> root(group_count);
  std::iota(root.begin(), root.end(), 0);
  if (identity == IdentityMerge::kDeviceToUser) {
    // Each device's first user: the earliest event (time, insert_id, user_id) carrying both ids.
    std::vector<std::vector<DeviceEvent>> candidates(segment_count);
    for (uint32_t si = 0; si < segment_count; ++si) candidates[si] = SegmentCandidates(*segs[si]);
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
    device_actors.push_back(DeviceActorId(keys[id]->id));
    device_roots.push_back(id);
  }
  view.actor_ids_.reserve(device_actors.size() + (group_count - first_user));
  view.run_offsets_.push_back(0);
  view.order_offsets_.push_back(0);
  view.group_actors_.resize(segment_count);
  for (uint32_t s = 0; s < segment_count; ++s) view.group_actors_[s].resize(segs[s]->group_count());
  std::vector<EventRef> scratch;
  const auto add_actor = [&](std::string actor_id, uint32_t id) {
    const auto actor = static_cast<uint32_t>(view.actor_ids_.size());
    view.actor_ids_.push_back(std::move(actor_id));
    const size_t first_run = view.runs_.size();
    for (uint32_t m = member_begin[id]; m < member_begin[id + 1]; ++m) {
      const uint32_t member = members[m];
      view.runs_.insert(view.runs_.end(), groups.runs.begin() + groups.run_begin[member],
                        groups.runs.begin() + groups.run_begin[member + 1]);
      for (uint32_t r = groups.run_begin[member]; r < groups.run_begin[member + 1]; ++r) {
        view.group_actors_[groups.runs[r].segment][groups.run_groups[r]] = actor;
      }
    }
    view.run_offsets_.push_back(static_cast<uint32_t>(view.runs_.size()));
    if (view.runs_.size() - first_run > 1) {
      view.MergeRuns(view.runs_.data() + first_run, view.runs_.data() + view.runs_.size(),
                     &view.order_, &scratch);
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
  view.AddEventTypes(0);
  view.BuildTimeline();
  view.hourly_active_ = HourlyActiveActors::Build(view);
  return view;
}

const GroupKey& ActorView::RunKey(const EventRun& run) const {
  const Segment& s = *segments_[run.segment];
  return s.group(s.group_of_event(run.begin));
}

ActorView::ActorKey ActorView::KeyOf(size_t a) const {
  // An actor's runs are in member key order, devices first: the last is its user's, if any.
  return ActorKey{actor_ids_[a], !RunKey(runs_[run_offsets_[a + 1] - 1]).is_user};
}

std::optional<uint32_t> ActorView::FindActor(const ActorKey& key) const {
  auto [lo, hi] = std::equal_range(actor_ids_.begin(), actor_ids_.end(), key.id);
  for (auto it = lo; it != hi; ++it) {
    const auto a = static_cast<uint32_t>(it - actor_ids_.begin());
    if (KeyOf(a).device == key.device) return a;
  }
  return std::nullopt;
}

std::optional<uint32_t> ActorView::DeviceGroupActor(std::string_view device) const {
  auto it = std::lower_bound(device_groups_.begin(), device_groups_.end(), device,
                             [&](const GroupRef& ref, std::string_view id) {
                               return segments_[ref.segment]->group(ref.group).id < id;
                             });
  if (it == device_groups_.end() || segments_[it->segment]->group(it->group).id != device) {
    return std::nullopt;
  }
  return group_actors_[it->segment][it->group];
}

void ActorView::CopyActors(const ActorView& base, size_t first, size_t last) {
  // Appends base[from, to) of `source` to `dest`, and to `offsets` the entries
  // source_offsets[first + 1 .. last] shifted to where they now start.
  const auto append = [&](auto& dest, const auto& source, auto& offsets,
                          const auto& source_offsets) {
    const size_t from = source_offsets[first], to = source_offsets[last];
    const size_t shift = dest.size();
    dest.insert(dest.end(), source.begin() + static_cast<std::ptrdiff_t>(from),
                source.begin() + static_cast<std::ptrdiff_t>(to));
    using Offset = typename std::decay_t<decltype(offsets)>::value_type;
    for (size_t a = first + 1; a <= last; ++a) {
      offsets.push_back(static_cast<Offset>(source_offsets[a] - from + shift));
    }
  };
  actor_ids_.insert(actor_ids_.end(), base.actor_ids_.begin() + static_cast<std::ptrdiff_t>(first),
                    base.actor_ids_.begin() + static_cast<std::ptrdiff_t>(last));
  append(runs_, base.runs_, run_offsets_, base.run_offsets_);
  append(order_, base.order_, order_offsets_, base.order_offsets_);
  const size_t timeline_from = base.timeline_offsets_[first];
  const size_t timeline_to = base.timeline_offsets_[last];
  timeline_type_.insert(timeline_type_.end(),
                        base.timeline_type_.begin() + static_cast<std::ptrdiff_t>(timeline_from),
                        base.timeline_type_.begin() + static_cast<std::ptrdiff_t>(timeline_to));
  append(timeline_time_, base.timeline_time_, timeline_offsets_, base.timeline_offsets_);
}

ActorView ActorView::Extend(const ActorView& base, std::vector<SegmentPtr> added) {
  ActorView view;
  view.identity_ = base.identity_;
  view.segments_ = base.segments_;
  const auto base_count = static_cast<uint32_t>(base.segments_.size());
  for (SegmentPtr& segment : added) view.segments_.push_back(std::move(segment));
  const std::vector<SegmentPtr>& segs = view.segments_;
  const auto segment_count = static_cast<uint32_t>(segs.size());
  view.event_types_ = base.event_types_;
  view.type_ids_ = base.type_ids_;
  view.AddEventTypes(base_count);
  const GroupList fresh = CollectGroups(segs, base_count, segment_count);
  const auto fresh_device = [&](std::string_view device) {  // a device group in `added`
    const auto end = fresh.keys.begin() + fresh.first_user;
    auto it = std::lower_bound(fresh.keys.begin(), end, device,
                               [](const GroupKey* k, std::string_view id) { return k->id < id; });
    return it != end && (*it)->id == device;
  };

  // Under deviceToUser, the devices whose actor may change — device groups new in `added`, and
  // device groups that added user events carry — with their actor in the extended view.
  absl::flat_hash_map<std::string_view, ActorKey> device_owner;
  if (view.identity_ == IdentityMerge::kDeviceToUser) {
    using Best = std::pair<const Segment*, DeviceEvent>;
    absl::flat_hash_map<std::string_view, Best> best;  // by device id
    const auto offer = [&](std::string_view device, const Segment& s, const DeviceEvent& c) {
      auto [it, inserted] = best.try_emplace(device, &s, c);
      if (!inserted && FirstKey(s, c) < FirstKey(*it->second.first, it->second.second)) {
        it->second = Best(&s, c);
      }
    };
    for (uint32_t si = base_count; si < segment_count; ++si) {
      const Segment& s = *segs[si];
      for (const DeviceEvent& c : SegmentCandidates(s)) offer(s.devices()[c.code], s, c);
    }
    absl::flat_hash_set<std::string_view> reassess;
    for (uint32_t k = 0; k < fresh.first_user; ++k) {
      if (!base.DeviceGroupActor(fresh.keys[k]->id)) reassess.insert(fresh.keys[k]->id);
    }
    for (const auto& [device, unused] : best) {
      if (base.DeviceGroupActor(device) || fresh_device(device)) reassess.insert(device);
    }
    // Candidates the base segments hold for those devices (a scan of their device columns).
    if (!reassess.empty()) {
      std::vector<uint8_t> wanted;
      for (uint32_t si = 0; si < base_count; ++si) {
        const Segment& s = *segs[si];
        wanted.assign(s.devices().size(), 0);
        bool any = false;
        for (std::string_view device : reassess) {
          auto it = std::lower_bound(s.devices().begin(), s.devices().end(), device);
          if (it != s.devices().end() && *it == device) {
            wanted[static_cast<size_t>(it - s.devices().begin())] = 1;
            any = true;
          }
        }
        if (!any) continue;
        ForEachDeviceCandidate(s, [&](const DeviceEvent& c) {
          if (wanted[c.code] != 0) offer(s.devices()[c.code], s, c);
        });
      }
    }
    for (std::string_view device : reassess) {
      auto it = best.find(device);
      device_owner[device] = it == best.end()
                                 ? ActorKey{DeviceActorId(device), true}
                                 : ActorKey{it->second.first->group(it->second.second.g).id, false};
    }
  }

  // The actors that change: the runs each gains, and the devices each base actor loses.
  std::map<ActorKey, std::vector<EventRun>> gains;
  absl::flat_hash_map<uint32_t, std::vector<std::string_view>> losses;
  for (uint32_t k = 0; k < fresh.keys.size(); ++k) {
    const GroupKey& key = *fresh.keys[k];
    ActorKey owner;
    if (key.is_user) {
      owner = ActorKey{key.id, false};
    } else if (auto it = device_owner.find(key.id); it != device_owner.end()) {
      owner = it->second;
    } else if (std::optional<uint32_t> a = base.DeviceGroupActor(key.id)) {
      owner = base.KeyOf(*a);
    } else {
      owner = ActorKey{DeviceActorId(key.id), true};
    }
    std::vector<EventRun>& runs = gains[owner];
    runs.insert(runs.end(), fresh.runs.begin() + fresh.run_begin[k],
                fresh.runs.begin() + fresh.run_begin[k + 1]);
  }
  for (const auto& [device, owner] : device_owner) {
    std::optional<uint32_t> a = base.DeviceGroupActor(device);
    if (!a) continue;  // a new device group: its runs are all in `added`
    if (base.KeyOf(*a) == owner) continue;
    losses[*a].push_back(device);
    std::vector<EventRun>& runs = gains[owner];
    for (const EventRun* r = base.runs_begin(*a); r != base.runs_end(*a); ++r) {
      const GroupKey& key = base.RunKey(*r);
      if (!key.is_user && key.id == device) runs.push_back(*r);
    }
  }
  for (const auto& [a, unused] : losses) gains.try_emplace(base.KeyOf(a));

  // Each changed actor's runs: its base runs but the lost devices', plus its gains, in Build's
  // order (by member group key, then segment).
  struct Changed {
    ActorKey key;
    std::optional<uint32_t> base;
    std::vector<EventRun> runs;
  };
  std::vector<Changed> changed;  // by key
  for (auto& [key, gained] : gains) {
    Changed c{key, base.FindActor(key), {}};
    if (c.base) {
      const auto lost = losses.find(*c.base);
      for (const EventRun* r = base.runs_begin(*c.base); r != base.runs_end(*c.base); ++r) {
        const GroupKey& k = base.RunKey(*r);
        if (lost != losses.end() && !k.is_user &&
            std::find(lost->second.begin(), lost->second.end(), k.id) != lost->second.end()) {
          continue;
        }
        c.runs.push_back(*r);
      }
    }
    c.runs.insert(c.runs.end(), gained.begin(), gained.end());
    std::vector<std::pair<const GroupKey*, EventRun>> keyed;
    keyed.reserve(c.runs.size());
    for (const EventRun& r : c.runs) keyed.emplace_back(&view.RunKey(r), r);
    std::sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) {
      if (*x.first != *y.first) return *x.first < *y.first;
      return x.second.segment < y.second.segment;
    });
    for (size_t i = 0; i < keyed.size(); ++i) c.runs[i] = keyed[i].second;
    changed.push_back(std::move(c));
  }

  // The extended view's actors: ranges of base actors copied as they are, and the changed ones
  // (rebuilt; emptied ones dropped; new ones inserted where their key sorts), in actor order.
  // `changed` is in key order, so its base actors and insertion points ascend.
  constexpr uint32_t kCopied = UINT32_MAX;
  struct Piece {
    uint32_t first = 0, last = 0;  // base actors [first, last) copied, or
    uint32_t changed = kCopied;    // an index into `changed`
  };
  std::vector<Piece> pieces;
  std::vector<uint32_t> old_to_new(base.actor_count(), kNoCode);
  {
    uint32_t next = 0;    // the next base actor not yet placed
    uint32_t placed = 0;  // actors placed so far
    const auto copy_to = [&](uint32_t end) {
      if (end <= next) return;
      pieces.push_back(Piece{next, end, kCopied});
      for (uint32_t a = next; a < end; ++a) old_to_new[a] = placed++;
      next = end;
    };
    for (uint32_t j = 0; j < changed.size(); ++j) {
      const Changed& c = changed[j];
      if (c.base) {
        copy_to(*c.base);
        next = *c.base + 1;
        if (c.runs.empty()) continue;  // a device actor absorbed by a user
      } else {
        auto it = std::lower_bound(base.actor_ids_.begin() + next, base.actor_ids_.end(), c.key.id);
        auto at = static_cast<uint32_t>(it - base.actor_ids_.begin());
        while (at < base.actor_count() && base.actor_ids_[at] == c.key.id &&
               base.KeyOf(at) < c.key) {
          ++at;
        }
        copy_to(at);
      }
      pieces.push_back(Piece{0, 0, j});
      ++placed;
    }
    copy_to(base.actor_count());
  }
  size_t actor_total = 0;
  for (const Piece& piece : pieces) {
    actor_total += piece.changed == kCopied ? piece.last - piece.first : 1;
  }

  // Storage groups of the base segments keep their actors, renumbered; the changed actors' groups
  // are set as their runs are laid out below.
  view.group_actors_.resize(segment_count);
  for (uint32_t s = 0; s < base_count; ++s) {
    const std::vector<uint32_t>& from = base.group_actors_[s];
    std::vector<uint32_t>& to = view.group_actors_[s];
    to.resize(from.size());
    for (size_t g = 0; g < from.size(); ++g) to[g] = old_to_new[from[g]];
  }
  for (uint32_t s = base_count; s < segment_count; ++s) {
    view.group_actors_[s].resize(segs[s]->group_count());
  }

  size_t events = 0;
  for (const SegmentPtr& segment : segs) events += segment->event_count();
  view.actor_ids_.reserve(actor_total);
  view.run_offsets_.reserve(actor_total + 1);
  view.order_offsets_.reserve(actor_total + 1);
  view.timeline_offsets_.reserve(actor_total + 1);
  view.runs_.reserve(base.runs_.size() + fresh.runs.size());
  view.order_.reserve(base.order_.size() + events - base.event_count());
  view.timeline_time_.reserve(events);
  view.timeline_type_.reserve(events);
  view.run_offsets_.push_back(0);
  view.order_offsets_.push_back(0);
  view.timeline_offsets_.push_back(0);
  const Activity activity(view, QueryScope{});
  std::vector<EventRef> scratch;
  HourlyActiveActors::Builder hours(actor_total, &base.hourly_active_);
  for (const Changed& c : changed) {
    if (c.base) hours.Remove(*c.base);
  }
  for (const Piece& piece : pieces) {
    const auto actor = static_cast<uint32_t>(view.actor_ids_.size());
    if (piece.changed == kCopied) {
      // Their data is contiguous in the base arrays: copied at once, the offsets shifted.
      view.CopyActors(base, piece.first, piece.last);
      hours.AddCopies(piece.first, piece.last);
      continue;
    }
    Changed& c = changed[piece.changed];
    view.actor_ids_.push_back(std::move(c.key.id));
    const size_t first_run = view.runs_.size();
    view.runs_.insert(view.runs_.end(), c.runs.begin(), c.runs.end());
    view.run_offsets_.push_back(static_cast<uint32_t>(view.runs_.size()));
    for (const EventRun& r : c.runs) {
      view.group_actors_[r.segment][segs[r.segment]->group_of_event(r.begin)] = actor;
    }
    if (c.runs.size() > 1) {
      view.MergeRuns(view.runs_.data() + first_run, view.runs_.data() + view.runs_.size(),
                     &view.order_, &scratch);
    }
    view.order_offsets_.push_back(view.order_.size());
    view.AppendTimeline(actor);
    hours.AddFromTimeline(view, activity, actor, c.base);
  }
  view.BuildTypeIndex();
  view.hourly_active_ = std::move(hours).Finish();

  // Device groups: the base's, and those new in `added`, by id.
  {
    std::vector<GroupRef> added_devices;
    for (uint32_t k = 0; k < fresh.first_user; ++k) {
      if (base.DeviceGroupActor(fresh.keys[k]->id)) continue;
      const uint32_t r = fresh.run_begin[k];
      added_devices.push_back(GroupRef{fresh.runs[r].segment, fresh.run_groups[r]});
    }
    // Few are new: each goes in at its place (binary search), the rest is copied in runs.
    view.device_groups_.reserve(base.device_groups_.size() + added_devices.size());
    const auto id_of = [&](const GroupRef& ref) -> std::string_view {
      return segs[ref.segment]->group(ref.group).id;
    };
    auto from = base.device_groups_.begin();
    for (const GroupRef& ref : added_devices) {  // in id order (fresh.keys)
      auto at =
          std::lower_bound(from, base.device_groups_.end(), id_of(ref),
                           [&](const GroupRef& x, std::string_view id) { return id_of(x) < id; });
      view.device_groups_.insert(view.device_groups_.end(), from, at);
      view.device_groups_.push_back(ref);
      from = at;
    }
    view.device_groups_.insert(view.device_groups_.end(), from, base.device_groups_.end());
  }
  return view;
}

bool ActorView::SameAs(const ActorView& other) const {
  const auto same_refs = [](const auto& x, const auto& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                      [](const OrderRef& a, const OrderRef& b) {
                        return a.segment == b.segment && a.index == b.index;
                      });
  };
  const auto same_runs = [](const auto& x, const auto& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                      [](const EventRun& a, const EventRun& b) {
                        return a.segment == b.segment && a.begin == b.begin && a.end == b.end;
                      });
  };
  const auto same_groups = [&](const std::vector<GroupRef>& x, const std::vector<GroupRef>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                      [](const GroupRef& a, const GroupRef& b) {
                        return a.segment == b.segment && a.group == b.group;
                      });
  };
  if (identity_ != other.identity_ || segments_ != other.segments_ ||
      actor_ids_ != other.actor_ids_ || run_offsets_ != other.run_offsets_ ||
      !same_runs(runs_, other.runs_) || !same_refs(order_, other.order_) ||
      order_offsets_ != other.order_offsets_ || group_actors_ != other.group_actors_ ||
      event_types_ != other.event_types_ || type_ids_ != other.type_ids_ ||
      timeline_offsets_ != other.timeline_offsets_ || timeline_time_ != other.timeline_time_ ||
      timeline_type_ != other.timeline_type_ || type_offsets_ != other.type_offsets_ ||
      type_positions_ != other.type_positions_ ||
      !same_groups(device_groups_, other.device_groups_)) {
    return false;
  }
  return hourly_active_.SameAs(other.hourly_active_);
}

}  // namespace cohort::analytics::store
