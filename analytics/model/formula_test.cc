#include "analytics/model/formula.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cohort::analytics {
namespace {

// Series A: 10 uniques / 40 totals; B: 4 / 5; C: 0 / 0.
Number Counts(int series, Formula::Aggregate aggregate) {
  static const double kUniques[] = {10, 4, 0};
  static const double kTotals[] = {40, 5, 0};
  return aggregate == Formula::Aggregate::kUniques ? kUniques[series] : kTotals[series];
}

Number Eval(const std::string& text, int series_count = 3) {
  absl::StatusOr<Formula> f = Formula::Parse(text, series_count);
  EXPECT_TRUE(f.ok()) << text << ": " << f.status();
  if (!f.ok()) return std::nullopt;
  return f->Evaluate(Counts);
}

TEST(FormulaTest, ClickRateAndArithmetic) {
  EXPECT_EQ(Eval("UNIQUES(B)/UNIQUES(A)"), 0.4);
  EXPECT_EQ(Eval("TOTALS(A) / UNIQUES(A)"), 4.0);
  EXPECT_EQ(Eval("1 + 2 * 3"), 7.0);
  EXPECT_EQ(Eval("(1 + 2) * 3"), 9.0);
  EXPECT_EQ(Eval("10 - 4 - 3"), 3.0);  // left-associative
  EXPECT_EQ(Eval("8 / 4 / 2"), 1.0);
  EXPECT_EQ(Eval("-UNIQUES(B) + 5"), 1.0);
  EXPECT_EQ(Eval("--2"), 2.0);
  EXPECT_EQ(Eval("100 * UNIQUES(B) / UNIQUES(A)"), 40.0);
  EXPECT_EQ(Eval(" 0.5e1 "), 5.0);
}

TEST(FormulaTest, DivisionByZeroIsNullAndNullPropagates) {
  EXPECT_EQ(Eval("UNIQUES(A)/UNIQUES(C)"), std::nullopt);
  EXPECT_EQ(Eval("1 + UNIQUES(A)/TOTALS(C)"), std::nullopt);
  EXPECT_EQ(Eval("-(1/0)"), std::nullopt);
  EXPECT_EQ(Eval("UNIQUES(C)/UNIQUES(A)"), 0.0);
}

TEST(FormulaTest, ErrorsSayWhatAndWhere) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "expected a number"},
      {"UNIQUES(D)", "series D is not one of the query's 3 events"},
      {"COUNT(A)", "unknown function"},
      {"UNIQUES(a)", "expected a series letter"},
      {"UNIQUES A", "expected '('"},
      {"UNIQUES(A", "expected ')'"},
      {"(1 + 2", "expected ')'"},
      {"1 2", "unexpected text at character 3"},
      {"1 +", "expected a number"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Formula> f = Formula::Parse(c.text, 3);
    ASSERT_FALSE(f.ok()) << c.text;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.message), std::string::npos)
        << c.text << " → " << f.status();
  }
}

TEST(FormulaTest, DeepNestingIsRefusedNotACrash) {
  std::string deep(100000, '(');
  EXPECT_FALSE(Formula::Parse(deep + "1", 1).ok());
  EXPECT_FALSE(Formula::Parse(std::string(100000, '-') + "1", 1).ok());
  EXPECT_TRUE(Formula::Parse(std::string(20, '(') + "1" + std::string(20, ')'), 1).ok());
}

TEST(FormulaTest, ParseFormulasKeepsOrderAndNamesTheFailingOne) {
  absl::StatusOr<std::vector<Formula>> formulas = ParseFormulas({"TOTALS(A)", "UNIQUES(B)"}, 2);
  ASSERT_TRUE(formulas.ok()) << formulas.status();
  ASSERT_EQ(formulas->size(), 2u);
  EXPECT_EQ((*formulas)[1].text(), "UNIQUES(B)");
  formulas = ParseFormulas({"TOTALS(A)", "TOTALS(C)"}, 2);
  ASSERT_FALSE(formulas.ok());
  EXPECT_EQ(formulas.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(formulas.status().message()).rfind("formulas[1]: ", 0), 0u)
      << formulas.status();
  EXPECT_TRUE(ParseFormulas({}, 1).ok());
}

}  // namespace
}  // namespace cohort::analytics
