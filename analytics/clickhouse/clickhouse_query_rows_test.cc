#include "analytics/clickhouse/clickhouse_query_rows.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {
namespace {

TEST(ParseTsvRowsTest, SplitsAndUnescapes) {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows =
      ParseTsvRows("a\\tb\t\\\\x\\n\t\n\\'q\\0\t2\t\n", 3);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{"a\tb", "\\x\n", ""}));
  EXPECT_EQ((*rows)[1], (std::vector<std::string>{std::string("'q\0", 3), "2", ""}));
  EXPECT_TRUE(ParseTsvRows("", 2)->empty());
  EXPECT_EQ(ParseTsvRows("a\tb\n", 3).status().code(), absl::StatusCode::kInternal);
}

TEST(ParseNumbersTest, IntsDoublesAndLists) {
  EXPECT_EQ(*ParseInt("-1772841600000"), -1772841600000);
  EXPECT_FALSE(ParseInt("1.5").ok());
  EXPECT_EQ(*ParseDouble("0.1"), 0.1);
  EXPECT_EQ(*ParseDouble("6.666666666666666e21"), 6.666666666666666e21);
  EXPECT_EQ(*ParseIntList(""), std::vector<int64_t>{});
  EXPECT_EQ(*ParseIntList("3,-1,20"), (std::vector<int64_t>{3, -1, 20}));
  EXPECT_FALSE(ParseIntList("3,,4").ok());
}

TEST(LabelFromColumnsTest, MatchesPropertyValueLabel) {
  EXPECT_EQ(*LabelFromColumns("255", "", "0"), kNoneGroup);
  EXPECT_EQ(*LabelFromColumns("0", "", "0"), PropertyValue::Null().Label());
  EXPECT_EQ(*LabelFromColumns("1", "true", "0"), PropertyValue::Bool(true).Label());
  EXPECT_EQ(*LabelFromColumns("1", "false", "0"), PropertyValue::Bool(false).Label());
  EXPECT_EQ(*LabelFromColumns("2", "", "1e21"), PropertyValue::Number(1e21).Label());
  EXPECT_EQ(*LabelFromColumns("2", "", "3"), "3");
  EXPECT_EQ(*LabelFromColumns("3", "1", "1"), "1");  // a string "1" and a number 1 share it
  EXPECT_EQ(*LabelFromColumns("4", "[1,2]", "0"), PropertyValue::Json("[1,2]").Label());
  EXPECT_EQ(LabelFromColumns("7", "", "0").status().code(), absl::StatusCode::kInternal);
}

TEST(PropertyValueSqlTest, EventAndUserScopes) {
  const ValueSql event = PropertyValueSql(PropertyRef{PropertyRef::Scope::kEvent, "a"}, "i");
  EXPECT_EQ(event.kind, "if(i = 0, 255, prop_kinds[i])");
  EXPECT_EQ(event.text, "prop_strings[i]");
  EXPECT_EQ(event.number, "prop_numbers[i]");
  const ValueSql user = PropertyValueSql(PropertyRef{PropertyRef::Scope::kUser, "ab"}, "i");
  EXPECT_EQ(user.kind, "if(up_6162_set = 0, 255, up_6162_kind)");
  EXPECT_EQ(user.text, "up_6162_text");
  EXPECT_EQ(user.number, "up_6162_number");
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
