// A segment: an immutable, columnar batch of one project's events, the unit the embedded store
// writes, loads, merges and scans. Events are grouped by their storage group — the user_id when
// the event has one, else the device — and sorted inside a group by the total order of
// analytics.md (time, then insert_id bytes); groups are sorted by key. Under either identity
// mode an actor is a union of whole groups (docs/architecture.md, "Event store"), so per-actor
// scans read contiguous runs.
//
// Strings are dictionary-encoded per segment: event types, devices, property keys and property
// values (codes are indexes into sorted dictionaries, so equal strings have equal codes within a
// segment and code order is byte order). Properties are sparse columns: per key, the events
// that have it (ascending) and their value codes.
//
// Fixed-width columns (column.h) are on the heap while a segment is built and, once the store has
// written it, views into the read-only mapping of its file (SegmentCodec::Decode of a mapping).
//
// Immutable after Build/Decode; thread-safe to share.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/model/event.h"
#include "analytics/model/property_value.h"
#include "analytics/store/column.h"

namespace cohort::analytics::store {

// A storage group: which events a group holds.
struct GroupKey {
  bool is_user = true;  // true: user_id; false: an event with no user_id, by device_id
  std::string id;
  friend bool operator==(const GroupKey&, const GroupKey&) = default;
  friend auto operator<=>(const GroupKey&, const GroupKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupKey& k) {
    return H::combine(std::move(h), k.is_user, k.id);
  }
};

// The group an event belongs to.
GroupKey GroupOf(const Event& event);

// No session on an event (Event::session_id empty), as stored in the session column.
inline constexpr int64_t kNoSessionColumn = INT64_MIN;
// No code: a device column entry for an event without device_id.
inline constexpr uint32_t kNoCode = UINT32_MAX;

// One property key's sparse column.
struct PropertyColumn {
  Column<uint32_t> events;  // event indexes, ascending
  Column<uint32_t> values;  // value codes, parallel to `events`
};

// The order of Segment::values(): by kind, then number, then text (-0 and 0 are equal).
bool ValueLess(const PropertyValue& a, const PropertyValue& b);
// Sorts `values` by ValueLess and keeps one of each (a zero as +0): a values() dictionary.
void SortUniqueValues(std::vector<PropertyValue>& values);

class Segment;
using SegmentPtr = std::shared_ptr<const Segment>;

class Segment {
 public:
  // Builds a segment from events of `project` (each event's project is ignored). Events must
  // have an insert_id and a user_id or device_id; `events` may be in any order and must not
  // hold two events with the same (group, insert_id) — dedup happens before (event_store.h).
  // Errors: kInvalidArgument naming the offending event index.
  [[nodiscard]] static absl::StatusOr<SegmentPtr> Build(std::string project,
                                                        std::vector<Event> events);

  // The segment Build would make from the events of `inputs` (segments of one project, in
  // store order), where an event whose (group, insert_id) an earlier input already holds is
  // left out — but merged column by column (segment_merge.cc): dictionaries are united and
  // codes remapped, each group's events merged by (time, insert_id), no Event materialized.
  // `inputs` must be non-empty and outlive the call.
  [[nodiscard]] static absl::StatusOr<SegmentPtr> Merge(const std::vector<const Segment*>& inputs);

  const std::string& project() const { return project_; }
  size_t event_count() const { return time_ms_.size(); }
  size_t group_count() const { return groups_.size(); }

  // Groups, sorted; events of group g are [group_begin(g), group_begin(g + 1)).
  const GroupKey& group(size_t g) const { return groups_[g]; }
  uint32_t group_begin(size_t g) const { return group_offsets_[g]; }
  // The group that holds event `e` (binary search).
  uint32_t group_of_event(size_t e) const;
  // The index of `key` (or of the group (is_user, id)) among the groups, if present (binary
  // search).
  std::optional<uint32_t> FindGroup(const GroupKey& key) const {
    return FindGroup(key.is_user, key.id);
  }
  std::optional<uint32_t> FindGroup(bool is_user, std::string_view id) const;

  // Columns, by event index.
  int64_t time_ms(size_t e) const { return time_ms_[e]; }
  uint32_t event_type_code(size_t e) const { return event_type_[e]; }
  std::string_view insert_id(size_t e) const;
  // kNoSessionColumn when the event carries no session.
  int64_t session_column(size_t e) const { return session_[e]; }
  // The event's device (a code into devices()), kNoCode when it has none. Device groups' events
  // all carry their group's device.
  uint32_t device_code(size_t e) const { return device_[e]; }

  // Dictionaries, sorted by bytes.
  const std::vector<std::string>& event_types() const { return event_types_; }
  const std::vector<std::string>& devices() const { return devices_; }
  std::optional<uint32_t> FindEventType(std::string_view type) const;

  // Property keys (sorted) and their columns, per scope: event_properties and the events' own
  // user_properties (for $identify events, the operations).
  const std::vector<std::string>& property_keys(bool user_scope) const {
    return user_scope ? user_keys_ : event_keys_;
  }
  const PropertyColumn& property_column(bool user_scope, size_t key) const {
    return user_scope ? user_columns_[key] : event_columns_[key];
  }
  std::optional<uint32_t> FindPropertyKey(bool user_scope, std::string_view key) const;
  // The value codes of both scopes index this one dictionary (values sorted by their JSON text).
  const std::vector<PropertyValue>& values() const { return values_; }
  // The value of property `key` on event `e`, or nullptr (binary search in the column).
  const PropertyValue* Property(bool user_scope, size_t key, uint32_t e) const;
  // As Property, for lookups whose events mostly ascend (a scan in actor order): `*hint` (0 at
  // first) is a position in the key's column kept between calls; the search gallops forward
  // from it, or from the column's start when `e` lies before it.
  const PropertyValue* PropertyNear(bool user_scope, size_t key, uint32_t e, size_t* hint) const;

  // Rebuilds event `e` (for drill-down, merges and tests).
  Event ToEvent(size_t e) const;

  // Heap bytes the segment holds (owned columns and dictionaries), for the store's budget.
  uint64_t memory_bytes() const { return memory_bytes_; }
  // Bytes of the file mapping its columns view (0 when it owns them): page cache, which the
  // kernel reclaims under memory pressure and reads back on access.
  uint64_t mapped_bytes() const { return mapped_bytes_; }

 private:
  friend class SegmentCodec;
  Segment() = default;
  // Room for `n` events in the columns, and one column per property key (keys set before).
  void ReserveColumns(size_t n);
  // Ends building: the columns read what was built; then Finish().
  void Seal();
  // Ends construction (Build, Merge, Decode): counts memory_bytes().
  void Finish();
  uint64_t ComputeMemoryBytes() const;

  std::string project_;
  std::vector<GroupKey> groups_;
  Column<uint32_t> group_offsets_;  // group_count() + 1 entries

  Column<int64_t> time_ms_;
  Column<uint32_t> event_type_;
  Column<uint32_t> insert_id_offsets_;  // event_count() + 1 entries into insert_id_bytes_
  Column<char> insert_id_bytes_;
  Column<int64_t> session_;
  Column<uint32_t> device_;

  std::vector<std::string> event_types_;
  std::vector<std::string> devices_;
  std::vector<std::string> event_keys_, user_keys_;
  std::vector<PropertyColumn> event_columns_, user_columns_;
  std::vector<PropertyValue> values_;

  // The file mapping the columns view (null when they are owned), kept alive with the segment.
  std::shared_ptr<const void> file_;
  uint64_t mapped_bytes_ = 0;
  uint64_t memory_bytes_ = 0;
};

}  // namespace cohort::analytics::store
