#include "analytics/clickhouse/clickhouse_funnel_query.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analytics/clickhouse/clickhouse_events_sql.h"
#include "analytics/clickhouse/clickhouse_query_rows.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::clickhouse {
namespace {

// Steps are bits of a mask; the unordered mode enumerates subsets of them.
constexpr size_t kMaxSteps = 16;

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
    return std::numeric_limits<int64_t>::max();
  }
  return a + b;
}

// The events of [from_ms, to_ms + window_ms) with their actor, total-order keys, step mask
// (bit s: matches step s), whether active, and the group-by value's typed columns (kind 255 and
// no value without a group-by). Only events matching a step (or active ones when `with_active`).
std::string EventsSql(const FunnelQuery& query, const std::string& table, bool with_active) {
  const QueryScope& scope = query.scope;
  std::vector<std::string> bits;
  for (size_t s = 0; s < query.steps.size(); ++s) {
    bits.push_back(
        absl::StrCat("if(", SelectorSql(query.steps[s], scope), ", ", uint32_t{1} << s, ", 0)"));
  }
  std::string group = "toUInt8(255) AS f_gkind, '' AS f_gstr, toFloat64(0) AS f_gnum";
  if (query.group_by) {
    group = absl::StrCat("indexOf(prop_keys, ", SqlString(query.group_by->key), ") AS f_gi, ",
                         PropertyKindSql("f_gi"), " AS f_gkind, ", PropertyStringSql("f_gi"),
                         " AS f_gstr, ", PropertyNumberSql("f_gi"), " AS f_gnum");
  }
  return absl::StrCat(
      "SELECT actor AS f_actor, time_ms AS f_t, insert_id AS f_id, device_id AS f_dev, "
      "user_id AS f_user, toUInt32(",
      absl::StrJoin(bits, " + "), ") AS f_mask, toUInt8(if(", ActiveSql(scope),
      ", 1, 0)) AS f_active, ", group, " FROM ", DedupedEventsSql(table, scope),
      " AS f_e WHERE time_ms >= ", SqlInt(scope.from_ms), " AND time_ms < ",
      SqlInt(SaturatingAdd(scope.to_ms, query.window_ms)),
      with_active ? " AND (f_mask != 0 OR f_active = 1)" : " AND f_mask != 0");
}

// Ordered and strict: one row per actor with a candidate: the reached steps' times ("t1,t2,..."),
// the best candidate's group-by columns, and 0. One subquery level per step, each reading the
// previous one's positions as columns: chained aliases in one SELECT are expanded by current
// engines' analyzers into expressions exponential in the steps. Lambdas read the columns they
// capture also outside lambdas, up to the outermost SELECT (the select lists, and f_keep), or
// 18.16 drops them from the subqueries ("Unknown identifier").
std::string OrderedSql(const FunnelQuery& query, const std::string& table) {
  const bool strict = query.order == FunnelOrder::kStrict;
  const size_t k = query.steps.size();
  constexpr char kCarried[] = "f_ev, f_ts, f_ms, f_as, f_ix, f_p0";
  // Per actor: its events; the candidates' positions (f_p0) and each chain's times so far.
  std::string sql = absl::StrCat(
      "SELECT f_ev, arrayMap(x -> tupleElement(x, 1), f_ev) AS f_ts, "
      "arrayMap(x -> tupleElement(x, 5), f_ev) AS f_ms, "
      "arrayMap(x -> tupleElement(x, 6), f_ev) AS f_as, arrayEnumerate(f_ev) AS f_ix, "
      "arrayFilter(i -> bitAnd(f_ms[i], 1) != 0 AND f_ts[i] >= ",
      SqlInt(query.scope.from_ms), " AND f_ts[i] < ", SqlInt(query.scope.to_ms),
      ", f_ix) AS f_p0, arrayMap(c -> [f_ts[c]], f_p0) AS f_tt0 "
      "FROM (SELECT f_actor, arraySort(groupArray((f_t, f_id, f_dev, f_user, f_mask, f_active, "
      "f_gkind, f_gstr, f_gnum))) AS f_ev FROM (",
      EventsSql(query, table, strict), ") AS f_in GROUP BY f_actor) AS f_g ");
  absl::StrAppend(&sql, "WHERE length(f_p0) > 0");
  for (size_t s = 1; s < k; ++s) {
    // Step s: the earliest event of the step after the chain's previous one (position p, 0 once
    // the chain stopped), taken when inside the candidate's window (and, strict, with no active
    // event between); f is bound once through a one-element arrayMap.
    const std::string p = absl::StrCat("f_p", s - 1), tt = absl::StrCat("f_tt", s - 1);
    sql = absl::StrCat(
        "SELECT ", kCarried, s > 1 ? absl::StrCat(", ", p) : "", ", ", tt,
        ", arrayMap((c, p) -> if(p = 0, 0, arrayMap(f -> if(f = 0 OR f_ts[f] > f_ts[c] + ",
        SqlInt(query.window_ms),
        strict ? " OR arrayExists((a, i) -> a = 1 AND i > p AND i < f, f_as, f_ix)" : "",
        ", 0, f), [arrayFirstIndex((m, i) -> i > p AND bitAnd(m, ", uint32_t{1} << s,
        ") != 0, f_ms, f_ix)])[1]), f_p0, ", p, ") AS f_p", s,
        ", arrayMap((t, q) -> if(q = 0, t, "
        "arrayPushBack(t, f_ts[q])), ",
        tt, ", f_p", s, ") AS f_tt", s, " FROM (", sql, ") AS f_s", s);
  }
  // The earliest candidate reaching furthest.
  return absl::StrCat(
      "SELECT arrayStringConcat(arrayMap(t -> toString(t), ", "f_tt", k - 1,
      "[f_b]), ',') AS f_times, tupleElement(f_ev[f_p0[f_b]], 7) AS f_k, "
      "tupleElement(f_ev[f_p0[f_b]], 8) AS f_s, tupleElement(f_ev[f_p0[f_b]], 9) AS f_n, "
      "ignore(f_ts, f_ms, f_as, f_ix) AS f_keep FROM (SELECT ",
      kCarried, ", f_tt", k - 1, ", arrayMap(t -> length(t), f_tt", k - 1,
      ") AS f_len, arrayReduce('max', f_len) AS f_max, arrayFirstIndex(l -> l = f_max, f_len) AS "
      "f_b FROM (",
      sql, ") AS f_last) AS f_best");
}

// Unordered: the step-matching events, per actor in total order.
std::string UnorderedSql(const FunnelQuery& query, const std::string& table) {
  return absl::StrCat("SELECT f_actor, f_t, f_mask, f_gkind, f_gstr, f_gnum FROM (",
                      EventsSql(query, table, false),
                      ") AS f_in ORDER BY f_actor, f_t, f_id, f_dev, f_user");
}

// One actor's step-matching events in total order.
struct ActorEvents {
  std::vector<int64_t> time;
  std::vector<uint32_t> steps;  // bit s: the event matches step s
  std::vector<int32_t> label;   // group-by label id of events matching step 1, else -1

  void Clear() {
    time.clear();
    steps.clear();
    label.clear();
  }
  size_t size() const { return time.size(); }
};

// How far an actor got: the times of its matched events in total order, one per step reached,
// and the label of its step-1 event.
struct Progress {
  std::vector<int64_t> times;
  int32_t label = -1;
};

// Unordered: the embedded store's scan (analytics/store/funnel_query.cc, kept in step with it):
// which steps can take distinct events of a window is Hall's condition over the events' step
// masks, checked with subset sums over the masks of the window's events.
class UnorderedScan {
 public:
  explicit UnorderedScan(const FunnelQuery& query)
      : query_(query), k_(query.steps.size()), full_((1u << k_) - 1) {}

  Progress Best(const ActorEvents& events) {
    const size_t n = events.size();
    Progress best;
    sums_.assign(size_t{1} << k_, 0);
    // sums_ covers the events (anchor, end): the window without the anchor.
    size_t end = 0;
    for (size_t a = 0; a < n && best.times.size() < k_; ++a) {
      if (end > a) Shift(events.steps[a], -1);  // a leaves the window's rest
      if (end <= a) end = a + 1;
      const int64_t deadline = events.time[a] + query_.window_ms;
      while (end < n && events.time[end] <= deadline) Shift(events.steps[end++], +1);
      if (events.steps[a] == 0 || !InRange(events.time[a])) continue;
      anchor_mask_ = events.steps[a];
      for (size_t reach = k_; reach > best.times.size(); --reach) {
        const uint32_t wanted = (1u << reach) - 1;
        removed_.clear();
        if (!Feasible(wanted, /*anchor_pending=*/true)) continue;
        best = Assign(events, a, end, reach);
        break;
      }
    }
    return best;
  }

 private:
  bool InRange(int64_t t) const { return t >= query_.scope.from_ms && t < query_.scope.to_ms; }

  // sums_[S] = the number of window events (anchor excluded) matching some step, all of whose
  // steps lie in S.
  void Shift(uint32_t mask, int64_t delta) {
    if (mask == 0) return;
    for (uint32_t s = mask;; s = (s + 1) | mask) {
      sums_[s] += delta;
      if (s == full_) break;
    }
  }

  // Whether the steps of `wanted` can take distinct events of the window other than removed_.
  bool Hall(uint32_t wanted) const {
    const int64_t total = sums_[full_];
    for (uint32_t t = wanted; t != 0; t = (t - 1) & wanted) {
      int64_t serving = total - sums_[full_ & ~t];
      for (uint32_t r : removed_) serving -= (r & t) != 0;
      if (serving < std::popcount(t)) return false;
    }
    return true;
  }

  // Hall, and when the anchor is pending, the anchor takes one of the wanted steps it matches.
  bool Feasible(uint32_t wanted, bool anchor_pending) const {
    if (!anchor_pending) return Hall(wanted);
    for (uint32_t options = wanted & anchor_mask_; options != 0; options &= options - 1) {
      if (Hall(wanted & ~(options & -options))) return true;
    }
    return false;
  }

  // The assignment of steps 0..reach-1 smallest step by step, given that one exists.
  Progress Assign(const ActorEvents& events, size_t anchor, size_t end, size_t reach) {
    uint32_t wanted = (1u << reach) - 1;
    bool anchor_pending = true;
    std::vector<size_t> chosen;
    int32_t label = -1;
    for (size_t s = 0; s < reach; ++s) {
      const uint32_t bit = 1u << s;
      wanted &= ~bit;
      std::optional<size_t> pick;
      if (anchor_pending && (anchor_mask_ & bit) && Feasible(wanted, false)) {
        pick = anchor;
        anchor_pending = false;
      }
      // Events with equal masks are interchangeable here: a mask that failed fails again.
      std::vector<uint32_t> failed;
      for (size_t p = anchor + 1; !pick && p < end; ++p) {
        uint32_t mask = events.steps[p];
        if (!(mask & bit) || std::find(chosen.begin(), chosen.end(), p) != chosen.end() ||
            std::find(failed.begin(), failed.end(), mask) != failed.end()) {
          continue;
        }
        removed_.push_back(mask);
        if (Feasible(wanted, anchor_pending)) {
          pick = p;
        } else {
          removed_.pop_back();
          failed.push_back(mask);
        }
      }
      if (!pick) {
        // A bug: feasibility of the whole reach guarantees a pick (Hall's theorem).
        std::fprintf(stderr, "clickhouse_funnel_query: unordered assignment found no event\n");
        std::abort();
      }
      if (s == 0) label = events.label[*pick];
      chosen.push_back(*pick);
    }
    std::sort(chosen.begin(), chosen.end());
    Progress progress;
    progress.label = label;
    for (size_t p : chosen) progress.times.push_back(events.time[p]);
    return progress;
  }

  const FunnelQuery& query_;
  const size_t k_;
  const uint32_t full_;
  uint32_t anchor_mask_ = 0;
  std::vector<int64_t> sums_;
  std::vector<uint32_t> removed_;  // masks of the events already assigned (anchor excluded)
};

struct Entry {
  size_t reach = 0;
  size_t gaps_offset = 0;  // into the gaps of all entries: reach - 1 of them
  int32_t label = -1;
};

FunnelGroup BuildGroup(std::string label, const std::vector<const Entry*>& entries,
                       const std::vector<int64_t>& all_gaps, size_t k) {
  auto ratio = [](int64_t a, int64_t b) -> Number {
    if (b == 0) return std::nullopt;
    return static_cast<double>(a) / static_cast<double>(b);
  };
  FunnelGroup group{std::move(label), {}};
  std::vector<int64_t> gaps;
  for (size_t j = 0; j < k; ++j) {
    FunnelStep step;
    gaps.clear();
    for (const Entry* entry : entries) {
      if (entry->reach <= j) continue;
      ++step.actors;
      if (j > 0) gaps.push_back(all_gaps[entry->gaps_offset + j - 1]);
    }
    const int64_t first = j == 0 ? step.actors : group.steps[0].actors;
    const int64_t previous = j == 0 ? step.actors : group.steps[j - 1].actors;
    step.conversion_from_first = ratio(step.actors, first);
    step.conversion_from_previous = ratio(step.actors, previous);
    if (!gaps.empty()) {
      int64_t sum = 0;
      for (int64_t gap : gaps) sum += gap;
      step.average_time_ms = static_cast<double>(sum) / static_cast<double>(gaps.size());
      auto median = gaps.begin() + static_cast<std::ptrdiff_t>((gaps.size() - 1) / 2);
      std::nth_element(gaps.begin(), median, gaps.end());
      step.median_time_ms = *median;
    }
    group.steps.push_back(std::move(step));
  }
  return group;
}

// Group-by labels, numbered in order of appearance.
class Labels {
 public:
  absl::StatusOr<int32_t> Id(const std::string& kind, const std::string& text,
                             const std::string& number) {
    absl::StatusOr<std::string> label = LabelFromColumns(kind, text, number);
    if (!label.ok()) return label.status();
    auto [it, inserted] = ids_.try_emplace(*label, static_cast<int32_t>(labels_.size()));
    if (inserted) labels_.push_back(*label);
    return it->second;
  }
  const std::vector<std::string>& labels() const { return labels_; }

 private:
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<std::string> labels_;
};

}  // namespace

absl::StatusOr<FunnelResult> RunFunnel(const FunnelQuery& query, SqlExecutor& executor,
                                       const std::string& table) {
  const QueryScope& scope = query.scope;
  absl::StatusOr<Calendar> calendar = Calendar::Load(scope.time_zone);
  if (!calendar.ok()) return calendar.status();
  const size_t k = query.steps.size();
  if (k == 0 || k > kMaxSteps) {
    return absl::InvalidArgumentError("steps: a funnel has 1 to 16 steps");
  }
  for (size_t s = 0; s < k; ++s) {
    absl::Status supported = CheckSelectorSupported(query.steps[s], absl::StrCat("steps[", s, "]"));
    if (!supported.ok()) return supported;
  }
  absl::Status group_supported = CheckNoUserProperty(query.group_by, "group_by");
  if (!group_supported.ok()) return group_supported;

  Labels labels;
  std::vector<Entry> entries;
  std::vector<int64_t> gaps;
  auto add = [&](const Progress& progress) {
    if (progress.times.empty()) return;
    entries.push_back({progress.times.size(), gaps.size(), progress.label});
    for (size_t j = 1; j < progress.times.size(); ++j) {
      gaps.push_back(progress.times[j] - progress.times[j - 1]);
    }
  };
  if (query.order == FunnelOrder::kUnordered) {
    absl::StatusOr<std::string> answer =
        executor.Query(UnorderedSql(query, table), Format::kTabSeparated);
    if (!answer.ok()) return answer.status();
    absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseTsvRows(*answer, 6);
    if (!rows.ok()) return rows.status();
    UnorderedScan unordered(query);
    ActorEvents events;
    for (size_t r = 0; r < rows->size(); ++r) {
      const std::vector<std::string>& row = (*rows)[r];
      absl::StatusOr<int64_t> time = ParseInt(row[1]);
      absl::StatusOr<int64_t> mask = ParseInt(row[2]);
      if (!time.ok()) return time.status();
      if (!mask.ok()) return mask.status();
      int32_t label = -1;
      if (query.group_by && (*mask & 1)) {
        absl::StatusOr<int32_t> id = labels.Id(row[3], row[4], row[5]);
        if (!id.ok()) return id.status();
        label = *id;
      }
      events.time.push_back(*time);
      events.steps.push_back(static_cast<uint32_t>(*mask));
      events.label.push_back(label);
      if (r + 1 == rows->size() || (*rows)[r + 1][0] != row[0]) {
        add(unordered.Best(events));
        events.Clear();
      }
    }
  } else {
    absl::StatusOr<std::string> answer =
        executor.Query(OrderedSql(query, table), Format::kTabSeparated);
    if (!answer.ok()) return answer.status();
    absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseTsvRows(*answer, 5);
    if (!rows.ok()) return rows.status();
    for (const std::vector<std::string>& row : *rows) {
      Progress progress;
      absl::StatusOr<std::vector<int64_t>> times = ParseIntList(row[0]);
      if (!times.ok()) return times.status();
      progress.times = std::move(*times);
      if (query.group_by) {
        absl::StatusOr<int32_t> id = labels.Id(row[1], row[2], row[3]);
        if (!id.ok()) return id.status();
        progress.label = *id;
      }
      add(progress);
    }
  }

  FunnelResult result;
  std::vector<const Entry*> all;
  const std::vector<std::string>& names = labels.labels();
  std::vector<std::vector<const Entry*>> by_label(names.size());
  for (const Entry& entry : entries) {
    all.push_back(&entry);
    if (query.group_by) by_label[entry.label].push_back(&entry);
  }
  result.all = BuildGroup("", all, gaps, k);
  if (!query.group_by) return result;

  // Every entry reached step 1, so a group's size is its step-1 actors.
  std::vector<int32_t> ranked;
  for (size_t l = 0; l < names.size(); ++l) {
    if (!by_label[l].empty()) ranked.push_back(static_cast<int32_t>(l));
  }
  std::sort(ranked.begin(), ranked.end(), [&](int32_t x, int32_t y) {
    if (by_label[x].size() != by_label[y].size()) return by_label[x].size() > by_label[y].size();
    return names[x] < names[y];
  });
  const size_t limit = static_cast<size_t>(std::max(query.limit, 0));
  std::vector<const Entry*> other;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const std::vector<const Entry*>& members = by_label[ranked[i]];
    if (i < limit) {
      result.groups.push_back(BuildGroup(names[ranked[i]], members, gaps, k));
    } else {
      other.insert(other.end(), members.begin(), members.end());
    }
  }
  if (ranked.size() > limit) result.groups.push_back(BuildGroup(kOtherGroup, other, gaps, k));
  return result;
}

}  // namespace cohort::analytics::clickhouse
