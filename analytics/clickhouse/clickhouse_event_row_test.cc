#include "analytics/clickhouse/clickhouse_event_row.h"

#include <cmath>
#include <string>

#include "analytics/model/property_value.h"
#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse {
namespace {

TEST(JsonStringTest, EscapesOnlyWhatJsonNeeds) {
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString(std::string("\n\t\r\x01\0", 5)), R"("\n\t\r\u0001\u0000")");
  EXPECT_EQ(JsonString("\xc3\xa9\xff"), "\"\xc3\xa9\xff\"");
}

TEST(PropertiesJsonTest, SortedAndReadBackEqual) {
  Properties p = {{"b", PropertyValue::Number(3)},
                  {"a", PropertyValue::String("x\"\n\xc3\xa9")},
                  {"n", PropertyValue::Null()},
                  {"t", PropertyValue::Bool(true)},
                  {"f", PropertyValue::Number(0.1)},
                  {"big", PropertyValue::Number(1e21)},
                  {"neg", PropertyValue::Number(-12345678901234567.0)},
                  {"j", PropertyValue::Json(R"({"x":[1,2]})")},
                  {"", PropertyValue::String("")}};
  const std::string json = PropertiesJson(p);
  EXPECT_EQ(json.substr(0, 20), R"({"":"","a":"x\"\n)"
                                "\xc3\xa9\"");
  absl::StatusOr<Properties> back = ParseProperties(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, p);
  EXPECT_EQ(PropertiesJson({}), "{}");
}

TEST(EventRowJsonTest, AllColumns) {
  Event e;
  e.project = "p";
  e.event_type = "buy";
  e.user_id = "u";
  e.device_id = "d";
  e.time_ms = 1700000000123;
  e.insert_id = "i1";
  e.session_id = -1;
  e.event_properties = {{"price", PropertyValue::Number(2.5)}, {"s", PropertyValue::String(" 1")},
                        {"q", PropertyValue::String("1e3")},   {"ok", PropertyValue::Bool(false)},
                        {"o", PropertyValue::Json("[1]")},     {"z", PropertyValue::Null()}};
  e.user_properties = {{"plan", PropertyValue::String("pro")}};
  EXPECT_EQ(EventRowJson(e, 42),
            R"({"project":"p","group_is_user":1,"group_id":"u","user_id":"u","device_id":"d",)"
            R"("time_ms":1700000000123,"insert_id":"i1","event_type":"buy","has_session":1,)"
            R"("session_id":-1,"prop_keys":["o","ok","price","q","s","z"],)"
            R"("prop_kinds":[4,1,2,3,3,0],"prop_strings":["[1]","false","","1e3"," 1",""],)"
            R"("prop_numbers":[0,0,2.5,1000,NaN,0],)"
            R"("event_properties":"{\"o\":[1],\"ok\":false,\"price\":2.5,\"q\":\"1e3\",)"
            R"(\"s\":\" 1\",\"z\":null}","user_properties":"{\"plan\":\"pro\"}","arrival":42,)"
            R"("uop_clear":0,"uop_keys":["plan"],"uop_codes":[16],"uop_kinds":[3],)"
            R"("uop_strings":["pro"],"uop_numbers":[NaN],"uop_adds":[0]})");
}

// An $identify event's operations, per key: its net effect in the documented order.
TEST(EventRowJsonTest, IdentifyOperationsPerKey) {
  Event e;
  e.event_type = "$identify";
  absl::StatusOr<Properties> ops = ParseProperties(
      R"({"tier":"gold","$set":{"plan":"pro"},"$setOnce":{"plan":"x","first":1},)"
      R"("$unset":["plan","gone","first"],"$add":{"n":0.5,"first":2,"bad":"3"},"$clearAll":1})");
  ASSERT_TRUE(ops.ok()) << ops.status();
  e.user_properties = *ops;
  const std::string row = EventRowJson(e, 1);
  // first: unset, then set once (1), then add 2; gone: unset; n: add; plan: set (its $setOnce
  // does nothing after it); tier: a plain key is a set; "bad" adds a string: ignored.
  EXPECT_NE(row.find(R"("uop_clear":1,"uop_keys":["first","gone","n","plan","tier"],)"
                     R"("uop_codes":[13,1,8,2,2],"uop_kinds":[2,0,0,3,3],)"
                     R"("uop_strings":["","","","pro","gold"],"uop_numbers":[1,0,0,NaN,NaN],)"
                     R"("uop_adds":[2,0,0.5,0,0]})"),
            std::string::npos)
      << row;
}

TEST(EventRowJsonTest, NonFiniteNumbers) {
  Event e;
  e.event_properties = {{"n", PropertyValue::Number(std::nan(""))},
                        {"i", PropertyValue::Number(-HUGE_VAL)}};
  EXPECT_NE(EventRowJson(e, 1).find(R"("prop_numbers":[-inf,NaN])"), std::string::npos);
}

TEST(EventRowJsonTest, DeviceOnlyWithoutSession) {
  Event e;
  e.project = "p";
  e.event_type = "open";
  e.device_id = "d";
  e.insert_id = "i";
  std::vector<std::string> rows = EventRowsJson({e, e}, 7);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[0].find(R"("group_is_user":0,"group_id":"d","user_id":"")"), std::string::npos);
  EXPECT_NE(rows[0].find(R"("has_session":0,"session_id":0,"prop_keys":[],"prop_kinds":[])"),
            std::string::npos);
  EXPECT_NE(rows[0].find(R"("arrival":7,)"), std::string::npos);
  EXPECT_NE(rows[1].find(R"("arrival":8,)"), std::string::npos);
  EXPECT_NE(rows[0].find(R"("uop_clear":0,"uop_keys":[],"uop_codes":[],)"), std::string::npos);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
