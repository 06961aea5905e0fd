#include "ingest/langfuse/timestamp.h"

#include <string>

#include "gtest/gtest.h"

namespace cohort::ingest::langfuse {
namespace {

constexpr int64_t kBase = 1714564800000;  // 2024-05-01T12:00:00Z

TEST(TimestampTest, AcceptsTheShapesClientsSend) {
  struct Case {
    std::string text;
    int64_t want;
  };
  const Case cases[] = {
      {"2024-05-01T12:00:00Z", kBase},
      {"2024-05-01T12:00:00z", kBase},
      {"2024-05-01T12:00:00.123Z", kBase + 123},
      {"2024-05-01T12:00:00.123456Z", kBase + 123},
      {"2024-05-01T12:00:00.1Z", kBase + 100},
      {"2024-05-01T12:00:00.123456", kBase + 123},  // Python naive isoformat: UTC
      {"2024-05-01T12:00:00", kBase},
      {"2024-05-01 12:00:00", kBase},
      {"2024-05-01T12:00", kBase},
      {"2024-05-01T14:00:00+02:00", kBase},
      {"2024-05-01T14:00:00.5+0200", kBase + 500},
      {"2024-05-01T07:30:00-04:30", kBase},
      {"2024-05-01T13:00:00+01", kBase},
      {"2024-05-01T12:00:00.000+00:00", kBase},
  };
  for (const Case& c : cases) {
    absl::StatusOr<int64_t> got = ParseTimestampMs(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(TimestampTest, RejectsMalformed) {
  for (const char* text :
       {"", "2024", "2024-05-01", "2024-05-01T", "2024-05-01T12", "2024-5-01T12:00:00Z",
        "2024-05-01T12:00:00ZZ", "2024-05-01T12:00:00+2", "2024-05-01T12:00:00+25:00",
        "2024-13-01T12:00:00Z", "2024-02-30T12:00:00Z", "2024-05-01T24:00:00Z",
        "2024-05-01T12:60:00Z", "2024-05-01T12:00:00.Z", "0999-05-01T12:00:00Z",
        "2024-05-01X12:00:00Z", "1714564800000", "2024-05-01T12:00:00 "}) {
    EXPECT_FALSE(ParseTimestampMs(text).ok()) << text;
  }
}

}  // namespace
}  // namespace cohort::ingest::langfuse
