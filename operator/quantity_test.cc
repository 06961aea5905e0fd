#include "operator/quantity.h"

#include "gtest/gtest.h"

namespace cohort::op {
namespace {

struct Equal {
  const char* a;
  const char* b;
};

class QuantitiesEqualTest : public ::testing::TestWithParam<Equal> {};

TEST_P(QuantitiesEqualTest, SameValue) {
  EXPECT_TRUE(QuantitiesEqual(GetParam().a, GetParam().b))
      << GetParam().a << " vs " << GetParam().b;
  EXPECT_TRUE(QuantitiesEqual(GetParam().b, GetParam().a));
}

// What the API server stores for what we send (its canonical form) must compare equal.
INSTANTIATE_TEST_SUITE_P(
    CanonicalForms, QuantitiesEqualTest,
    ::testing::Values(Equal{"1000m", "1"}, Equal{"1Gi", "1073741824"}, Equal{"0.5", "500m"},
                      Equal{"1.5Gi", "1536Mi"}, Equal{"1536Mi", "1610612736"},
                      Equal{"1024Ki", "1Mi"}, Equal{"1k", "1000"}, Equal{"1e3", "1k"},
                      Equal{"1E3", "1000"}, Equal{"1.0", "1"}, Equal{"+1", "1"}, Equal{"0", "0m"},
                      Equal{"-0", "0"}, Equal{"0.0", "0Gi"}, Equal{"100M", "1e8"},
                      Equal{"1E", "1000P"}, Equal{"1Ei", "1024Pi"}, Equal{"250m", ".25"},
                      Equal{"1.", "1"}, Equal{"1000000n", "1m"}, Equal{"1u", "1000n"},
                      Equal{"12e-1", "1200m"}, Equal{"1e+2", "100"}, Equal{"-1.5", "-1500m"},
                      Equal{"0001", "1"},
                      // Finer than 1n rounds up, away from zero, as the API server does.
                      Equal{"0.1n", "1n"}, Equal{"1.0001n", "2n"}, Equal{"-0.1n", "-1n"},
                      Equal{"1e-12", "1n"}, Equal{"1.5n", "2n"}));

TEST(QuantityTest, DifferentValuesDiffer) {
  EXPECT_FALSE(QuantitiesEqual("1", "2"));
  EXPECT_FALSE(QuantitiesEqual("1Gi", "1G"));
  EXPECT_FALSE(QuantitiesEqual("1Mi", "1M"));
  EXPECT_FALSE(QuantitiesEqual("1", "-1"));
  EXPECT_FALSE(QuantitiesEqual("500m", "0.05"));
  EXPECT_FALSE(QuantitiesEqual("1n", "2n"));
  EXPECT_FALSE(QuantitiesEqual("1m", "1M"));
}

TEST(QuantityTest, RejectsWhatIsNotAQuantity) {
  for (const char* bad : {"", "abc", "1Gb", "1 Gi", " 1", "1.2.3", "Gi", ".", "-", "1e", "1e+",
                          "1ee3", "1Ki2", "1i", "http", "25%", "1e99999999", "--1", "1KI"}) {
    EXPECT_FALSE(Quantity::Parse(bad).ok()) << '"' << bad << '"';
    EXPECT_FALSE(QuantitiesEqual(bad, bad)) << '"' << bad << '"';
  }
  EXPECT_FALSE(Quantity::Parse(std::string(129, '1')).ok());
  EXPECT_TRUE(Quantity::Parse(std::string(128, '1')).ok());
}

TEST(QuantityTest, DebugStringShowsTheNormalisedValue) {
  EXPECT_EQ(Quantity::Parse("1.5")->DebugString(), "15e-1");
  EXPECT_EQ(Quantity::Parse("1500m")->DebugString(), "15e-1");
  EXPECT_EQ(Quantity::Parse("1Ki")->DebugString(), "1024");
  EXPECT_EQ(Quantity::Parse("2k")->DebugString(), "2e3");
  EXPECT_EQ(Quantity::Parse("-0.000")->DebugString(), "0");
  EXPECT_EQ(Quantity::Parse("-3m")->DebugString(), "-3e-3");
  EXPECT_EQ(Quantity(), *Quantity::Parse("0"));
}

TEST(QuantityTest, LargeExponentsAreExact) {
  EXPECT_TRUE(QuantitiesEqual("1e30", "1000000000000000000000000000000"));
  EXPECT_FALSE(QuantitiesEqual("1e30", "1000000000000000000000000000001"));
  EXPECT_TRUE(QuantitiesEqual("8Ei", "9223372036854775808"));
}

}  // namespace
}  // namespace cohort::op
