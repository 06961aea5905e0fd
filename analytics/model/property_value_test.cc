#include "analytics/model/property_value.h"

#include <gtest/gtest.h>

namespace cohort::analytics {
namespace {

TEST(ParsePropertiesTest, KeepsJsonTypesAndNestedValuesAsCompactText) {
  absl::StatusOr<Properties> p = ParseProperties(
      R"({"s":"x","n":3,"f":0.5,"big":18446744073709551615,"neg":-2,"b":true,"z":null,)"
      R"("e":"","o":{"a": [1, 2]},"a":[ "x" ]})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("s"), PropertyValue::String("x"));
  EXPECT_EQ(p->at("n"), PropertyValue::Number(3));
  EXPECT_EQ(p->at("f"), PropertyValue::Number(0.5));
  EXPECT_EQ(p->at("big"), PropertyValue::Number(18446744073709551615.0));
  EXPECT_EQ(p->at("neg"), PropertyValue::Number(-2));
  EXPECT_EQ(p->at("b"), PropertyValue::Bool(true));
  EXPECT_EQ(p->at("z"), PropertyValue::Null());
  EXPECT_EQ(p->at("e"), PropertyValue::String(""));
  EXPECT_EQ(p->at("o"), PropertyValue::Json(R"({"a":[1,2]})"));
  EXPECT_EQ(p->at("a"), PropertyValue::Json(R"(["x"])"));
  EXPECT_EQ(p->size(), 10u);
}

TEST(ParsePropertiesTest, EmptyTextIsNoPropertiesAndNonObjectsAreErrors) {
  EXPECT_TRUE(ParseProperties("")->empty());
  EXPECT_TRUE(ParseProperties("{}")->empty());
  for (const char* bad : {"[]", "3", "\"x\"", "{", "{\"a\":}"}) {
    absl::StatusOr<Properties> p = ParseProperties(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParsePropertiesTest, ARepeatedKeyKeepsTheLastValue) {
  EXPECT_EQ(ParseProperties(R"({"k":1,"k":2})")->at("k"), PropertyValue::Number(2));
}

TEST(PropertyValueTest, NullBoolStringAndEmptyStringAreDistinct) {
  EXPECT_NE(PropertyValue::Null(), PropertyValue::String(""));
  EXPECT_NE(PropertyValue::Null(), PropertyValue::Bool(false));
  EXPECT_NE(PropertyValue::String("1"), PropertyValue::Number(1));
}

TEST(PropertyValueTest, LabelsAreShortestRoundTripText) {
  EXPECT_EQ(PropertyValue::Number(3).Label(), "3");
  EXPECT_EQ(PropertyValue::Number(0.1).Label(), "0.1");
  EXPECT_EQ(PropertyValue::Number(-2.5).Label(), "-2.5");
  EXPECT_EQ(PropertyValue::Number(1e21).Label(), "1e+21");
  EXPECT_EQ(PropertyValue::Bool(false).Label(), "false");
  EXPECT_EQ(PropertyValue::Null().Label(), "null");
  EXPECT_EQ(PropertyValue::String("a b").Label(), "a b");
  EXPECT_EQ(PropertyValue::Json("[1]").Label(), "[1]");
}

TEST(PropertyValueTest, ToJsonEscapesStrings) {
  EXPECT_EQ(PropertyValue::String("a\"b\n").ToJson(), R"("a\"b\n")");
  EXPECT_EQ(PropertyValue::Number(2).ToJson(), "2");
  EXPECT_EQ(PropertyValue::Null().ToJson(), "null");
  EXPECT_EQ(PropertyValue::Json(R"({"a":1})").ToJson(), R"({"a":1})");
}

TEST(NumericValueTest, NumbersAndStringsThatAreEntirelyANumber) {
  EXPECT_EQ(NumericValue(PropertyValue::Number(2.5)), 2.5);
  EXPECT_EQ(NumericValue(PropertyValue::String("42")), 42.0);
  EXPECT_EQ(NumericValue(PropertyValue::String("-0.5e2")), -50.0);
  EXPECT_EQ(NumericValue(PropertyValue::String("0")), 0.0);
  for (const char* not_a_number :
       {"", " 1", "1 ", "01", "1.", ".5", "+1", "1e", "0x10", "abc", "NaN", "Infinity", "1e999"}) {
    EXPECT_EQ(NumericValue(PropertyValue::String(not_a_number)), std::nullopt) << not_a_number;
  }
  EXPECT_EQ(NumericValue(PropertyValue::Bool(true)), std::nullopt);
  EXPECT_EQ(NumericValue(PropertyValue::Null()), std::nullopt);
  EXPECT_EQ(NumericValue(PropertyValue::Json("[1]")), std::nullopt);
}

}  // namespace
}  // namespace cohort::analytics
