// Durations and byte sizes: see units.h for the grammars.
#include "config/units.h"

#include <array>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cohort::config {
namespace {

struct DurationUnit {
  std::string_view name;
  int64_t millis;
};
// Largest first: the order FormatDuration writes.
constexpr std::array<DurationUnit, 5> kDurationUnits{
    {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

constexpr int64_t kMaxDurationMillis = 36500LL * 86'400'000;

}  // namespace

absl::StatusOr<absl::Duration> ParseConfigDuration(std::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError("empty duration (want e.g. \"30m\", \"1h30m\", \"395d\")");
  }
  if (text.size() > 32) return absl::InvalidArgumentError("duration longer than 32 characters");
  // Exact arithmetic in units of 10^-9 ms; terms are bounded below, so int128 cannot overflow.
  using i128 = __int128;
  constexpr int kMaxFractionDigits = 9;
  constexpr i128 kScale = 1'000'000'000;
  i128 total = 0;
  size_t i = 0;
  auto digits = [&](i128* value) {
    const size_t start = i;
    *value = 0;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      *value = *value * 10 + (text[i] - '0');
      ++i;
    }
    return i - start;
  };
  while (i < text.size()) {
    i128 whole = 0, fraction = 0;
    const size_t whole_digits = digits(&whole);
    if (whole_digits == 0) {
      return absl::InvalidArgumentError(absl::StrCat("expected digits at offset ", i,
                                                     " (want numbers with units, e.g. \"1h30m\")"));
    }
    if (whole_digits > 13) {  // 10^13 ms is beyond the limit already
      return absl::InvalidArgumentError("duration longer than 36500d");
    }
    size_t fraction_digits = 0;
    if (i < text.size() && text[i] == '.') {
      ++i;
      fraction_digits = digits(&fraction);
      if (fraction_digits == 0) {
        return absl::InvalidArgumentError(absl::StrCat("expected digits at offset ", i));
      }
      if (fraction_digits > kMaxFractionDigits) {
        return absl::InvalidArgumentError("more than 9 fractional digits");
      }
    }
    const DurationUnit* unit = nullptr;
    for (const DurationUnit& u : kDurationUnits) {
      if (text.substr(i, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected a unit (d, h, m, s, ms) at offset ", i));
    }
    i += unit->name.size();
    i128 fraction_scaled = fraction;
    for (size_t k = fraction_digits; k < kMaxFractionDigits; ++k) fraction_scaled *= 10;
    total += (whole * kScale + fraction_scaled) * unit->millis;
    if (total > static_cast<i128>(kMaxDurationMillis) * kScale) {
      return absl::InvalidArgumentError("duration longer than 36500d");
    }
  }
  if (total % kScale != 0) {
    return absl::InvalidArgumentError("more precise than a millisecond");
  }
  return absl::Milliseconds(static_cast<int64_t>(total / kScale));
}

bool IsRepresentableDuration(absl::Duration d) {
  if (d < absl::ZeroDuration() || d > kMaxDuration) return false;
  absl::Duration remainder;
  absl::IDivDuration(d, absl::Milliseconds(1), &remainder);
  return remainder == absl::ZeroDuration();
}

std::string FormatConfigDuration(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(d);
  if (ms <= 0) return "0s";
  std::string out;
  for (const DurationUnit& unit : kDurationUnits) {
    if (ms >= unit.millis) {
      absl::StrAppend(&out, ms / unit.millis, std::string(unit.name));
      ms %= unit.millis;
    }
  }
  return out;
}

namespace {

struct SizeSuffix {
  std::string_view name;
  int base;  // 2 or 10
  int exponent;
};
// Largest first within each base; binary before decimal (FormatByteSize's preference).
constexpr std::array<SizeSuffix, 12> kSizeSuffixes{{{"Ei", 2, 60},
                                                    {"Pi", 2, 50},
                                                    {"Ti", 2, 40},
                                                    {"Gi", 2, 30},
                                                    {"Mi", 2, 20},
                                                    {"Ki", 2, 10},
                                                    {"E", 10, 18},
                                                    {"P", 10, 15},
                                                    {"T", 10, 12},
                                                    {"G", 10, 9},
                                                    {"M", 10, 6},
                                                    {"k", 10, 3}}};

using u128 = unsigned __int128;
constexpr u128 kMaxBytes = static_cast<u128>(std::numeric_limits<int64_t>::max());

// base^exponent for the exponents used here (all <= 2^63-1), or 0 when it exceeds 2^63-1.
u128 Power(int base, int exponent) {
  u128 r = 1;
  for (int i = 0; i < exponent; ++i) {
    r *= base;
    if (r > kMaxBytes) return 0;
  }
  return r;
}

}  // namespace

absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
  constexpr char kWant[] = " (want e.g. \"10Gi\", \"500M\", \"1048576\")";
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat("empty size", kWant));
  if (text.size() > 64) return absl::InvalidArgumentError("size longer than 64 characters");
  size_t i = 0;
  auto digits = [&](u128* value, int* count) {
    *value = 0;
    *count = 0;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      if (*value <= kMaxBytes) *value = *value * 10 + (text[i] - '0');
      ++*count;
      ++i;
    }
  };
  u128 whole = 0, fraction = 0;
  int whole_digits = 0, fraction_digits = 0;
  digits(&whole, &whole_digits);
  if (whole_digits == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected digits at offset 0", kWant));
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    digits(&fraction, &fraction_digits);
    if (fraction_digits == 0) {
      return absl::InvalidArgumentError(absl::StrCat("expected digits after '.'", kWant));
    }
    if (fraction_digits > 18) {
      return absl::InvalidArgumentError("more than 18 fractional digits");
    }
  }
  if (whole > kMaxBytes) return absl::InvalidArgumentError("size larger than 2^63-1 bytes");
  // value = (whole * 10^f + fraction) * multiplier / 10^f, exact or rejected.
  const std::string_view suffix = text.substr(i);
  // A named suffix first ("E" is exa, "Ei" exbi), then an exponent ("1e3", "1E3").
  const SizeSuffix* named = nullptr;
  for (const SizeSuffix& s : kSizeSuffixes) {
    if (s.name == suffix) named = &s;
  }
  u128 multiplier = 1;
  if (named != nullptr) {
    multiplier = Power(named->base, named->exponent);
  } else if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E')) {
    i += 1;
    u128 exponent = 0;
    int exponent_digits = 0;
    digits(&exponent, &exponent_digits);
    if (exponent_digits == 0 || i != text.size()) {
      return absl::InvalidArgumentError(absl::StrCat("expected digits after the exponent", kWant));
    }
    if (exponent > 18) return absl::InvalidArgumentError("size larger than 2^63-1 bytes");
    multiplier = Power(10, static_cast<int>(exponent));
  } else if (!suffix.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown suffix at offset ", i, " (want Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E)"));
  }
  const u128 scale = Power(10, fraction_digits);
  const u128 mantissa =
      whole * scale + fraction;  // whole <= 2^63, scale <= 10^18: fits in 128 bits
  // mantissa * multiplier / scale, checking the product against overflow before computing it.
  if (mantissa != 0 && mantissa > (kMaxBytes * scale) / multiplier) {
    return absl::InvalidArgumentError("size larger than 2^63-1 bytes");
  }
  const u128 product = mantissa * multiplier;
  if (product % scale != 0) {
    return absl::InvalidArgumentError("not a whole number of bytes");
  }
  const u128 bytes = product / scale;
  if (bytes > kMaxBytes) return absl::InvalidArgumentError("size larger than 2^63-1 bytes");
  return static_cast<int64_t>(bytes);
}

std::string FormatByteSize(int64_t bytes) {
  if (bytes <= 0) return "0";
  const u128 value = static_cast<u128>(bytes);
  for (const SizeSuffix& s : kSizeSuffixes) {
    const u128 unit = Power(s.base, s.exponent);
    if (unit != 0 && value % unit == 0) {
      return absl::StrCat(static_cast<int64_t>(value / unit), std::string(s.name));
    }
  }
  return absl::StrCat(bytes);
}

}  // namespace cohort::config
