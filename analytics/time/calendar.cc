#include "analytics/time/calendar.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cohort::analytics {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 3'600'000;

absl::Time ToTime(int64_t ms) { return absl::FromUnixMillis(ms); }
int64_t ToMs(absl::Time t) { return absl::ToUnixMillis(t); }

int64_t FloorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// The instant of a transition cctz describes by its civil endpoints.
absl::Time TransitionInstant(const absl::TimeZone& zone, const absl::TimeZone::CivilTransition& t) {
  absl::TimeZone::TimeInfo info = zone.At(t.to);
  return info.kind == absl::TimeZone::TimeInfo::UNIQUE ? info.pre : info.trans;
}

}  // namespace

std::string_view IntervalName(Interval interval) {
  switch (interval) {
    case Interval::kMinute:
      return "minute";
    case Interval::kHour:
      return "hour";
    case Interval::kDay:
      return "day";
    case Interval::kWeek:
      return "week";
    case Interval::kMonth:
      return "month";
  }
  return "day";
}

absl::StatusOr<Interval> ParseInterval(std::string_view name) {
  for (Interval i :
       {Interval::kMinute, Interval::kHour, Interval::kDay, Interval::kWeek, Interval::kMonth}) {
    if (IntervalName(i) == name) return i;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "interval \"", std::string(name), "\" is not one of minute, hour, day, week, month"));
}

absl::StatusOr<Calendar> Calendar::Load(std::string_view iana_name) {
  absl::TimeZone zone;
  // LoadTimeZone also accepts fixed-offset spellings ("Fixed/UTC+08:00"); a query names a zone.
  if (iana_name.empty() || iana_name.substr(0, 6) == "Fixed/" ||
      !absl::LoadTimeZone(std::string(iana_name), &zone)) {
    return absl::InvalidArgumentError(
        absl::StrCat("time zone \"", std::string(iana_name),
                     "\" is not in the tz database (an IANA name such as "
                     "\"UTC\" or \"Asia/Shanghai\")"));
  }
  return Calendar(std::string(iana_name), zone);
}

Calendar Calendar::Utc() { return Calendar("UTC", absl::UTCTimeZone()); }

int Calendar::OffsetSeconds(int64_t t_ms) const { return zone_.At(ToTime(t_ms)).offset; }

absl::CivilDay Calendar::Day(int64_t t_ms) const {
  return absl::CivilDay(zone_.At(ToTime(t_ms)).cs);
}

int64_t Calendar::DayStart(absl::CivilDay day) const {
  absl::TimeZone::TimeInfo info = zone_.At(absl::CivilSecond(day));
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
    case absl::TimeZone::TimeInfo::REPEATED:  // midnight happened twice: the first one
      return ToMs(info.pre);
    case absl::TimeZone::TimeInfo::SKIPPED:  // no midnight: the day begins at the jump
      return ToMs(info.trans);
  }
  return ToMs(info.pre);
}

int64_t Calendar::CivilStart(int64_t t_ms, Interval interval, bool next) const {
  absl::CivilDay day = Day(t_ms);
  absl::CivilDay first = day;
  if (interval == Interval::kWeek) {
    first = absl::PrevWeekday(day + 1, absl::Weekday::monday);  // the Monday on or before `day`
    if (next) first += 7;
  } else if (interval == Interval::kMonth) {
    absl::CivilMonth month(day);
    first = absl::CivilDay(next ? month + 1 : month);
  } else if (next) {
    first = day + 1;
  }
  return DayStart(first);
}

int64_t Calendar::ClockStart(int64_t t_ms, int64_t unit_ms) const {
  int64_t local = t_ms + int64_t{OffsetSeconds(t_ms)} * 1000;
  int64_t start = t_ms - FloorMod(local, unit_ms);
  if (OffsetSeconds(start) != OffsetSeconds(t_ms)) {
    // An offset change inside the local unit: the bucket begins at that change. cctz looks for
    // a transition strictly before a whole second, and transitions fall on whole seconds.
    absl::TimeZone::CivilTransition transition;
    if (zone_.PrevTransition(ToTime(t_ms) + absl::Seconds(1), &transition)) {
      int64_t at = ToMs(TransitionInstant(zone_, transition));
      if (at > start && at <= t_ms) start = at;
    }
  }
  return start;
}

int64_t Calendar::ClockNext(int64_t t_ms, int64_t unit_ms) const {
  int64_t local = t_ms + int64_t{OffsetSeconds(t_ms)} * 1000;
  int64_t next = t_ms - FloorMod(local, unit_ms) + unit_ms;
  absl::TimeZone::CivilTransition transition;
  if (zone_.NextTransition(ToTime(t_ms), &transition)) {
    int64_t at = ToMs(TransitionInstant(zone_, transition));
    if (at > t_ms && at < next && OffsetSeconds(at) != OffsetSeconds(t_ms)) next = at;
  }
  return next;
}

int64_t Calendar::BucketStart(int64_t t_ms, Interval interval) const {
  switch (interval) {
    case Interval::kMinute:
      return ClockStart(t_ms, kMinuteMs);
    case Interval::kHour:
      return ClockStart(t_ms, kHourMs);
    case Interval::kDay:
    case Interval::kWeek:
    case Interval::kMonth:
      return CivilStart(t_ms, interval, /*next=*/false);
  }
  return t_ms;
}

int64_t Calendar::NextBucketStart(int64_t t_ms, Interval interval) const {
  switch (interval) {
    case Interval::kMinute:
      return ClockNext(t_ms, kMinuteMs);
    case Interval::kHour:
      return ClockNext(t_ms, kHourMs);
    case Interval::kDay:
    case Interval::kWeek:
    case Interval::kMonth:
      return CivilStart(t_ms, interval, /*next=*/true);
  }
  return t_ms;
}

std::vector<int64_t> Calendar::BucketStarts(int64_t from_ms, int64_t to_ms,
                                            Interval interval) const {
  std::vector<int64_t> starts;
  if (from_ms >= to_ms) return starts;
  for (int64_t t = BucketStart(from_ms, interval); t < to_ms; t = NextBucketStart(t, interval)) {
    starts.push_back(t);
  }
  return starts;
}

}  // namespace cohort::analytics
