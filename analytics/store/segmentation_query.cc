#include "analytics/store/segmentation_query.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "analytics/model/formula.h"
#include "analytics/store/activity.h"
#include "analytics/store/actor_scan.h"
#include "analytics/store/event_matcher.h"
#include "analytics/store/selector_type_masks.h"
#include "analytics/store/user_state.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

// The index of the bucket of `starts` (ascending bucket starts, the last bucket ending at `end`)
// that holds `t`, or -1 outside them.
int BucketIndex(const std::vector<int64_t>& starts, int64_t end, int64_t t) {
  if (starts.empty() || t < starts.front() || t >= end) return -1;
  return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), t) - starts.begin()) - 1;
}

// BucketIndex remembering the last bucket found: scans meet runs of events in time order.
class BucketFinder {
 public:
  BucketFinder(const std::vector<int64_t>& starts, int64_t end) : starts_(starts), end_(end) {}
  int Index(int64_t t) {
    if (last_ >= 0 && t >= starts_[last_] &&
        t < (static_cast<size_t>(last_) + 1 < starts_.size() ? starts_[last_ + 1] : end_)) {
      return last_;
    }
    const int b = BucketIndex(starts_, end_, t);
    if (b >= 0) last_ = b;
    return b;
  }

 private:
  const std::vector<int64_t>& starts_;
  const int64_t end_;
  int last_ = -1;
};

// One actor's matching events in one (label, series, bucket) cell.
struct Hit {
  uint32_t label = 0;
  uint32_t series = 0;
  uint32_t bucket = 0;
  int64_t events = 0;
};

bool CellLess(const Hit& x, const Hit& y) {
  return std::tie(x.label, x.series, x.bucket) < std::tie(y.label, y.series, y.bucket);
}
bool SameCell(const Hit& x, const Hit& y) {
  return x.label == y.label && x.series == y.series && x.bucket == y.bucket;
}

// Group labels of the query, interned: ids in order of first appearance.
class Labels {
 public:
  uint32_t Intern(std::string label) {
    auto [it, inserted] = ids_.try_emplace(label, static_cast<uint32_t>(names_.size()));
    if (inserted) names_.push_back(std::move(label));
    return it->second;
  }
  size_t size() const { return names_.size(); }
  const std::string& name(uint32_t id) const { return names_[id]; }

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
};

// The group-by label of an event ("" without group-by). Event scope: the key's value code, one
// label per code, interned when first seen. A scan in storage order moves a cursor forward through
// each segment's column (its lookups ascend); a scan per actor jumps around each segment, so the
// segment's column is spread over its events once (a code per event: one load per lookup). User
// scope: the label of the user properties as of the event.
class Labeler {
 public:
  Labeler(const ActorView& view, const std::optional<PropertyRef>& group_by, bool storage_order,
          Labels* labels)
      : group_by_(group_by), storage_order_(storage_order), labels_(labels) {
    if (!group_by_ || group_by_->scope != PropertyRef::Scope::kEvent) return;
    for (const SegmentPtr& segment : view.segments()) {
      const std::optional<uint32_t> key = segment->FindPropertyKey(false, group_by_->key);
      keys_.push_back(key);
      by_code_.emplace_back(key ? segment->values().size() : 0, kUnknown);
      std::vector<uint32_t>& codes = value_codes_.emplace_back();
      if (!key || storage_order_) continue;
      codes.assign(segment->event_count(), kNoCode);
      const PropertyColumn& column = segment->property_column(false, *key);
      for (size_t j = 0; j < column.events.size(); ++j) codes[column.events[j]] = column.values[j];
    }
    cursors_.assign(keys_.size(), 0);
  }

  uint32_t Label(const EventRef& ref, const Properties* user_properties) {
    if (!group_by_) return Fixed("");
    if (group_by_->scope == PropertyRef::Scope::kUser) {
      auto it = user_properties->find(group_by_->key);
      return it == user_properties->end() ? Fixed(kNoneGroup) : labels_->Intern(it->second.Label());
    }
    const uint32_t code = Code(ref);
    if (code == kNoCode) return Fixed(kNoneGroup);
    uint32_t& id = by_code_[ref.segment_number][code];
    if (id == kUnknown) id = labels_->Intern(ref.segment->values()[code].Label());
    return id;
  }

 private:
  static constexpr uint32_t kUnknown = UINT32_MAX;

  // The event's value code of the key, kNoCode without one.
  uint32_t Code(const EventRef& ref) {
    const std::optional<uint32_t>& key = keys_[ref.segment_number];
    if (!key) return kNoCode;
    if (!storage_order_) return value_codes_[ref.segment_number][ref.index];
    // Storage order (ScanSegments): the event indexes of a segment ascend, so a cursor moves
    // forward through its column. Entries are distinct and ascending, so e lies below position at +
    // (e - events[at])
    // + 1, and exactly there where the column is dense (a key every event has): try that first.
    const Column<uint32_t>& events = ref.segment->property_column(false, *key).events;
    const uint32_t e = ref.index;
    size_t& at = cursors_[ref.segment_number];
    if (at < events.size() && events[at] < e) {
      const size_t bound = std::min(events.size(), at + (e - events[at]) + 1);
      if (events[bound - 1] == e) {
        at = bound - 1;
      } else {
        at = static_cast<size_t>(
            std::lower_bound(events.begin() + static_cast<std::ptrdiff_t>(at),
                             events.begin() + static_cast<std::ptrdiff_t>(bound), e) -
            events.begin());
      }
    }
    if (at == events.size() || events[at] != e) return kNoCode;
    return ref.segment->property_column(false, *key).values[at];
  }

  // The id of "" (no group-by) or "(none)", interned once.
  uint32_t Fixed(std::string_view label) {
    uint32_t& id = label.empty() ? empty_id_ : none_id_;
    if (id == kUnknown) id = labels_->Intern(std::string(label));
    return id;
  }

  const std::optional<PropertyRef>& group_by_;
  const bool storage_order_;
  Labels* labels_;
  std::vector<std::optional<uint32_t>> keys_;  // per segment: the key's index, if any
  std::vector<size_t> cursors_;  // per segment, storage order: the column position reached
  std::vector<std::vector<uint32_t>> value_codes_;  // per segment: per event, or empty
  std::vector<std::vector<uint32_t>> by_code_;      // per segment: label id per value code
  uint32_t empty_id_ = kUnknown;
  uint32_t none_id_ = kUnknown;
};

// One series in one output group.
struct GroupCells {
  std::vector<int64_t> events;  // per bucket
  std::vector<int64_t> actors;  // per bucket
  int64_t total_events = 0;
  int64_t total_actors = 0;
};

const Properties kNoProperties;

std::string SeriesName(size_t index) { return std::string(1, static_cast<char>('A' + index)); }

}  // namespace

absl::StatusOr<SegmentationResult> RunSegmentation(const SegmentationQuery& query,
                                                   const ActorView& view, CellCollector* drill,
                                                   EventAccess access) {
  absl::StatusOr<std::vector<Formula>> parsed =
      ParseFormulas(query.formulas, static_cast<int>(query.events.size()));
  if (!parsed.ok()) return parsed.status();
  const std::vector<Formula>& formulas = *parsed;
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("time_zone: ", std::string(calendar.status().message())));
  }
  SegmentationResult result;
  result.buckets = calendar->BucketStarts(scope.from_ms, scope.to_ms, query.interval);
  const size_t bucket_count = result.buckets.size();
  const size_t series_count = query.events.size();

  Activity activity(view, scope);
  std::vector<EventMatcher> matchers;
  bool needs_user_properties = query.group_by && query.group_by->scope == PropertyRef::Scope::kUser;
  for (const EventSelector& selector : query.events) {
    matchers.emplace_back(view, selector, activity);
    needs_user_properties = needs_user_properties || matchers.back().needs_user_properties();
  }

  const SelectorTypeMasks type_masks(view, matchers);

  // The pass: every actor's distinct cells, sorted, with their event counts.
  Labels labels;
  const bool storage_order = !needs_user_properties && access == EventAccess::kAuto;
  Labeler labeler(view, query.group_by, storage_order, &labels);
  std::vector<Hit> hits;
  std::vector<size_t> actor_hits_begin = {0};
  std::vector<Hit> actor_hits;
  std::optional<UserState> user_state;  // only when something reads user properties
  if (needs_user_properties) user_state.emplace(view);
  // The cells of one event: its time, its event type id, and `event()` giving its EventRef (read
  // only when a filter or an event-scope group-by needs the segment); the user properties as of
  // it (empty when nothing reads them). `emit(Hit)` per cell.
  const bool label_reads_event =
      query.group_by && query.group_by->scope == PropertyRef::Scope::kEvent;
  BucketFinder buckets(result.buckets, scope.to_ms);
  const auto cells_of = [&](int64_t t, uint32_t type, auto&& event,
                            const Properties* user_properties, auto&& emit) {
    const uint32_t candidates = type_masks.TypeMask(type);
    if (candidates == 0) return;
    if (t < scope.from_ms || t >= scope.to_ms) return;
    std::optional<EventRef> ref;
    std::optional<uint32_t> label;
    int b = -1;
    for (uint32_t rest = candidates; rest != 0; rest &= rest - 1) {
      const size_t s = static_cast<size_t>(std::countr_zero(rest));
      if (((type_masks.filtered() >> s) & 1) != 0) {
        if (!ref) ref = event();
        if (!matchers[s].Matches(*ref, user_properties)) continue;
      }
      if (!label) {
        if (label_reads_event && !ref) ref = event();
        label = labeler.Label(ref ? *ref : EventRef{}, user_properties);
        b = buckets.Index(t);
      }
      emit(Hit{*label, static_cast<uint32_t>(s), static_cast<uint32_t>(b), 1});
    }
  };
  // Actors with hits, each with its range of `hits`: hits[actor_hits_begin[i] ..
  // actor_hits_begin[i + 1]) belong to actor hit_actors[i], ascending.
  std::vector<uint32_t> hit_actors;
  // Folds actor `a`'s hits [first, last) (reordered here) into `hits`: one per distinct cell.
  const auto fold_actor = [&](size_t a, Hit* first, Hit* last) {
    if (first == last) return;
    std::sort(first, last, CellLess);
    for (const Hit* hit = first; hit != last; ++hit) {
      if (hits.size() > actor_hits_begin.back() && SameCell(hits.back(), *hit)) {
        hits.back().events += hit->events;
      } else {
        hits.push_back(*hit);
      }
    }
    actor_hits_begin.push_back(hits.size());
    hit_actors.push_back(static_cast<uint32_t>(a));
  };
  std::vector<uint8_t> wanted(view.event_types().size());
  for (uint32_t t = 0; t < wanted.size(); ++t) wanted[t] = type_masks.TypeMask(t) != 0;
  if (storage_order) {
    // Nothing needs an actor's events in order: read the segments in storage order, then bring
    // each actor's hits together (a counting sort by actor).
    struct ActorHit {
      uint32_t actor;
      Hit hit;
    };
    std::vector<ActorHit> all;
    ScanSegments(view, wanted, [&](uint32_t actor, int64_t t, uint32_t type, const EventRef& ref) {
      cells_of(
          t, type, [&] { return ref; }, &kNoProperties,
          [&](const Hit& hit) {
            all.push_back({actor, hit});
          });
    });
    std::vector<uint32_t> starts(view.actor_count() + 1, 0);
    for (const ActorHit& h : all) ++starts[h.actor + 1];
    for (size_t a = 0; a < view.actor_count(); ++a) starts[a + 1] += starts[a];
    actor_hits.resize(all.size());
    {
      std::vector<uint32_t> next(starts.begin(), starts.end() - 1);
      for (const ActorHit& h : all) actor_hits[next[h.actor]++] = h.hit;
    }
    for (size_t a = 0; a < view.actor_count(); ++a) {
      fold_actor(a, actor_hits.data() + starts[a], actor_hits.data() + starts[a + 1]);
    }
  } else {
    ScanActors(
        view, access, wanted, user_state ? &*user_state : nullptr,
        [&](int64_t t, uint32_t type, auto&& event, const Properties* user_properties) {
          cells_of(t, type, event, user_properties,
                   [&](const Hit& hit) { actor_hits.push_back(hit); });
          return true;
        },
        [&](size_t a) {
          fold_actor(a, actor_hits.data(), actor_hits.data() + actor_hits.size());
          actor_hits.clear();
        });
  }

  // The groups: labels ranked by the sum over the series of their range totals.
  const size_t label_count = labels.size();
  std::vector<uint32_t> group_of_label(label_count, 0);
  std::vector<std::string> group_names;
  if (!query.group_by) {
    group_names.push_back("");
  } else {
    std::vector<int64_t> score(label_count, 0);
    for (size_t r = 0; r + 1 < actor_hits_begin.size(); ++r) {
      for (size_t i = actor_hits_begin[r]; i < actor_hits_begin[r + 1]; ++i) {
        const Hit& hit = hits[i];
        if (query.metric == SeriesMetric::kTotals) {
          score[hit.label] += hit.events;
        } else if (i == actor_hits_begin[r] || hits[i - 1].label != hit.label ||
                   hits[i - 1].series != hit.series) {
          ++score[hit.label];  // the actor's first cell of this (label, series)
        }
      }
    }
    std::vector<uint32_t> ranked(label_count);
    for (uint32_t l = 0; l < label_count; ++l) ranked[l] = l;
    std::sort(ranked.begin(), ranked.end(), [&](uint32_t x, uint32_t y) {
      if (score[x] != score[y]) return score[x] > score[y];
      return labels.name(x) < labels.name(y);
    });
    size_t limit = static_cast<size_t>(std::max(query.limit, 0));
    size_t kept = std::min(limit, label_count);
    for (size_t i = 0; i < label_count; ++i) {
      group_of_label[ranked[i]] = static_cast<uint32_t>(std::min(i, kept));
      if (i < kept) group_names.push_back(labels.name(ranked[i]));
    }
    if (label_count > kept) group_names.push_back(kOtherGroup);
  }

  // Fold each actor's cells into the groups: events add up, an actor counts once per cell.
  const size_t group_count = group_names.size();
  std::vector<GroupCells> cells(series_count * group_count);
  for (GroupCells& c : cells) {
    c.events.assign(bucket_count, 0);
    c.actors.assign(bucket_count, 0);
  }
  auto cell_of = [&](size_t s, size_t g) -> GroupCells& { return cells[s * group_count + g]; };
  std::vector<std::tuple<uint32_t, uint32_t, uint32_t>> actor_cells;  // (group, series, bucket)
  for (size_t r = 0; r + 1 < actor_hits_begin.size(); ++r) {
    actor_cells.clear();
    for (size_t i = actor_hits_begin[r]; i < actor_hits_begin[r + 1]; ++i) {
      const Hit& hit = hits[i];
      uint32_t g = group_of_label[hit.label];
      GroupCells& c = cell_of(hit.series, g);
      c.events[hit.bucket] += hit.events;
      c.total_events += hit.events;
      actor_cells.emplace_back(g, hit.series, hit.bucket);
    }
    std::sort(actor_cells.begin(), actor_cells.end());
    actor_cells.erase(std::unique(actor_cells.begin(), actor_cells.end()), actor_cells.end());
    for (size_t i = 0; i < actor_cells.size(); ++i) {
      auto [g, s, b] = actor_cells[i];
      GroupCells& c = cell_of(s, g);
      ++c.actors[b];
      // Drill-down rows are result.series indexes: series-major, then group.
      const int row = static_cast<int>(s * group_count + g);
      if (drill != nullptr) drill->Add(row, static_cast<int>(b), hit_actors[r]);
      if (i == 0 || std::get<0>(actor_cells[i - 1]) != g || std::get<1>(actor_cells[i - 1]) != s) {
        ++c.total_actors;
        if (drill != nullptr) drill->Add(row, -1, hit_actors[r]);
      }
    }
  }

  for (size_t s = 0; s < series_count; ++s) {
    for (size_t g = 0; g < group_count; ++g) {
      const GroupCells& c = cell_of(s, g);
      bool totals = query.metric == SeriesMetric::kTotals;
      Series series{SeriesName(s),
                    group_names[g],
                    {},
                    static_cast<double>(totals ? c.total_events : c.total_actors)};
      series.values.reserve(bucket_count);
      for (size_t b = 0; b < bucket_count; ++b) {
        series.values.push_back(static_cast<double>(totals ? c.events[b] : c.actors[b]));
      }
      result.series.push_back(std::move(series));
    }
  }
  for (size_t f = 0; f < formulas.size(); ++f) {
    for (size_t g = 0; g < group_count; ++g) {
      // The formula on bucket b of group g, or on its range totals for b = -1.
      auto evaluate = [&](int b) {
        return formulas[f].Evaluate([&](int s, Formula::Aggregate aggregate) -> Number {
          const GroupCells& c = cell_of(static_cast<size_t>(s), g);
          bool totals = aggregate == Formula::Aggregate::kTotals;
          if (b < 0) return static_cast<double>(totals ? c.total_events : c.total_actors);
          return static_cast<double>(totals ? c.events[b] : c.actors[b]);
        });
      };
      Series series{query.formulas[f], group_names[g], {}, evaluate(-1)};
      series.values.reserve(bucket_count);
      for (size_t b = 0; b < bucket_count; ++b) {
        series.values.push_back(evaluate(static_cast<int>(b)));
      }
      result.series.push_back(std::move(series));
    }
  }
  return result;
}

}  // namespace cohort::analytics::store
