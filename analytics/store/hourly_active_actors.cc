#include "analytics/store/hourly_active_actors.h"

#include <algorithm>
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

HourlyActiveActors::Builder::Builder(size_t actors) {
  result_.actor_offsets_.reserve(actors + 1);
  result_.actor_offsets_.push_back(0);
}

void HourlyActiveActors::Builder::AddFromTimeline(const ActorView& view, const Activity& activity,
                                                  size_t a) {
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
  }
  result_.actor_offsets_.push_back(result_.first_ms_.size());
}

void HourlyActiveActors::Builder::AddCopy(const HourlyActiveActors& source, size_t a) {
  const auto begin = static_cast<std::ptrdiff_t>(source.actor_offsets_[a]);
  const auto end = static_cast<std::ptrdiff_t>(source.actor_offsets_[a + 1]);
  result_.first_ms_.insert(result_.first_ms_.end(), source.first_ms_.begin() + begin,
                           source.first_ms_.begin() + end);
  result_.span_ms_.insert(result_.span_ms_.end(), source.span_ms_.begin() + begin,
                          source.span_ms_.begin() + end);
  result_.actor_offsets_.push_back(result_.first_ms_.size());
}

HourlyActiveActors HourlyActiveActors::Builder::Finish() && {
  HourlyActiveActors& r = result_;
  r.first_ms_.shrink_to_fit();
  r.span_ms_.shrink_to_fit();
  // Each actor's hours ascend and actors come in index order, so each hour's list comes out
  // ascending.
  absl::flat_hash_map<int64_t, std::vector<uint32_t>> by_hour;
  const size_t actors = r.actor_offsets_.size() - 1;
  for (size_t a = 0; a < actors; ++a) {
    for (size_t i = r.actor_offsets_[a]; i < r.actor_offsets_[a + 1]; ++i) {
      by_hour[HourOf(r.first_ms_[i])].push_back(static_cast<uint32_t>(a));
    }
  }
  for (const auto& [hour, members] : by_hour) r.hours_.push_back(hour);
  std::sort(r.hours_.begin(), r.hours_.end());
  for (int64_t hour : r.hours_) {
    const std::vector<uint32_t>& members = by_hour[hour];
    RoaringPtr set(roaring_bitmap_of_ptr(members.size(), members.data()));
    roaring_bitmap_run_optimize(set.get());
    r.actors_.push_back(std::move(set));
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
  for (size_t i = 0; i < actors_.size(); ++i) {
    if (!roaring_bitmap_equals(actors_[i].get(), other.actors_[i].get())) return false;
  }
  return true;
}

size_t HourlyActiveActors::memory_bytes() const {
  size_t bytes = hours_.capacity() * sizeof(int64_t) + actors_.capacity() * sizeof(RoaringPtr) +
                 actor_offsets_.capacity() * sizeof(size_t) +
                 first_ms_.capacity() * sizeof(int64_t) + span_ms_.capacity() * sizeof(uint32_t);
  for (const RoaringPtr& set : actors_) bytes += roaring_bitmap_size_in_bytes(set.get());
  return bytes;
}

}  // namespace cohort::analytics::store
