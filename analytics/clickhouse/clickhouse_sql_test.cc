#include "analytics/clickhouse/clickhouse_sql.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse {
namespace {

TEST(SqlStringTest, QuotesAndEscapes) {
  EXPECT_EQ(SqlString(""), "''");
  EXPECT_EQ(SqlString("abc"), "'abc'");
  EXPECT_EQ(SqlString("it's"), R"('it\'s')");
  EXPECT_EQ(SqlString(R"(a\b)"), R"('a\\b')");
  EXPECT_EQ(SqlString(std::string("a\0b\n", 4)), R"('a\x00b\x0A')");
  EXPECT_EQ(SqlString("\x7f\xff"), R"('\x7F\xFF')");
  EXPECT_EQ(SqlString("\xc3\xa9"), R"('\xC3\xA9')");  // UTF-8 é
}

TEST(SqlStringTest, AlwaysPrintableAscii) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (char c : SqlString(all)) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
    EXPECT_LT(static_cast<unsigned char>(c), 0x7f);
  }
}

TEST(SqlIntTest, Literals) {
  EXPECT_EQ(SqlInt(0), "0");
  EXPECT_EQ(SqlInt(-7), "-7");
  EXPECT_EQ(SqlInt(std::numeric_limits<int64_t>::max()), "9223372036854775807");
  EXPECT_EQ(SqlInt(std::numeric_limits<int64_t>::min()), "(-9223372036854775807 - 1)");
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
