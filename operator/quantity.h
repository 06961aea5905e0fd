// Kubernetes resource quantities ("500m", "1Gi", "1.5e3") as exact values, so the apply helpers
// can tell that the API server's canonical form of a quantity is the quantity we asked for: the
// server stores "1000m" as "1", "0.5" as "500m" and "1.5Gi" as "1536Mi".
//
// The grammar is resource.Quantity's (k8s.io/apimachinery/pkg/api/resource):
//   <quantity> ::= <sign>? <digits> ( "." <digits>? )? <suffix>  |  <sign>? "." <digits> <suffix>
//   <suffix>   ::= "" | n | u | m | k | M | G | T | P | E | Ki | Mi | Gi | Ti | Pi | Ei
//                | ( "e" | "E" ) <sign>? <digits>
// Values are kept exactly (no floating point); like the API server, anything finer than 1n is
// rounded up (away from zero) to the next nano unit.
//
// Pure value type; thread-compatible. Parse never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cohort::op {

class Quantity {
 public:
  // Zero.
  Quantity() = default;

  // Errors: kInvalidArgument for anything outside the grammar above, longer than 128 bytes, or
  // with a decimal exponent beyond ±10^6 (the API server refuses far smaller ones).
  [[nodiscard]] static absl::StatusOr<Quantity> Parse(std::string_view text);

  // The value as digits × 10^exponent, e.g. "15e-1" for 1.5, "0" for zero: for error messages
  // and tests.
  std::string DebugString() const;

  friend bool operator==(const Quantity&, const Quantity&) = default;

 private:
  // Normalised: no leading or trailing zeros in `digits_` (empty for zero, with exponent 0 and
  // negative_ false), so equal values have equal representations.
  bool negative_ = false;
  std::string digits_;
  int64_t exponent_ = 0;
};

// Whether `a` and `b` are both quantities and have the same value. False when either does not
// parse.
bool QuantitiesEqual(std::string_view a, std::string_view b);

}  // namespace cohort::op
