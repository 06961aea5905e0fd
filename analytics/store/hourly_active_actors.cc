#include "analytics/store/hourly_active_actors.h"

#include <algorithm>
#include <climits>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "analytics/store/activity.h"
#include "analytics/store/actor_view.h"

namespace cohort::analytics::store {
namespace {

int64_t HourOf(int64_t t_ms) {
  int64_t hour = t_ms / HourlyActiveActors::kHourMs;
  if (t_ms % HourlyActiveActors::kHourMs < 0) --hour;  // floor for times before 1970
  return hour;
}

}  // namespace

HourlyActiveActors HourlyActiveActors::Build(const ActorView& view) {
  const Activity activity(view, QueryScope{});
  Builder builder(view.actor_count());
  for (size_t a = 0; a < view.actor_count(); ++a) builder.AddFromTimeline(view, activity, a);
  return std::move(builder).Finish();
}

HourlyActiveActors::Builder::Builder(size_t actors, const HourlyActiveActors* base) : base_(base) {
  result_.actor_offsets_.reserve(actors + 1);
  result_.actor_offsets_.push_back(0);
  result_.serials_.reserve(actors);
  if (base_ != nullptr) result_.next_serial_ = base_->next_serial_;
}

void HourlyActiveActors::Builder::AddFromTimeline(const ActorView& view, const Activity& activity,
                                                  size_t a, std::optional<uint32_t> base_actor) {
  const uint32_t serial =
      base_actor.has_value() ? base_->serials_[*base_actor] : result_.next_serial_++;
  result_.serials_.push_back(serial);
  bool any = false;
  int64_t last = 0;
  for (size_t i = view.timeline_begin(a); i < view.timeline_end(a); ++i) {
    if (!activity.active_type(view.timeline_type(i))) continue;
    const int64_t t = view.timeline_time(i);
    const int64_t hour = HourOf(t);
    if (any && hour == last) {  // events come in time order
      result_.span_ms_.back() = static_cast<uint32_t>(t - result_.first_ms_.back());
      continue;
    }
    any = true;
    last = hour;
    result_.first_ms_.push_back(t);
    result_.span_ms_.push_back(0);
    if (base_ != nullptr) added_.emplace_back(hour, serial);
  }
  result_.actor_offsets_.push_back(result_.first_ms_.size());
}

void HourlyActiveActors::Builder::AddCopies(size_t first, size_t last) {
  const HourlyActiveActors& source = *base_;
  const size_t from = source.actor_offsets_[first], to = source.actor_offsets_[last];
  const size_t shift = result_.first_ms_.size();
  result_.first_ms_.insert(result_.first_ms_.end(),
                           source.first_ms_.begin() + static_cast<std::ptrdiff_t>(from),
                           source.first_ms_.begin() + static_cast<std::ptrdiff_t>(to));
  result_.span_ms_.insert(result_.span_ms_.end(),
                          source.span_ms_.begin() + static_cast<std::ptrdiff_t>(from),
                          source.span_ms_.begin() + static_cast<std::ptrdiff_t>(to));
  for (size_t a = first + 1; a <= last; ++a) {
    result_.actor_offsets_.push_back(source.actor_offsets_[a] - from + shift);
  }
  result_.serials_.insert(result_.serials_.end(),
                          source.serials_.begin() + static_cast<std::ptrdiff_t>(first),
                          source.serials_.begin() + static_cast<std::ptrdiff_t>(last));
}

void HourlyActiveActors::Builder::Remove(uint32_t a) {
  for (size_t i = base_->actor_offsets_[a]; i < base_->actor_offsets_[a + 1]; ++i) {
    removed_.emplace_back(HourOf(base_->first_ms_[i]), base_->serials_[a]);
  }
}

HourlyActiveActors HourlyActiveActors::Builder::Finish() && {
  HourlyActiveActors& r = result_;
  r.first_ms_.shrink_to_fit();
  r.span_ms_.shrink_to_fit();
  if (base_ != nullptr) {
    // Extending: the base's sets, shared where no serial leaves or joins, else copied and edited.
    std::sort(removed_.begin(), removed_.end());
    std::sort(added_.begin(), added_.end());
    size_t b = 0, x = 0, y = 0;  // cursors in base hours, removed_, added_
    while (b < base_->hours_.size() || y < added_.size()) {
      int64_t hour = b < base_->hours_.size() ? base_->hours_[b] : INT64_MAX;
      if (y < added_.size()) hour = std::min(hour, added_[y].first);
      const bool in_base = b < base_->hours_.size() && base_->hours_[b] == hour;
      const size_t x_end = static_cast<size_t>(
          std::partition_point(removed_.begin() + static_cast<std::ptrdiff_t>(x), removed_.end(),
                               [&](const auto& e) { return e.first <= hour; }) -
          removed_.begin());
      size_t y_end = y;
      while (y_end < added_.size() && added_[y_end].first == hour) ++y_end;
      // (Serials leave only hours the base has: removed_ holds no hour below `hour` here.)
      if (x == x_end && y == y_end) {
        r.hours_.push_back(hour);
        r.actors_.push_back(base_->actors_[b]);
      } else {
        RoaringPtr set(in_base ? roaring_bitmap_copy(base_->actors_[b].get())
                               : roaring_bitmap_create());
        for (; x < x_end; ++x) roaring_bitmap_remove(set.get(), removed_[x].second);
        for (; y < y_end; ++y) roaring_bitmap_add(set.get(), added_[y].second);
        if (!roaring_bitmap_is_empty(set.get())) {
          roaring_bitmap_run_optimize(set.get());
          r.hours_.push_back(hour);
          r.actors_.push_back(SharedRoaring(set.release(), RoaringFree()));
        }
      }
      if (in_base) ++b;
    }
    return std::move(r);
  }
  // Built whole: a counting sort of the (actor, hour) entries by hour; actors come in index
  // order and serials number them so, so each hour's list comes out ascending. Hours are
  // numbered densely over their range when it is small (days to centuries: a flat table), else
  // through a map.
  const size_t actors = r.actor_offsets_.size() - 1;
  const size_t entries = r.first_ms_.size();
  if (entries == 0) return std::move(r);
  int64_t low = INT64_MAX, high = INT64_MIN;
  for (int64_t t : r.first_ms_) {
    low = std::min(low, t);
    high = std::max(high, t);
  }
  const int64_t first_hour = HourOf(low);
  const uint64_t range = static_cast<uint64_t>(HourOf(high) - first_hour) + 1;
  constexpr uint64_t kDenseHours = uint64_t{1} << 22;  // 16 MB of slots; ~478 years
  std::vector<uint32_t> slot_of_entry(entries);
  if (range <= kDenseHours) {
    std::vector<uint32_t> slot(range, UINT32_MAX);
    for (int64_t t : r.first_ms_) slot[static_cast<size_t>(HourOf(t) - first_hour)] = 0;
    for (size_t h = 0; h < range; ++h) {
      if (slot[h] == UINT32_MAX) continue;
      slot[h] = static_cast<uint32_t>(r.hours_.size());
      r.hours_.push_back(first_hour + static_cast<int64_t>(h));
    }
    for (size_t i = 0; i < entries; ++i) {
      slot_of_entry[i] = slot[static_cast<size_t>(HourOf(r.first_ms_[i]) - first_hour)];
    }
  } else {
    absl::flat_hash_map<int64_t, uint32_t> slot;
    for (int64_t t : r.first_ms_) slot.emplace(HourOf(t), 0);
    for (const auto& [hour, unused] : slot) r.hours_.push_back(hour);
    std::sort(r.hours_.begin(), r.hours_.end());
    for (uint32_t k = 0; k < r.hours_.size(); ++k) slot[r.hours_[k]] = k;
    for (size_t i = 0; i < entries; ++i) slot_of_entry[i] = slot[HourOf(r.first_ms_[i])];
  }
  std::vector<size_t> begin(r.hours_.size() + 1, 0);
  for (uint32_t k : slot_of_entry) ++begin[k + 1];
  for (size_t k = 0; k < r.hours_.size(); ++k) begin[k + 1] += begin[k];
  std::vector<uint32_t> members(entries);
  {
    std::vector<size_t> fill(begin.begin(), begin.end() - 1);
    for (size_t a = 0; a < actors; ++a) {
      for (size_t i = r.actor_offsets_[a]; i < r.actor_offsets_[a + 1]; ++i) {
        members[fill[slot_of_entry[i]]++] = r.serials_[a];
      }
    }
  }
  for (size_t k = 0; k < r.hours_.size(); ++k) {
    RoaringPtr set(roaring_bitmap_of_ptr(begin[k + 1] - begin[k], members.data() + begin[k]));
    roaring_bitmap_run_optimize(set.get());
    r.actors_.push_back(SharedRoaring(set.release(), RoaringFree()));
  }
  return std::move(r);
}

bool HourlyActiveActors::Applies(const QueryScope& scope) {
  const std::vector<std::string>& defaults = QueryScope{}.inactive_event_types;
  return std::set<std::string>(scope.inactive_event_types.begin(),
                               scope.inactive_event_types.end()) ==
         std::set<std::string>(defaults.begin(), defaults.end());
}

uint64_t HourlyActiveActors::CountActive(int64_t from_ms, int64_t to_ms) const {
  auto first = std::lower_bound(hours_.begin(), hours_.end(), HourOf(from_ms));
  auto last = std::lower_bound(hours_.begin(), hours_.end(), HourOf(to_ms));
  if (first >= last) return 0;
  const size_t begin = static_cast<size_t>(first - hours_.begin());
  const size_t n = static_cast<size_t>(last - first);
  if (n == 1) return roaring_bitmap_get_cardinality(actors_[begin].get());
  std::vector<const roaring_bitmap_t*> sets;
  sets.reserve(n);
  for (size_t i = begin; i < begin + n; ++i) sets.push_back(actors_[i].get());
  RoaringPtr all(roaring_bitmap_or_many(n, sets.data()));
  return roaring_bitmap_get_cardinality(all.get());
}

std::vector<int64_t> HourlyActiveActors::CountNew(const std::vector<int64_t>& starts,
                                                  int64_t end_ms) const {
  std::vector<int64_t> counts(starts.size(), 0);
  if (starts.empty()) return counts;
  for (size_t a = 0; a + 1 < actor_offsets_.size(); ++a) {
    if (actor_offsets_[a] == actor_offsets_[a + 1]) continue;
    const int64_t t = HourOf(first_ms_[actor_offsets_[a]]) *
                      kHourMs;  // with whole-hour bounds, the first event's bucket
    if (t < starts.front() || t >= end_ms) continue;
    ++counts[std::upper_bound(starts.begin(), starts.end(), t) - starts.begin() - 1];
  }
  return counts;
}

bool HourlyActiveActors::SameAs(const HourlyActiveActors& other) const {
  if (hours_ != other.hours_ || actor_offsets_ != other.actor_offsets_ ||
      first_ms_ != other.first_ms_ || span_ms_ != other.span_ms_) {
    return false;
  }
  // Serials may differ: compare each hour's actors by index.
  const auto indexes = [](const HourlyActiveActors& h, size_t k) {
    absl::flat_hash_map<uint32_t, uint32_t> index_of;
    for (uint32_t a = 0; a < h.serials_.size(); ++a) index_of[h.serials_[a]] = a;
    std::vector<uint32_t> serials(roaring_bitmap_get_cardinality(h.actors_[k].get()));
    roaring_bitmap_to_uint32_array(h.actors_[k].get(), serials.data());
    std::vector<uint32_t> out;
    for (uint32_t serial : serials) {
      auto it = index_of.find(serial);
      out.push_back(it == index_of.end() ? UINT32_MAX : it->second);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  for (size_t k = 0; k < hours_.size(); ++k) {
    if (indexes(*this, k) != indexes(other, k)) return false;
  }
  return true;
}

size_t HourlyActiveActors::memory_bytes() const {
  size_t bytes = hours_.capacity() * sizeof(int64_t) + actors_.capacity() * sizeof(SharedRoaring) +
                 serials_.capacity() * sizeof(uint32_t) +
                 actor_offsets_.capacity() * sizeof(size_t) +
                 first_ms_.capacity() * sizeof(int64_t) + span_ms_.capacity() * sizeof(uint32_t);
  for (const SharedRoaring& set : actors_) bytes += roaring_bitmap_size_in_bytes(set.get());
  return bytes;
}

}  // namespace cohort::analytics::store
