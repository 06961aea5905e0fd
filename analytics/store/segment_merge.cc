// Segment::Merge: the store's merges, column by column (segment.h). The result is exactly what
// Segment::Build makes of the inputs' events (first copy of a (group, insert_id) kept), which
// segment_test checks byte for byte through the codec.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "analytics/store/segment.h"

namespace cohort::analytics::store {
namespace {

// An event of the merged segment: which input, which event there.
struct Ref {
  uint32_t input;
  uint32_t event;
};

// A united dictionary's final touch: a value dictionary's zero is +0 (as SortUniqueValues
// leaves it), whichever input's copy came first; nothing to do for strings.
void NormalizeUnited(std::vector<std::string>&) {}
void NormalizeUnited(std::vector<PropertyValue>& values) {
  for (PropertyValue& v : values) {
    if (v.kind() == PropertyValue::Kind::kNumber && v.number() == 0) v = PropertyValue::Number(0);
  }
}

// The sorted union of the entries of `dicts` marked in `used`, and each input's code → merged
// code (kNoCode for entries not used). Every input dictionary is sorted and unique under `less`,
// so this is a k-way merge (a heap of the inputs by their next used entry): O(n log k)
// comparisons and no sort.
template <typename T, typename Less>
std::vector<T> Unite(const std::vector<const std::vector<T>*>& dicts,
                     const std::vector<std::vector<bool>>& used, Less less,
                     std::vector<std::vector<uint32_t>>* remap) {
  const size_t k = dicts.size();
  std::vector<size_t> pos(k, 0);
  auto skip_unused = [&](size_t i) {
    while (pos[i] < dicts[i]->size() && !used[i][pos[i]]) ++pos[i];
  };
  // std::*_heap keep the greatest first: order inputs by their entry, reversed.
  auto later = [&](size_t a, size_t b) { return less((*dicts[b])[pos[b]], (*dicts[a])[pos[a]]); };
  std::vector<size_t> heap;
  size_t total = 0;
  remap->assign(k, {});
  for (size_t i = 0; i < k; ++i) {
    (*remap)[i].assign(dicts[i]->size(), kNoCode);
    skip_unused(i);
    if (pos[i] < dicts[i]->size()) heap.push_back(i);
    total += dicts[i]->size();
  }
  std::make_heap(heap.begin(), heap.end(), later);
  std::vector<T> out;
  out.reserve(total);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const size_t i = heap.back();
    const T& entry = (*dicts[i])[pos[i]];
    // Entries come out ascending: one not greater than the last is equal to it.
    if (out.empty() || less(out.back(), entry)) out.push_back(entry);
    (*remap)[i][pos[i]] = static_cast<uint32_t>(out.size() - 1);
    ++pos[i];
    skip_unused(i);
    if (pos[i] < dicts[i]->size()) {
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      heap.pop_back();
    }
  }
  NormalizeUnited(out);
  out.shrink_to_fit();
  return out;
}

// Per input and scope, each event's properties as (key code, value code) in the input's codes:
// the columns turned around, so the merge can visit an event's properties directly.
struct EventProperties {
  std::vector<uint32_t> offsets;  // event_count() + 1
  std::vector<std::pair<uint32_t, uint32_t>> entries;
};

EventProperties PropertiesByEvent(const Segment& s, bool user_scope) {
  EventProperties out;
  out.offsets.assign(s.event_count() + 1, 0);
  const size_t keys = s.property_keys(user_scope).size();
  for (size_t k = 0; k < keys; ++k) {
    for (uint32_t e : s.property_column(user_scope, k).events) ++out.offsets[e + 1];
  }
  for (size_t e = 0; e < s.event_count(); ++e) out.offsets[e + 1] += out.offsets[e];
  out.entries.resize(out.offsets.back());
  std::vector<uint32_t> fill(out.offsets.begin(), out.offsets.end() - 1);
  for (size_t k = 0; k < keys; ++k) {
    const PropertyColumn& column = s.property_column(user_scope, k);
    for (size_t j = 0; j < column.events.size(); ++j) {
      out.entries[fill[column.events[j]]++] = {static_cast<uint32_t>(k), column.values[j]};
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<SegmentPtr> Segment::Merge(const std::vector<const Segment*>& inputs) {
  if (inputs.empty()) return absl::InvalidArgumentError("no segments to merge");
  const size_t k = inputs.size();

  // 1. The events kept, in the merged order: groups in key order; within a group, the first
  //    copy of each insert_id (inputs in store order), by (time, insert_id).
  std::vector<Ref> order;
  std::vector<GroupKey> groups;
  std::vector<uint32_t> group_offsets;
  {
    size_t total = 0;
    for (const Segment* s : inputs) total += s->event_count();
    order.reserve(total);
    std::vector<size_t> next(k, 0);  // each input's next group
    std::vector<Ref> group_events;
    absl::flat_hash_set<absl::string_view> ids;
    while (true) {
      const GroupKey* smallest = nullptr;
      for (size_t i = 0; i < k; ++i) {
        if (next[i] < inputs[i]->group_count() &&
            (smallest == nullptr || inputs[i]->group(next[i]) < *smallest)) {
          smallest = &inputs[i]->group(next[i]);
        }
      }
      if (smallest == nullptr) break;
      const GroupKey key = *smallest;
      group_events.clear();
      ids.clear();
      for (size_t i = 0; i < k; ++i) {
        const Segment& s = *inputs[i];
        if (next[i] >= s.group_count() || !(s.group(next[i]) == key)) continue;
        for (uint32_t e = s.group_begin(next[i]); e < s.group_begin(next[i] + 1); ++e) {
          const std::string_view id = s.insert_id(e);
          if (ids.insert(absl::string_view(id.data(), id.size())).second) {
            group_events.push_back({static_cast<uint32_t>(i), e});
          }
        }
        ++next[i];
      }
      std::sort(group_events.begin(), group_events.end(), [&](const Ref& a, const Ref& b) {
        const int64_t ta = inputs[a.input]->time_ms(a.event);
        const int64_t tb = inputs[b.input]->time_ms(b.event);
        if (ta != tb) return ta < tb;
        return inputs[a.input]->insert_id(a.event) < inputs[b.input]->insert_id(b.event);
      });
      groups.push_back(key);
      group_offsets.push_back(static_cast<uint32_t>(order.size()));
      order.insert(order.end(), group_events.begin(), group_events.end());
    }
    group_offsets.push_back(static_cast<uint32_t>(order.size()));
  }

  // 2. Dictionaries of what the kept events use, united; codes remapped.
  std::vector<EventProperties> props[2];
  std::vector<std::vector<bool>> used_types(k), used_devices(k), used_keys[2], used_values(k);
  for (bool user_scope : {false, true}) used_keys[user_scope].resize(k);
  for (size_t i = 0; i < k; ++i) {
    const Segment& s = *inputs[i];
    used_types[i].assign(s.event_types().size(), false);
    used_devices[i].assign(s.devices().size(), false);
    used_values[i].assign(s.values().size(), false);
    for (bool user_scope : {false, true}) {
      used_keys[user_scope][i].assign(s.property_keys(user_scope).size(), false);
      props[user_scope].push_back(PropertiesByEvent(s, user_scope));
    }
  }
  for (const Ref& r : order) {
    const Segment& s = *inputs[r.input];
    used_types[r.input][s.event_type_code(r.event)] = true;
    if (s.device_code(r.event) != kNoCode) used_devices[r.input][s.device_code(r.event)] = true;
    for (bool user_scope : {false, true}) {
      const EventProperties& p = props[user_scope][r.input];
      for (uint32_t j = p.offsets[r.event]; j < p.offsets[r.event + 1]; ++j) {
        used_keys[user_scope][r.input][p.entries[j].first] = true;
        used_values[r.input][p.entries[j].second] = true;
      }
    }
  }
  std::vector<const std::vector<std::string>*> type_dicts, device_dicts, key_dicts[2];
  std::vector<const std::vector<PropertyValue>*> value_dicts;
  for (const Segment* s : inputs) {
    type_dicts.push_back(&s->event_types());
    device_dicts.push_back(&s->devices());
    key_dicts[0].push_back(&s->property_keys(false));
    key_dicts[1].push_back(&s->property_keys(true));
    value_dicts.push_back(&s->values());
  }
  auto segment = std::shared_ptr<Segment>(new Segment());
  Segment& out = *segment;
  out.project_ = inputs.front()->project();
  std::vector<std::vector<uint32_t>> type_map, device_map, key_map[2], value_map;
  out.event_types_ = Unite(type_dicts, used_types, std::less<std::string>(), &type_map);
  out.devices_ = Unite(device_dicts, used_devices, std::less<std::string>(), &device_map);
  out.event_keys_ = Unite(key_dicts[0], used_keys[0], std::less<std::string>(), &key_map[0]);
  out.user_keys_ = Unite(key_dicts[1], used_keys[1], std::less<std::string>(), &key_map[1]);
  out.values_ = Unite(value_dicts, used_values, ValueLess, &value_map);

  // 3. The columns, in the merged order.
  const size_t n = order.size();
  out.groups_ = std::move(groups);
  out.group_offsets_.owned() = std::move(group_offsets);
  out.ReserveColumns(n);
  std::vector<char>& insert_id_bytes = out.insert_id_bytes_.owned();
  for (uint32_t o = 0; o < n; ++o) {
    const Ref r = order[o];
    const Segment& s = *inputs[r.input];
    out.time_ms_.owned().push_back(s.time_ms(r.event));
    out.event_type_.owned().push_back(type_map[r.input][s.event_type_code(r.event)]);
    const std::string_view id = s.insert_id(r.event);
    insert_id_bytes.insert(insert_id_bytes.end(), id.begin(), id.end());
    out.insert_id_offsets_.owned().push_back(static_cast<uint32_t>(insert_id_bytes.size()));
    out.session_.owned().push_back(s.session_column(r.event));
    const uint32_t device = s.device_code(r.event);
    out.device_.owned().push_back(device == kNoCode ? kNoCode : device_map[r.input][device]);
    for (bool user_scope : {false, true}) {
      std::vector<PropertyColumn>& columns = user_scope ? out.user_columns_ : out.event_columns_;
      const EventProperties& p = props[user_scope][r.input];
      for (uint32_t j = p.offsets[r.event]; j < p.offsets[r.event + 1]; ++j) {
        PropertyColumn& column = columns[key_map[user_scope][r.input][p.entries[j].first]];
        column.events.owned().push_back(o);
        column.values.owned().push_back(value_map[r.input][p.entries[j].second]);
      }
    }
    if (insert_id_bytes.size() > UINT32_MAX) {
      return absl::InvalidArgumentError("segment too large: insert ids exceed 4 GiB");
    }
  }
  out.Seal();
  return segment;
}

}  // namespace cohort::analytics::store
