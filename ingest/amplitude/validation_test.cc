#include "ingest/amplitude/validation.h"

#include <string>

#include "gtest/gtest.h"

namespace cohort::ingest::amplitude {
namespace {

TEST(ValidationTest, CountsCodePoints) {
  EXPECT_EQ(CodePointCount(""), 0u);
  EXPECT_EQ(CodePointCount("abc"), 3u);
  EXPECT_EQ(CodePointCount("\xe4\xb8\xad\xe6\x96\x87"), 2u);  // 中文
  EXPECT_EQ(CodePointCount("\xf0\x9f\x98\x80x"), 2u);         // U+1F600 then x
  EXPECT_EQ(CodePointCount("\xc3\xa9"), 1u);                  // é
}

TEST(ValidationTest, TruncatesAtCodePointBoundaries) {
  EXPECT_EQ(TruncateToCodePoints("abcdef", 3), "abc");
  EXPECT_EQ(TruncateToCodePoints("abc", 3), "abc");
  EXPECT_EQ(TruncateToCodePoints("abc", 10), "abc");
  EXPECT_EQ(TruncateToCodePoints("\xe4\xb8\xad\xe6\x96\x87", 1), "\xe4\xb8\xad");
  EXPECT_EQ(TruncateToCodePoints("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 1), "\xf0\x9f\x98\x80");
  EXPECT_EQ(TruncateToCodePoints("abc", 0), "");
  std::string long_cjk;
  for (int i = 0; i < 1500; ++i) long_cjk += "\xe4\xb8\xad";
  std::string_view cut = TruncateToCodePoints(long_cjk, kMaxStringCodePoints);
  EXPECT_EQ(cut.size(), 3 * kMaxStringCodePoints);
  EXPECT_EQ(CodePointCount(cut), kMaxStringCodePoints);
}

TEST(ValidationTest, ForbiddenIdsIgnoreCase) {
  for (std::string_view id :
       {"anonymous", "nil",       "none",      "null",   "n/a",
        "na",        "undefined", "unknown",   "",       "00000000-0000-0000-0000-000000000000",
        "{}",        "lmy47d",    "0",         "-1",     "NULL",
        "Anonymous", "N/A",       "UnDeFiNeD", "LMY47D", "NA",
        "Nil",       "NONE",      "UNKNOWN"}) {
    EXPECT_TRUE(IsForbiddenId(id)) << id;
  }
  for (std::string_view id : {"nulls", "anonymous1", " null", "00", "-2", "user-1", "nan",
                              "00000000-0000-0000-0000-000000000001"}) {
    EXPECT_FALSE(IsForbiddenId(id)) << id;
  }
}

}  // namespace
}  // namespace cohort::ingest::amplitude
