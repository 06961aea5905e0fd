#include "analytics/time/calendar.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace cohort::analytics {
namespace {

// Milliseconds of a UTC civil time.
int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone()));
}

Calendar Load(const char* name) {
  absl::StatusOr<Calendar> calendar = Calendar::Load(name);
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  return *calendar;
}

TEST(IntervalTest, ParsesTheQuerySpellingsAndNamesTheChoicesOnError) {
  EXPECT_EQ(*ParseInterval("minute"), Interval::kMinute);
  EXPECT_EQ(*ParseInterval("week"), Interval::kWeek);
  absl::StatusOr<Interval> bad = ParseInterval("fortnight");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("minute, hour, day, week, month"), std::string::npos);
}

TEST(CalendarTest, RejectsUnknownAndFixedOffsetZones) {
  for (const char* name : {"Mars/Olympus_Mons", "", "Fixed/UTC+08:00"}) {
    absl::StatusOr<Calendar> calendar = Calendar::Load(name);
    ASSERT_FALSE(calendar.ok()) << name;
    EXPECT_EQ(calendar.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(CalendarTest, UtcBucketsAreAligned) {
  Calendar utc = Calendar::Utc();
  int64_t t = Utc(2026, 11, 26, 18, 42, 17) + 123;
  EXPECT_EQ(utc.BucketStart(t, Interval::kMinute), Utc(2026, 11, 26, 18, 42));
  EXPECT_EQ(utc.NextBucketStart(t, Interval::kMinute), Utc(2026, 11, 26, 18, 43));
  EXPECT_EQ(utc.BucketStart(t, Interval::kHour), Utc(2026, 11, 26, 18));
  EXPECT_EQ(utc.BucketStart(t, Interval::kDay), Utc(2026, 11, 26));
  EXPECT_EQ(utc.NextBucketStart(t, Interval::kDay), Utc(2026, 11, 27));
  // 2026-11-26 is a Thursday: its ISO week began on Monday the 23rd.
  EXPECT_EQ(utc.BucketStart(t, Interval::kWeek), Utc(2026, 11, 23));
  EXPECT_EQ(utc.NextBucketStart(t, Interval::kWeek), Utc(2026, 11, 30));
  EXPECT_EQ(utc.BucketStart(t, Interval::kMonth), Utc(2026, 11, 1));
  EXPECT_EQ(utc.NextBucketStart(t, Interval::kMonth), Utc(2026, 12, 1));
  EXPECT_EQ(utc.NextBucketStart(Utc(2026, 12, 5), Interval::kMonth), Utc(2027, 1, 1));
}

TEST(CalendarTest, AMondayIsItsOwnWeekStartAndASundayBelongsToThePreviousMonday) {
  Calendar utc = Calendar::Utc();
  EXPECT_EQ(utc.BucketStart(Utc(2026, 11, 23), Interval::kWeek), Utc(2026, 11, 23));
  EXPECT_EQ(utc.BucketStart(Utc(2026, 11, 29, 23, 59, 59), Interval::kWeek), Utc(2026, 11, 23));
}

TEST(CalendarTest, TimesBeforeTheEpochFloorIntoTheirBucket) {
  Calendar utc = Calendar::Utc();
  EXPECT_EQ(utc.BucketStart(-1, Interval::kMinute), -60'000);
  EXPECT_EQ(utc.BucketStart(-1, Interval::kDay), Utc(1969, 12, 31));
}

TEST(CalendarTest, ShanghaiDaysBeginAtSixteenHundredUtc) {
  Calendar shanghai = Load("Asia/Shanghai");
  int64_t t = Utc(2026, 11, 26, 17, 30);  // 01:30 on the 27th in Shanghai
  EXPECT_EQ(shanghai.Day(t), absl::CivilDay(2026, 11, 27));
  EXPECT_EQ(shanghai.BucketStart(t, Interval::kDay), Utc(2026, 11, 26, 16));
  EXPECT_EQ(shanghai.OffsetSeconds(t), 8 * 3600);
}

TEST(CalendarTest, HalfHourZonesHaveLocalHours) {
  Calendar kolkata = Load("Asia/Kolkata");  // +05:30
  int64_t t = Utc(2026, 11, 26, 10, 10);    // 15:40 local
  EXPECT_EQ(kolkata.BucketStart(t, Interval::kHour), Utc(2026, 11, 26, 9, 30));
  EXPECT_EQ(kolkata.NextBucketStart(t, Interval::kHour), Utc(2026, 11, 26, 10, 30));
}

TEST(CalendarTest, DstDaysAreCalendarDaysOf23And25Hours) {
  Calendar ny = Load("America/New_York");
  // 2026-03-08: clocks jump 02:00 EST -> 03:00 EDT.
  int64_t spring = ny.DayStart(absl::CivilDay(2026, 3, 8));
  EXPECT_EQ(spring, Utc(2026, 3, 8, 5));
  EXPECT_EQ(ny.NextBucketStart(spring, Interval::kDay) - spring, 23 * 3'600'000);
  // 2026-11-01: clocks fall back 02:00 EDT -> 01:00 EST.
  int64_t fall = ny.DayStart(absl::CivilDay(2026, 11, 1));
  EXPECT_EQ(fall, Utc(2026, 11, 1, 4));
  EXPECT_EQ(ny.NextBucketStart(fall, Interval::kDay) - fall, 25 * 3'600'000);
  std::vector<int64_t> hours =
      ny.BucketStarts(fall, ny.NextBucketStart(fall, Interval::kDay), Interval::kHour);
  EXPECT_EQ(hours.size(), 25u);
}

TEST(CalendarTest, TheRepeatedHourIsTwoBucketsAndTheSkippedHourNone) {
  Calendar ny = Load("America/New_York");
  // 01:30 EDT (05:30 UTC) and 01:30 EST (06:30 UTC) on 2026-11-01.
  EXPECT_EQ(ny.BucketStart(Utc(2026, 11, 1, 5, 30), Interval::kHour), Utc(2026, 11, 1, 5));
  EXPECT_EQ(ny.BucketStart(Utc(2026, 11, 1, 6, 30), Interval::kHour), Utc(2026, 11, 1, 6));
  EXPECT_EQ(ny.NextBucketStart(Utc(2026, 11, 1, 5), Interval::kHour), Utc(2026, 11, 1, 6));
  // 2026-03-08 01:59 EST is 06:59 UTC; the next local hour is 03:00 EDT = 07:00 UTC.
  EXPECT_EQ(ny.NextBucketStart(Utc(2026, 3, 8, 6, 59), Interval::kHour), Utc(2026, 3, 8, 7));
  EXPECT_EQ(ny.BucketStart(Utc(2026, 3, 8, 7, 10), Interval::kHour), Utc(2026, 3, 8, 7));
}

TEST(CalendarTest, AMidHourTransitionSplitsTheHour) {
  // Lord Howe Island: +10:30, and +11:00 from 02:00 local on 2026-10-04 (15:30 UTC the day
  // before), when clocks jump to 02:30.
  Calendar lord_howe = Load("Australia/Lord_Howe");
  int64_t jump = Utc(2026, 10, 3, 15, 30);
  EXPECT_EQ(lord_howe.OffsetSeconds(jump - 1), 10 * 3600 + 1800);
  EXPECT_EQ(lord_howe.OffsetSeconds(jump), 11 * 3600);
  EXPECT_EQ(lord_howe.BucketStart(Utc(2026, 10, 3, 15, 20), Interval::kHour),
            Utc(2026, 10, 3, 14, 30));
  EXPECT_EQ(lord_howe.NextBucketStart(Utc(2026, 10, 3, 15, 20), Interval::kHour), jump);
  EXPECT_EQ(lord_howe.BucketStart(Utc(2026, 10, 3, 15, 45), Interval::kHour), jump);
  EXPECT_EQ(lord_howe.NextBucketStart(jump, Interval::kHour), Utc(2026, 10, 3, 16));
  // Buckets tile time: each start is the previous bucket's end.
  std::vector<int64_t> starts =
      lord_howe.BucketStarts(Utc(2026, 10, 3, 12), Utc(2026, 10, 3, 20), Interval::kHour);
  for (size_t i = 0; i < starts.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(starts[i - 1], starts[i]);
    }
    EXPECT_EQ(lord_howe.BucketStart(starts[i], Interval::kHour), starts[i]);
    EXPECT_EQ(lord_howe.BucketStart(lord_howe.NextBucketStart(starts[i], Interval::kHour) - 1,
                                    Interval::kHour),
              starts[i]);
  }
}

TEST(CalendarTest, ADayWhoseMidnightIsSkippedBeginsAtTheJump) {
  // Sao Paulo started DST at midnight on 2018-11-04: 00:00 -03 became 01:00 -02 (03:00 UTC).
  Calendar sao_paulo = Load("America/Sao_Paulo");
  int64_t start = sao_paulo.DayStart(absl::CivilDay(2018, 11, 4));
  EXPECT_EQ(start, Utc(2018, 11, 4, 3));
  EXPECT_EQ(sao_paulo.Day(start), absl::CivilDay(2018, 11, 4));
  EXPECT_EQ(sao_paulo.Day(start - 1), absl::CivilDay(2018, 11, 3));
}

TEST(CalendarTest, BucketStartsCoverTheRangeAndOnlyIt) {
  Calendar utc = Calendar::Utc();
  EXPECT_TRUE(utc.BucketStarts(Utc(2026, 1, 2), Utc(2026, 1, 2), Interval::kDay).empty());
  std::vector<int64_t> days =
      utc.BucketStarts(Utc(2026, 1, 1, 12), Utc(2026, 1, 4), Interval::kDay);
  ASSERT_EQ(days.size(), 3u);
  EXPECT_EQ(days.front(), Utc(2026, 1, 1));
  EXPECT_EQ(days.back(), Utc(2026, 1, 3));
}

// Every instant of a year in several zones lies in exactly the bucket BucketStart names, and
// buckets tile time without gaps (a property check over a sweep of instants).
TEST(CalendarTest, BucketsTileTimeInEveryZone) {
  for (const char* name : {"UTC", "America/New_York", "Europe/London", "Asia/Kolkata",
                           "Australia/Lord_Howe", "Pacific/Chatham", "America/Sao_Paulo"}) {
    Calendar calendar = Load(name);
    for (Interval interval : {Interval::kHour, Interval::kDay, Interval::kWeek, Interval::kMonth}) {
      int64_t t = Utc(2018, 1, 1);
      int64_t end = Utc(2019, 1, 1);
      while (t < end) {
        int64_t start = calendar.BucketStart(t, interval);
        int64_t next = calendar.NextBucketStart(t, interval);
        ASSERT_LE(start, t) << name << " " << IntervalName(interval) << " " << t;
        ASSERT_GT(next, t) << name << " " << IntervalName(interval) << " " << t;
        ASSERT_EQ(calendar.BucketStart(next, interval), next) << name << " " << t;
        ASSERT_EQ(calendar.BucketStart(next - 1, interval), start) << name << " " << t;
        t = next;
      }
    }
  }
}

}  // namespace
}  // namespace cohort::analytics
