// Formulas over segmentation series (analytics.md, "Active users" → "Formulas"), e.g.
// "UNIQUES(B)/UNIQUES(A)" for a feature's click rate: numbers, + - * /, unary minus, parentheses,
// and UNIQUES(X) / TOTALS(X) where X is a series letter (A = the query's first event, B the
// second, ...). Evaluated per bucket from independent counts; dividing by zero — or any operand
// that is null — gives null.
//
// Formula is an immutable value after Parse; thread-safe to share.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/model/result.h"

namespace cohort::analytics {

class Formula {
 public:
  enum class Aggregate { kUniques, kTotals };
  // Returns the count of series `series` (0 = A) by `aggregate` in the cell being evaluated.
  using Lookup = std::function<Number(int series, Aggregate aggregate)>;

  // Errors: kInvalidArgument saying what is wrong and at which character, e.g. an unknown
  // function, a series letter beyond `series_count`, unbalanced parentheses, trailing text.
  [[nodiscard]] static absl::StatusOr<Formula> Parse(std::string_view text, int series_count);

  Number Evaluate(const Lookup& lookup) const;
  const std::string& text() const { return text_; }

  struct Node;

 private:
  Formula(std::string text, std::shared_ptr<const Node> root)
      : text_(std::move(text)), root_(std::move(root)) {}

  std::string text_;
  std::shared_ptr<const Node> root_;
};

// Parses a query's formulas over `series_count` series, in order. Errors: the first formula's
// Parse error, kInvalidArgument prefixed with its field ("formulas[1]: ...").
[[nodiscard]] absl::StatusOr<std::vector<Formula>> ParseFormulas(
    const std::vector<std::string>& texts, int series_count);

}  // namespace cohort::analytics
