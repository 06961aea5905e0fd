#include "config/units.h"

#include <cstdint>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::config {
namespace {

using ::testing::HasSubstr;

TEST(ParseDuration, AcceptsTheCrdGrammar) {
  EXPECT_EQ(*ParseConfigDuration("30m"), absl::Minutes(30));
  EXPECT_EQ(*ParseConfigDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseConfigDuration("395d"), absl::Hours(24 * 395));
  EXPECT_EQ(*ParseConfigDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseConfigDuration("1500ms"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseConfigDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseConfigDuration("0.001s"), absl::Milliseconds(1));
  EXPECT_EQ(*ParseConfigDuration("30m1h"), absl::Minutes(90));  // any order, as Go's time.Duration
  EXPECT_EQ(*ParseConfigDuration("1m1m"), absl::Minutes(2));
  EXPECT_EQ(*ParseConfigDuration("0s"), absl::ZeroDuration());
  EXPECT_EQ(*ParseConfigDuration("36500d"), kMaxDuration);
}

TEST(ParseDuration, RejectsWithAReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"30", "expected a unit"}, Case{"m", "expected digits at offset 0"},
        Case{"-5s", "expected digits"}, Case{"5 s", "expected a unit"},
        Case{"1.s", "expected digits at offset 2"}, Case{"1y", "expected a unit"},
        Case{"0.0001s", "more precise than a"}, Case{"36501d", "longer than 36500d"},
        Case{"99999999999999d", "longer than 36500d"},
        Case{"1.0000000001s", "more than 9 fractional digits"},
        Case{"111111111111111111111111111111111s", "longer than 32 characters"}}) {
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(d.status().message(), HasSubstr(c.reason)) << c.text;
  }
}

TEST(FormatDuration, IsCanonicalAndRoundTrips) {
  EXPECT_EQ(FormatConfigDuration(absl::Minutes(30)), "30m");
  EXPECT_EQ(FormatConfigDuration(absl::Minutes(90)), "1h30m");
  EXPECT_EQ(FormatConfigDuration(absl::Hours(24 * 395)), "395d");
  EXPECT_EQ(FormatConfigDuration(absl::Milliseconds(1500)), "1s500ms");
  EXPECT_EQ(FormatConfigDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatConfigDuration(absl::Hours(25) + absl::Milliseconds(1)), "1d1h1ms");
  for (absl::Duration d : {absl::Milliseconds(1), absl::Seconds(59), absl::Hours(48),
                           absl::Minutes(61) + absl::Milliseconds(7), kMaxDuration}) {
    EXPECT_EQ(*ParseConfigDuration(FormatConfigDuration(d)), d) << FormatConfigDuration(d);
  }
}

TEST(IsRepresentableDuration, IsExactlyWhatRoundTrips) {
  EXPECT_TRUE(IsRepresentableDuration(absl::Milliseconds(3)));
  EXPECT_TRUE(IsRepresentableDuration(kMaxDuration));
  EXPECT_FALSE(IsRepresentableDuration(absl::Microseconds(1500)));
  EXPECT_FALSE(IsRepresentableDuration(-absl::Seconds(1)));
  EXPECT_FALSE(IsRepresentableDuration(kMaxDuration + absl::Milliseconds(1)));
  EXPECT_FALSE(IsRepresentableDuration(absl::InfiniteDuration()));
}

TEST(ParseByteSize, AcceptsWholeByteQuantities) {
  EXPECT_EQ(*ParseByteSize("10Gi"), int64_t{10} << 30);
  EXPECT_EQ(*ParseByteSize("1.5Gi"), int64_t{3} << 29);
  EXPECT_EQ(*ParseByteSize("500M"), 500'000'000);
  EXPECT_EQ(*ParseByteSize("1k"), 1000);
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576);
  EXPECT_EQ(*ParseByteSize("2e3"), 2000);
  EXPECT_EQ(*ParseByteSize("1.5E3"), 1500);
  EXPECT_EQ(*ParseByteSize("0"), 0);
  EXPECT_EQ(*ParseByteSize("7Ei"), int64_t{7} << 60);
  EXPECT_EQ(*ParseByteSize("9223372036854775807"), std::numeric_limits<int64_t>::max());
}

TEST(ParseByteSize, RejectsWithAReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"Gi", "expected digits"}, Case{"-1Gi", "expected digits"},
        Case{"0.5", "not a whole number of bytes"}, Case{"1.1k1", "unknown suffix"},
        Case{"500m", "unknown suffix"}, Case{"1Gb", "unknown suffix"},
        Case{"8Ei", "larger than 2^63-1"}, Case{"9223372036854775808", "larger than 2^63-1"},
        Case{"1e19", "larger than 2^63-1"}, Case{"1e", "expected digits after the exponent"},
        Case{"1.", "expected digits after '.'"}, Case{"10Gi ", "unknown suffix"}}) {
    absl::StatusOr<int64_t> n = ParseByteSize(c.text);
    ASSERT_FALSE(n.ok()) << c.text;
    EXPECT_THAT(n.status().message(), HasSubstr(c.reason)) << c.text;
  }
}

TEST(FormatByteSize, PrefersBinaryThenDecimalAndRoundTrips) {
  EXPECT_EQ(FormatByteSize(int64_t{10} << 30), "10Gi");
  EXPECT_EQ(FormatByteSize(1536 * 1024), "1536Ki");
  EXPECT_EQ(FormatByteSize(500'000'000), "500M");
  EXPECT_EQ(FormatByteSize(1000), "1k");
  EXPECT_EQ(FormatByteSize(1023), "1023");
  EXPECT_EQ(FormatByteSize(0), "0");
  for (int64_t n : {int64_t{1}, int64_t{20971520}, int64_t{1} << 62, int64_t{123456789},
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(*ParseByteSize(FormatByteSize(n)), n) << FormatByteSize(n);
  }
}

}  // namespace
}  // namespace cohort::config
