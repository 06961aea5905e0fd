// The answers to the queries of query.h, as typed values every engine produces and the tests
// compare exactly (doubles included: each engine computes them by the same formula from the same
// integers, see docs/metrics.md). Buckets are identified by their start (UTC ms); groups by their
// label (PropertyValue::Label, "(none)" for a missing value, "(other)" for the rest beyond the
// limit).
//
// Plain value types; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cohort::analytics {

inline constexpr char kNoneGroup[] = "(none)";
inline constexpr char kOtherGroup[] = "(other)";

// A number that is null when undefined (division by zero).
using Number = std::optional<double>;

struct Series {
  std::string name;            // "A", "B" ... or the formula text
  std::string group;           // the group label; empty without group-by
  std::vector<Number> values;  // one per bucket
  Number total;                // over the whole range (uniques: distinct actors over the range)
  friend bool operator==(const Series&, const Series&) = default;
};

struct SegmentationResult {
  std::vector<int64_t> buckets;
  // Per event series in order (with group-by, each series once per group: one group set per
  // query ranked by the sum over the event series of each label's range total, descending, then
  // label; "(other)" last), then formulas in order with the same groups (docs/metrics.md).
  std::vector<Series> series;
  friend bool operator==(const SegmentationResult&, const SegmentationResult&) = default;
};

struct ActiveUsersResult {
  std::vector<int64_t> buckets;
  std::vector<int64_t> values;
  friend bool operator==(const ActiveUsersResult&, const ActiveUsersResult&) = default;
};

struct StickinessResult {
  std::vector<int64_t> days;         // day starts
  std::vector<Number> dau_over_mau;  // DAU(d) / rolling30(d); null when rolling30(d) = 0
  Number mean_dau_over_mau;          // over the days with a defined ratio; null if none
  // Per ISO week (bucket start) overlapping the range: actors active on exactly N days of that
  // week (within the range), N = 1..7 (index N-1).
  std::vector<int64_t> weeks;
  std::vector<std::vector<int64_t>> days_active_per_week;
  friend bool operator==(const StickinessResult&, const StickinessResult&) = default;
};

struct SessionsResult {
  std::vector<int64_t> buckets;
  std::vector<int64_t> counts;
  std::vector<Number> average_length_s;         // null for a bucket without sessions
  std::vector<std::vector<int64_t>> histogram;  // per bucket: counts per length bucket (+1 rest)
  int64_t total_count = 0;
  Number total_average_length_s;
  friend bool operator==(const SessionsResult&, const SessionsResult&) = default;
};

struct RetentionCell {
  int64_t count = 0;   // retained among the actors whose day is complete
  int64_t out_of = 0;  // actors whose day is complete
  bool incomplete = false;
  friend bool operator==(const RetentionCell&, const RetentionCell&) = default;
};

struct RetentionRow {
  int64_t cohort_day = 0;            // the day start (UTC ms) of the cohort date
  int64_t size = 0;                  // day 0
  std::vector<RetentionCell> cells;  // day 1..max_day, or one per bracket
  friend bool operator==(const RetentionRow&, const RetentionRow&) = default;
};

struct RetentionResult {
  std::vector<RetentionRow> rows;  // cohort dates with at least one actor, ascending
  RetentionRow total;              // all cohorts together (cohort_day = 0)
  friend bool operator==(const RetentionResult&, const RetentionResult&) = default;
};

struct FunnelStep {
  int64_t actors = 0;
  Number conversion_from_first;     // actors / step-1 actors
  Number conversion_from_previous;  // actors / previous step's actors
  // Time from the previous step over the actors reaching this step (ms); null for step 1 and
  // when no actor reached it.
  Number average_time_ms;
  std::optional<int64_t> median_time_ms;  // the lower median
  friend bool operator==(const FunnelStep&, const FunnelStep&) = default;
};

struct FunnelGroup {
  std::string group;  // empty without group-by
  std::vector<FunnelStep> steps;
  friend bool operator==(const FunnelGroup&, const FunnelGroup&) = default;
};

struct FunnelResult {
  FunnelGroup all;                  // every actor
  std::vector<FunnelGroup> groups;  // with group-by: by step-1 actors descending, then label
  friend bool operator==(const FunnelResult&, const FunnelResult&) = default;
};

struct VariantResult {
  std::string variant;
  int64_t actors = 0;       // exposed to this variant only
  int64_t conversions = 0;  // conversion metric
  double mean = 0;          // conversion rate, or the mean of the per-actor sums
  double variance = 0;      // sample variance of the per-actor value (n - 1), 0 when n < 2
  // Against the control (absent for the control itself).
  Number p_value;
  Number p_value_adjusted;  // Bonferroni, more than two variants
  Number difference, difference_low, difference_high;
  Number lift, lift_low, lift_high;
  Number always_valid_p_value;
  bool degenerate = false;
  friend bool operator==(const VariantResult&, const VariantResult&) = default;
};

struct ExperimentResult {
  std::vector<VariantResult> variants;  // by name; the control first
  int64_t multiple_exposures = 0;
  double srm_chi_squared = 0;
  double srm_p_value = 1;
  bool sample_ratio_mismatch = false;
  friend bool operator==(const ExperimentResult&, const ExperimentResult&) = default;
};

// A page of a drill-down (query.h, CellRef).
struct ActorsPage {
  std::vector<std::string> actors;
  bool more = false;  // there are actors after the last one
  friend bool operator==(const ActorsPage&, const ActorsPage&) = default;
};

using Result = std::variant<SegmentationResult, ActiveUsersResult, StickinessResult, SessionsResult,
                            RetentionResult, FunnelResult, ExperimentResult>;

}  // namespace cohort::analytics
