#include "operator/quantity.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cohort::op {
namespace {

constexpr size_t kMaxLength = 128;
constexpr int64_t kMaxExponent = 1'000'000;
constexpr int64_t kNanoExponent = -9;

// `digits` (decimal, most significant first) × `factor`, in place.
void MultiplyDigits(std::string& digits, int factor) {
  int carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    const int v = (*it - '0') * factor + carry;
    *it = static_cast<char>('0' + v % 10);
    carry = v / 10;
  }
  while (carry > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + carry % 10));
    carry /= 10;
  }
}

// `digits` + 1, in place.
void IncrementDigits(std::string& digits) {
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it != '9') {
      ++*it;
      return;
    }
    *it = '0';
  }
  digits.insert(digits.begin(), '1');
}

bool AllDigits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

absl::Status Invalid(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("not a quantity: \"",
                                                 std::string(text.substr(0, kMaxLength)), "\" (",
                                                 std::string(why), ")"));
}

}  // namespace

absl::StatusOr<Quantity> Quantity::Parse(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (text.size() > kMaxLength) return Invalid(text, "too long");
  std::string_view rest = text;
  bool negative = false;
  if (rest.front() == '+' || rest.front() == '-') {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  size_t i = 0;
  while (i < rest.size() && absl::ascii_isdigit(rest[i])) ++i;
  std::string digits(rest.substr(0, i));
  int64_t exponent = 0;
  if (i < rest.size() && rest[i] == '.') {
    ++i;
    const size_t frac_start = i;
    while (i < rest.size() && absl::ascii_isdigit(rest[i])) ++i;
    digits.append(rest.substr(frac_start, i - frac_start));
    exponent = -static_cast<int64_t>(i - frac_start);
  }
  if (digits.empty()) return Invalid(text, "no digits");
  const std::string_view suffix = rest.substr(i);

  int binary_power = 0;  // the value is also multiplied by 1024^binary_power
  if (suffix.empty()) {
  } else if (suffix == "n") {
    exponent -= 9;
  } else if (suffix == "u") {
    exponent -= 6;
  } else if (suffix == "m") {
    exponent -= 3;
  } else if (suffix == "k") {
    exponent += 3;
  } else if (suffix == "M") {
    exponent += 6;
  } else if (suffix == "G") {
    exponent += 9;
  } else if (suffix == "T") {
    exponent += 12;
  } else if (suffix == "P") {
    exponent += 15;
  } else if (suffix == "E") {
    exponent += 18;
  } else if (suffix.size() == 2 && suffix[1] == 'i' &&
             std::string_view("KMGTPE").find(suffix[0]) != std::string_view::npos) {
    binary_power = static_cast<int>(std::string_view("KMGTPE").find(suffix[0])) + 1;
  } else if (suffix.front() == 'e' || suffix.front() == 'E') {
    std::string_view e = suffix.substr(1);
    bool e_negative = false;
    if (!e.empty() && (e.front() == '+' || e.front() == '-')) {
      e_negative = e.front() == '-';
      e.remove_prefix(1);
    }
    if (!AllDigits(e)) return Invalid(text, "bad exponent");
    e.remove_prefix(std::min(e.find_first_not_of('0'), e.size()));
    if (e.size() > 7) return Invalid(text, "exponent out of range");
    int64_t value = 0;
    for (char c : e) value = value * 10 + (c - '0');
    if (value > kMaxExponent) return Invalid(text, "exponent out of range");
    exponent += e_negative ? -value : value;
  } else {
    return Invalid(text, "unknown suffix");
  }

  for (int p = 0; p < binary_power; ++p) MultiplyDigits(digits, 1024);

  Quantity q;
  auto normalise = [&q]() {
    q.digits_.erase(0, std::min(q.digits_.find_first_not_of('0'), q.digits_.size()));
    while (!q.digits_.empty() && q.digits_.back() == '0') {
      q.digits_.pop_back();
      ++q.exponent_;
    }
    if (q.digits_.empty()) {
      q.negative_ = false;
      q.exponent_ = 0;
    }
  };
  q.negative_ = negative;
  q.digits_ = std::move(digits);
  q.exponent_ = exponent;
  normalise();
  if (!q.digits_.empty() && q.exponent_ < kNanoExponent) {
    // Finer than 1n: drop the extra digits and round the magnitude up. Normalised digits end in a
    // non-zero digit, so something non-zero is always dropped here.
    const int64_t drop = kNanoExponent - q.exponent_;
    if (drop >= static_cast<int64_t>(q.digits_.size())) {
      q.digits_ = "1";
    } else {
      q.digits_.resize(q.digits_.size() - static_cast<size_t>(drop));
      IncrementDigits(q.digits_);
    }
    q.exponent_ = kNanoExponent;
    normalise();
  }
  return q;
}

std::string Quantity::DebugString() const {
  if (digits_.empty()) return "0";
  return absl::StrCat(negative_ ? "-" : "", digits_, exponent_ == 0 ? "" : "e",
                      exponent_ == 0 ? "" : absl::StrCat(exponent_));
}

bool QuantitiesEqual(std::string_view a, std::string_view b) {
  absl::StatusOr<Quantity> qa = Quantity::Parse(a);
  if (!qa.ok()) return false;
  absl::StatusOr<Quantity> qb = Quantity::Parse(b);
  return qb.ok() && *qa == *qb;
}

}  // namespace cohort::op
