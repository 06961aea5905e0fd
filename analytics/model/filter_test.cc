#include "analytics/model/filter.h"

#include <gtest/gtest.h>

namespace cohort::analytics {
namespace {

PropertyFilter Filter(FilterOp op, std::vector<PropertyValue> values = {}) {
  return PropertyFilter{PropertyRef{PropertyRef::Scope::kEvent, "k"}, op, std::move(values)};
}

const PropertyValue kS1 = PropertyValue::String("1");
const PropertyValue kN1 = PropertyValue::Number(1);
const PropertyValue kEmpty = PropertyValue::String("");
const PropertyValue kNull = PropertyValue::Null();

TEST(FilterTest, EqualityComparesStringsAsStringsAndNumbersAsNumbers) {
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kEquals, {kN1}), &kN1));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kEquals, {kN1}), &kS1));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kEquals, {kS1}), &kN1));
  PropertyValue one_point_zero = PropertyValue::Number(1.0);
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kEquals, {kN1}), &one_point_zero));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kEquals, {kS1, kN1}), &kS1));  // any of
  PropertyValue t = PropertyValue::Bool(true);
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kEquals, {PropertyValue::Bool(true)}), &t));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kEquals, {kN1}), &t));
}

TEST(FilterTest, MissingNullAndEmptyAreThreeDifferentThings) {
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kEquals, {kNull}), &kNull));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kEquals, {kNull}), nullptr));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kEquals, {kNull}), &kEmpty));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kEquals, {kEmpty}), &kEmpty));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kEquals, {kEmpty}), nullptr));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kIsSet), &kNull));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kIsSet), nullptr));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kIsNotSet), nullptr));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kIsNotSet), &kEmpty));
}

TEST(FilterTest, NotEqualsMatchesMissingAndEveryOtherValue) {
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kNotEquals, {kN1}), nullptr));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kNotEquals, {kN1}), &kS1));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kNotEquals, {kS1, kN1}), &kN1));
}

TEST(FilterTest, NumericComparisonsParseStringsThatAreEntirelyNumbers) {
  PropertyValue s10 = PropertyValue::String("10");
  PropertyValue s10x = PropertyValue::String("10x");
  PropertyValue n2 = PropertyValue::Number(2);
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kGreater, {n2}), &s10));  // numeric, not "10" < "2"
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kGreater, {n2}), &s10x));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kLess, {PropertyValue::String("3")}), &n2));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kLessOrEqual, {n2}), &n2));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kLess, {n2}), &n2));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kGreaterOrEqual, {n2}), &n2));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kGreater, {n2}), nullptr));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kGreater, {n2}), &kNull));
  PropertyValue t = PropertyValue::Bool(true);
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kGreater, {PropertyValue::Number(0)}), &t));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kGreater), &n2));  // no operand
}

TEST(FilterTest, ContainsLooksInsideStringsOnly) {
  PropertyValue hello = PropertyValue::String("hello world");
  PropertyValue n = PropertyValue::Number(123);
  PropertyValue lo = PropertyValue::String("lo w");
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kContains, {lo}), &hello));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kContains, {PropertyValue::String("2")}), &n));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kNotContains, {lo}), &hello));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kNotContains, {PropertyValue::String("x")}), &hello));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kNotContains, {lo}), nullptr));
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kNotContains, {lo}), &n));
}

TEST(FilterTest, ObjectsAndArraysAreOpaque) {
  PropertyValue array = PropertyValue::Json("[1]");
  EXPECT_FALSE(FilterMatches(Filter(FilterOp::kEquals, {PropertyValue::Json("[1]")}), &array));
  EXPECT_TRUE(FilterMatches(Filter(FilterOp::kIsSet), &array));
}

}  // namespace
}  // namespace cohort::analytics
