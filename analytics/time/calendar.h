// Calendar buckets in an IANA time zone: where a minute, hour, day, week or month begins and ends,
// as analytics.md defines them (weeks start on Monday; a DST day is the calendar day, 23 or 25
// hours long). Every metric that groups by time asks a Calendar; no code of ours computes an
// offset by hand. Zones come from the system's tz database (/usr/share/zoneinfo, Debian's tzdata)
// through Abseil's cctz.
//
// Times are milliseconds since the Unix epoch (UTC), the unit events carry.
//
// Minute and hour buckets begin where the local clock's minute or hour changes and also at every
// offset transition, so in a repeated hour (DST ends) each pass is its own bucket, and buckets
// never overlap even in zones whose transitions fall mid-hour. Day, week and month buckets are
// civil: from the first instant of the civil day (midnight, or the transition when midnight is
// skipped) to the first instant of the next one.
//
// A value type; thread-safe to share (const methods only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace cohort::analytics {

enum class Interval { kMinute, kHour, kDay, kWeek, kMonth };

// "minute", "hour", "day", "week", "month" (as the query API spells them).
std::string_view IntervalName(Interval interval);
// Errors: kInvalidArgument naming the accepted values.
absl::StatusOr<Interval> ParseInterval(std::string_view name);

class Calendar {
 public:
  // Errors: kInvalidArgument when `iana_name` (e.g. "Asia/Shanghai", "UTC") is not in the tz
  // database.
  [[nodiscard]] static absl::StatusOr<Calendar> Load(std::string_view iana_name);
  static Calendar Utc();

  const std::string& name() const { return name_; }

  // The start of the bucket of `interval` that contains `t_ms`.
  int64_t BucketStart(int64_t t_ms, Interval interval) const;
  // The start of the bucket after the one that contains `t_ms`.
  int64_t NextBucketStart(int64_t t_ms, Interval interval) const;
  // The starts of every bucket that overlaps [from_ms, to_ms), in order: the first is
  // BucketStart(from_ms). Empty when from_ms >= to_ms.
  std::vector<int64_t> BucketStarts(int64_t from_ms, int64_t to_ms, Interval interval) const;

  // The civil day of `t_ms` in this zone.
  absl::CivilDay Day(int64_t t_ms) const;
  // The first instant of civil day `day`.
  int64_t DayStart(absl::CivilDay day) const;
  // The UTC offset in effect at `t_ms`, in seconds.
  int OffsetSeconds(int64_t t_ms) const;

 private:
  Calendar(std::string name, absl::TimeZone zone) : name_(std::move(name)), zone_(zone) {}

  // The start of the civil bucket (day, week, month) that holds `t_ms`, and the next one.
  int64_t CivilStart(int64_t t_ms, Interval interval, bool next) const;
  // Minute and hour buckets (see the file comment).
  int64_t ClockStart(int64_t t_ms, int64_t unit_ms) const;
  int64_t ClockNext(int64_t t_ms, int64_t unit_ms) const;

  std::string name_;
  absl::TimeZone zone_;
};

}  // namespace cohort::analytics
