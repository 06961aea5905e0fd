#include "analytics/model/formula.h"

#include <cctype>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cohort::analytics {

struct Formula::Node {
  enum class Kind { kNumber, kSeries, kNegate, kAdd, kSubtract, kMultiply, kDivide } kind;
  double number = 0;
  int series = 0;
  Aggregate aggregate = Aggregate::kUniques;
  std::unique_ptr<Node> left, right;
};

namespace {

using Node = Formula::Node;

constexpr int kMaxDepth = 64;  // nesting bound: a hostile formula cannot exhaust the stack

class Parser {
 public:
  Parser(std::string_view text, int series_count) : text_(text), series_count_(series_count) {}

  absl::StatusOr<std::unique_ptr<Node>> ParseAll() {
    absl::StatusOr<std::unique_ptr<Node>> root = Expression(0);
    if (!root.ok()) return root;
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text");
    return root;
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " at character ", pos_ + 1,
                                                   " of \"", std::string(text_), "\""));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  static std::unique_ptr<Node> Binary(Node::Kind kind, std::unique_ptr<Node> left,
                                      std::unique_ptr<Node> right) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->left = std::move(left);
    node->right = std::move(right);
    return node;
  }

  // expression := term (('+' | '-') term)*
  absl::StatusOr<std::unique_ptr<Node>> Expression(int depth) {
    if (depth > kMaxDepth) return Error("formula nested too deeply");
    absl::StatusOr<std::unique_ptr<Node>> left = Term(depth);
    if (!left.ok()) return left;
    std::unique_ptr<Node> node = *std::move(left);
    while (true) {
      Node::Kind kind;
      if (Consume('+')) {
        kind = Node::Kind::kAdd;
      } else if (Consume('-')) {
        kind = Node::Kind::kSubtract;
      } else {
        return node;
      }
      absl::StatusOr<std::unique_ptr<Node>> right = Term(depth);
      if (!right.ok()) return right;
      node = Binary(kind, std::move(node), *std::move(right));
    }
  }

  // term := factor (('*' | '/') factor)*
  absl::StatusOr<std::unique_ptr<Node>> Term(int depth) {
    absl::StatusOr<std::unique_ptr<Node>> left = Factor(depth);
    if (!left.ok()) return left;
    std::unique_ptr<Node> node = *std::move(left);
    while (true) {
      Node::Kind kind;
      if (Consume('*')) {
        kind = Node::Kind::kMultiply;
      } else if (Consume('/')) {
        kind = Node::Kind::kDivide;
      } else {
        return node;
      }
      absl::StatusOr<std::unique_ptr<Node>> right = Factor(depth);
      if (!right.ok()) return right;
      node = Binary(kind, std::move(node), *std::move(right));
    }
  }

  // factor := '-' factor | '(' expression ')' | number | ('UNIQUES' | 'TOTALS') '(' letter ')'
  absl::StatusOr<std::unique_ptr<Node>> Factor(int depth) {
    if (depth > kMaxDepth) return Error("formula nested too deeply");
    SkipSpace();
    if (Consume('-')) {
      absl::StatusOr<std::unique_ptr<Node>> operand = Factor(depth + 1);
      if (!operand.ok()) return operand;
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kNegate;
      node->left = *std::move(operand);
      return node;
    }
    if (Consume('(')) {
      absl::StatusOr<std::unique_ptr<Node>> inner = Expression(depth + 1);
      if (!inner.ok()) return inner;
      if (!Consume(')')) return Error("expected ')'");
      return inner;
    }
    SkipSpace();
    if (pos_ < text_.size() &&
        (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.')) {
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kNumber;
      std::from_chars_result r =
          std::from_chars(text_.data() + pos_, text_.data() + text_.size(), node->number);
      if (r.ec != std::errc()) return Error("bad number");
      pos_ = r.ptr - text_.data();
      return node;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    std::string_view name = text_.substr(start, pos_ - start);
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kSeries;
    if (name == "UNIQUES") {
      node->aggregate = Formula::Aggregate::kUniques;
    } else if (name == "TOTALS") {
      node->aggregate = Formula::Aggregate::kTotals;
    } else {
      pos_ = start;
      return Error(name.empty() ? "expected a number, '(' or UNIQUES(X) / TOTALS(X)"
                                : "unknown function (UNIQUES or TOTALS)");
    }
    if (!Consume('(')) return Error("expected '('");
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] < 'A' || text_[pos_] > 'Z') {
      return Error("expected a series letter");
    }
    node->series = text_[pos_] - 'A';
    if (node->series >= series_count_) {
      return Error(absl::StrCat("series ", std::string(1, text_[pos_]),
                                " is not one of the query's ", series_count_, " events"));
    }
    ++pos_;
    if (!Consume(')')) return Error("expected ')'");
    return node;
  }

  std::string_view text_;
  int series_count_;
  size_t pos_ = 0;
};

Number Eval(const Node& node, const Formula::Lookup& lookup) {
  switch (node.kind) {
    case Node::Kind::kNumber:
      return node.number;
    case Node::Kind::kSeries:
      return lookup(node.series, node.aggregate);
    case Node::Kind::kNegate: {
      Number v = Eval(*node.left, lookup);
      if (!v) return std::nullopt;
      return -*v;
    }
    default:
      break;
  }
  Number a = Eval(*node.left, lookup);
  Number b = Eval(*node.right, lookup);
  if (!a || !b) return std::nullopt;
  switch (node.kind) {
    case Node::Kind::kAdd:
      return *a + *b;
    case Node::Kind::kSubtract:
      return *a - *b;
    case Node::Kind::kMultiply:
      return *a * *b;
    case Node::Kind::kDivide:
      if (*b == 0) return std::nullopt;
      return *a / *b;
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::StatusOr<Formula> Formula::Parse(std::string_view text, int series_count) {
  absl::StatusOr<std::unique_ptr<Node>> root = Parser(text, series_count).ParseAll();
  if (!root.ok()) return root.status();
  return Formula(std::string(text), std::shared_ptr<const Node>(*std::move(root)));
}

Number Formula::Evaluate(const Lookup& lookup) const { return Eval(*root_, lookup); }

absl::StatusOr<std::vector<Formula>> ParseFormulas(const std::vector<std::string>& texts,
                                                   int series_count) {
  std::vector<Formula> formulas;
  for (size_t f = 0; f < texts.size(); ++f) {
    absl::StatusOr<Formula> formula = Formula::Parse(texts[f], series_count);
    if (!formula.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("formulas[", f, "]: ", std::string(formula.status().message())));
    }
    formulas.push_back(*std::move(formula));
  }
  return formulas;
}

}  // namespace cohort::analytics
