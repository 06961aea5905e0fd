#include "analytics/store/segment.h"

#include <algorithm>
#include <bit>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cohort::analytics::store {
namespace {

// Bitwise identity of values, for gathering the distinct ones before sorting (SortUniqueValues
// after it still decides what is equal, so -0.0 and 0.0 end up one value).
struct ValueIdentityHash {
  size_t operator()(const PropertyValue& v) const {
    return absl::HashOf(static_cast<int>(v.kind()), std::bit_cast<uint64_t>(v.number()),
                        absl::string_view(v.text()));
  }
};
struct ValueIdentityEq {
  bool operator()(const PropertyValue& a, const PropertyValue& b) const {
    return a.kind() == b.kind() &&
           std::bit_cast<uint64_t>(a.number()) == std::bit_cast<uint64_t>(b.number()) &&
           a.text() == b.text();
  }
};

// Codes of a sorted dictionary, by hash: a lookup per event instead of a binary search.
absl::flat_hash_map<absl::string_view, uint32_t> CodesOf(const std::vector<std::string>& sorted) {
  absl::flat_hash_map<absl::string_view, uint32_t> codes;
  codes.reserve(sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) codes.emplace(sorted[i], static_cast<uint32_t>(i));
  return codes;
}

std::vector<std::string> SortedUnique(absl::flat_hash_set<std::string> set) {
  std::vector<std::string> out(std::make_move_iterator(set.begin()),
                               std::make_move_iterator(set.end()));
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<uint32_t> FindSorted(const std::vector<std::string>& sorted, std::string_view s) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), s,
                             [](const std::string& a, std::string_view b) { return a < b; });
  if (it == sorted.end() || *it != s) return std::nullopt;
  return static_cast<uint32_t>(it - sorted.begin());
}

}  // namespace

bool ValueLess(const PropertyValue& a, const PropertyValue& b) {
  if (a.kind() != b.kind()) return a.kind() < b.kind();
  if (a.number() != b.number()) return a.number() < b.number();
  return a.text() < b.text();
}

void SortUniqueValues(std::vector<PropertyValue>& values) {
  std::sort(values.begin(), values.end(), ValueLess);
  values.erase(std::unique(values.begin(), values.end()), values.end());
  // -0 and 0 are one value; which copy the sort left first must not decide its bytes.
  for (PropertyValue& v : values) {
    if (v.kind() == PropertyValue::Kind::kNumber && v.number() == 0) v = PropertyValue::Number(0);
  }
}

GroupKey GroupOf(const Event& event) {
  if (!event.user_id.empty()) return GroupKey{true, event.user_id};
  return GroupKey{false, event.device_id};
}

absl::StatusOr<SegmentPtr> Segment::Build(std::string project, std::vector<Event> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].insert_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i, " has no insert_id"));
    }
    if (events[i].user_id.empty() && events[i].device_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i,
                                                     " has neither user_id nor "
                                                     "device_id"));
    }
  }
  // Each event's group as a rank among the distinct groups (sorted once, a string per group),
  // so the event sort compares integers before it compares any bytes.
  std::vector<GroupKey> group_keys;
  std::vector<uint32_t> rank(events.size());
  {
    using KeyView = std::pair<bool, absl::string_view>;  // GroupKey's order: is_user, then id
    absl::flat_hash_map<KeyView, uint32_t> first_seen;
    std::vector<KeyView> distinct;
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      const KeyView key =
          e.user_id.empty() ? KeyView{false, e.device_id} : KeyView{true, e.user_id};
      auto [it, inserted] = first_seen.try_emplace(key, static_cast<uint32_t>(distinct.size()));
      if (inserted) distinct.push_back(key);
      rank[i] = it->second;
    }
    std::vector<uint32_t> by_key(distinct.size());
    std::iota(by_key.begin(), by_key.end(), 0);
    std::sort(by_key.begin(), by_key.end(),
              [&](uint32_t a, uint32_t b) { return distinct[a] < distinct[b]; });
    std::vector<uint32_t> rank_of(distinct.size());
    group_keys.reserve(distinct.size());
    for (uint32_t r = 0; r < by_key.size(); ++r) {
      rank_of[by_key[r]] = r;
      group_keys.push_back(
          GroupKey{distinct[by_key[r]].first, std::string(distinct[by_key[r]].second)});
    }
    for (uint32_t& r : rank) r = rank_of[r];
  }
  std::vector<uint32_t> order(events.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::tie(rank[a], events[a].time_ms, events[a].insert_id) <
           std::tie(rank[b], events[b].time_ms, events[b].insert_id);
  });
  {
    // Duplicates within a group (possibly at different times).
    absl::flat_hash_set<absl::string_view> group_ids;  // views of `events`; reused per group
    for (size_t i = 0; i < order.size();) {
      size_t j = i;
      group_ids.clear();
      for (; j < order.size() && rank[order[j]] == rank[order[i]]; ++j) {
        if (!group_ids.insert(events[order[j]].insert_id).second) {
          return absl::InvalidArgumentError(
              absl::StrCat("event ", order[j], " repeats insert_id \"", events[order[j]].insert_id,
                           "\" of its group"));
        }
      }
      i = j;
    }
  }

  auto segment = std::shared_ptr<Segment>(new Segment());
  Segment& s = *segment;
  s.project_ = std::move(project);
  s.groups_ = std::move(group_keys);  // every one holds an event: they are the segment's groups

  absl::flat_hash_set<std::string> types, devices, event_keys, user_keys;
  // Values repeat a lot (a few distinct per key): gathered distinct first, then sorted.
  absl::flat_hash_set<PropertyValue, ValueIdentityHash, ValueIdentityEq> distinct;
  for (const Event& e : events) {
    types.insert(e.event_type);
    if (!e.device_id.empty()) devices.insert(e.device_id);
    for (const auto& [k, v] : e.event_properties) {
      event_keys.insert(k);
      distinct.insert(v);
    }
    for (const auto& [k, v] : e.user_properties) {
      user_keys.insert(k);
      distinct.insert(v);
    }
  }
  s.event_types_ = SortedUnique(std::move(types));
  s.devices_ = SortedUnique(std::move(devices));
  s.event_keys_ = SortedUnique(std::move(event_keys));
  s.user_keys_ = SortedUnique(std::move(user_keys));
  std::vector<PropertyValue> values(std::make_move_iterator(distinct.begin()),
                                    std::make_move_iterator(distinct.end()));
  SortUniqueValues(values);
  s.values_ = std::move(values);
  const absl::flat_hash_map<absl::string_view, uint32_t> type_codes = CodesOf(s.event_types_);
  const absl::flat_hash_map<absl::string_view, uint32_t> device_codes = CodesOf(s.devices_);

  const absl::flat_hash_map<absl::string_view, uint32_t> key_codes[2] = {CodesOf(s.event_keys_),
                                                                         CodesOf(s.user_keys_)};
  // Value codes by hash too; only a -0 (the dictionary holds it as +0) misses and is searched.
  absl::flat_hash_map<PropertyValue, uint32_t, ValueIdentityHash, ValueIdentityEq> value_codes;
  value_codes.reserve(s.values_.size());
  for (size_t i = 0; i < s.values_.size(); ++i) {
    value_codes.emplace(s.values_[i], static_cast<uint32_t>(i));
  }
  auto value_code = [&](const PropertyValue& v) {
    if (auto it = value_codes.find(v); it != value_codes.end()) return it->second;
    return static_cast<uint32_t>(
        std::lower_bound(s.values_.begin(), s.values_.end(), v, ValueLess) - s.values_.begin());
  };

  size_t n = events.size();
  s.ReserveColumns(n);
  std::vector<uint32_t>& group_offsets = s.group_offsets_.owned();
  std::vector<char>& insert_id_bytes = s.insert_id_bytes_.owned();
  for (uint32_t out = 0; out < n; ++out) {
    uint32_t in = order[out];
    Event& e = events[in];
    if (out == 0 || rank[in] != rank[order[out - 1]]) group_offsets.push_back(out);
    s.time_ms_.owned().push_back(e.time_ms);
    s.event_type_.owned().push_back(type_codes.at(e.event_type));
    insert_id_bytes.insert(insert_id_bytes.end(), e.insert_id.begin(), e.insert_id.end());
    s.insert_id_offsets_.owned().push_back(static_cast<uint32_t>(insert_id_bytes.size()));
    s.session_.owned().push_back(e.session_id.value_or(kNoSessionColumn));
    s.device_.owned().push_back(e.device_id.empty() ? kNoCode : device_codes.at(e.device_id));
    for (bool user_scope : {false, true}) {
      const Properties& p = user_scope ? e.user_properties : e.event_properties;
      std::vector<PropertyColumn>& columns = user_scope ? s.user_columns_ : s.event_columns_;
      for (const auto& [k, v] : p) {
        PropertyColumn& column = columns[key_codes[user_scope].at(k)];
        column.events.owned().push_back(out);
        column.values.owned().push_back(value_code(v));
      }
    }
  }
  group_offsets.push_back(static_cast<uint32_t>(n));
  if (insert_id_bytes.size() > UINT32_MAX) {
    return absl::InvalidArgumentError("segment too large: insert ids exceed 4 GiB");
  }
  s.Seal();
  return segment;
}

void Segment::ReserveColumns(size_t n) {
  time_ms_.owned().reserve(n);
  event_type_.owned().reserve(n);
  session_.owned().reserve(n);
  device_.owned().reserve(n);
  insert_id_offsets_.owned().reserve(n + 1);
  insert_id_offsets_.owned().push_back(0);
  event_columns_.resize(event_keys_.size());
  user_columns_.resize(user_keys_.size());
}

void Segment::Seal() {
  group_offsets_.Seal();
  time_ms_.Seal();
  event_type_.Seal();
  insert_id_offsets_.Seal();
  insert_id_bytes_.Seal();
  session_.Seal();
  device_.Seal();
  for (auto* columns : {&event_columns_, &user_columns_}) {
    for (PropertyColumn& c : *columns) {
      c.events.Seal();
      c.values.Seal();
    }
  }
  Finish();
}

void Segment::Finish() { memory_bytes_ = ComputeMemoryBytes(); }

std::optional<uint32_t> Segment::FindGroup(bool is_user, std::string_view id) const {
  using KeyView = std::pair<bool, std::string_view>;  // GroupKey's order
  auto it = std::lower_bound(groups_.begin(), groups_.end(), KeyView{is_user, id},
                             [](const GroupKey& g, const KeyView& k) {
                               return KeyView{g.is_user, g.id} < k;
                             });
  if (it == groups_.end() || it->is_user != is_user || it->id != id) return std::nullopt;
  return static_cast<uint32_t>(it - groups_.begin());
}

uint32_t Segment::group_of_event(size_t e) const {
  return static_cast<uint32_t>(std::upper_bound(group_offsets_.begin(), group_offsets_.end(), e) -
                               group_offsets_.begin() - 1);
}

std::string_view Segment::insert_id(size_t e) const {
  return std::string_view(insert_id_bytes_.data() + insert_id_offsets_[e],
                          insert_id_offsets_[e + 1] - insert_id_offsets_[e]);
}

std::optional<uint32_t> Segment::FindEventType(std::string_view type) const {
  return FindSorted(event_types_, type);
}

std::optional<uint32_t> Segment::FindPropertyKey(bool user_scope, std::string_view key) const {
  return FindSorted(user_scope ? user_keys_ : event_keys_, key);
}

const PropertyValue* Segment::Property(bool user_scope, size_t key, uint32_t e) const {
  const PropertyColumn& column = property_column(user_scope, key);
  auto it = std::lower_bound(column.events.begin(), column.events.end(), e);
  if (it == column.events.end() || *it != e) return nullptr;
  return &values_[column.values[it - column.events.begin()]];
}

const PropertyValue* Segment::PropertyNear(bool user_scope, size_t key, uint32_t e,
                                           size_t* hint) const {
  const Column<uint32_t>& events = property_column(user_scope, key).events;
  const size_t n = events.size();
  // Every entry before `lo` is below e: start from the hint unless e lies before it.
  size_t lo = std::min(*hint, n);
  if (lo > 0 && events[lo - 1] >= e) lo = 0;
  size_t hi = lo;
  for (size_t step = 1; hi < n && events[hi] < e; step *= 2) {
    lo = hi + 1;
    hi += step;
  }
  hi = std::min(hi, n);
  const size_t at =
      static_cast<size_t>(std::lower_bound(events.begin() + static_cast<std::ptrdiff_t>(lo),
                                           events.begin() + static_cast<std::ptrdiff_t>(hi), e) -
                          events.begin());
  *hint = at;
  if (at == n || events[at] != e) return nullptr;
  return &values_[property_column(user_scope, key).values[at]];
}

Event Segment::ToEvent(size_t e) const {
  Event event;
  event.project = project_;
  uint32_t g = group_of_event(e);
  if (groups_[g].is_user) event.user_id = groups_[g].id;
  if (device_[e] != kNoCode) event.device_id = devices_[device_[e]];
  event.event_type = event_types_[event_type_[e]];
  event.time_ms = time_ms_[e];
  event.insert_id = std::string(insert_id(e));
  if (session_[e] != kNoSessionColumn) event.session_id = session_[e];
  for (bool user_scope : {false, true}) {
    const std::vector<std::string>& keys = property_keys(user_scope);
    for (size_t k = 0; k < keys.size(); ++k) {
      if (const PropertyValue* v = Property(user_scope, k, static_cast<uint32_t>(e))) {
        (user_scope ? event.user_properties : event.event_properties)[keys[k]] = *v;
      }
    }
  }
  return event;
}

uint64_t Segment::ComputeMemoryBytes() const {
  uint64_t bytes = sizeof(Segment);
  auto strings = [](const std::vector<std::string>& v) {
    uint64_t b = v.capacity() * sizeof(std::string);
    for (const std::string& s : v) b += s.capacity() > 15 ? s.capacity() : 0;
    return b;
  };
  bytes += groups_.capacity() * sizeof(GroupKey);
  for (const GroupKey& g : groups_) bytes += g.id.capacity() > 15 ? g.id.capacity() : 0;
  bytes += group_offsets_.heap_bytes() + time_ms_.heap_bytes() + event_type_.heap_bytes() +
           insert_id_offsets_.heap_bytes() + insert_id_bytes_.heap_bytes() + session_.heap_bytes() +
           device_.heap_bytes();
  bytes += strings(event_types_) + strings(devices_) + strings(event_keys_) + strings(user_keys_);
  for (const auto* columns : {&event_columns_, &user_columns_}) {
    for (const PropertyColumn& c : *columns)
      bytes += sizeof(PropertyColumn) + c.events.heap_bytes() + c.values.heap_bytes();
  }
  bytes += values_.capacity() * sizeof(PropertyValue);
  for (const PropertyValue& v : values_)
    bytes += v.text().capacity() > 15 ? v.text().capacity() : 0;
  return bytes;
}

}  // namespace cohort::analytics::store
