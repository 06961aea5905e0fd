#include "common/flag_set.h"

#include <cmath>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cohort {
namespace {

std::string DurationText(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", std::string(text),
                     "\" (want e.g. 30s, 1m30s, 500ms; units ns, us, ms, s, m, h)"));
  };
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return bad();
  absl::Duration total;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '.')) ++i;
    if (i == 0) return bad();
    double number = 0;
    if (!absl::SimpleAtod(std::string(s.substr(0, i)), &number) || !std::isfinite(number)) {
      return bad();
    }
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !absl::ascii_isdigit(s[j]) && s[j] != '.') ++j;
    const std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    absl::Duration scale;
    if (unit == "ns") {
      scale = absl::Nanoseconds(1);
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      scale = absl::Microseconds(1);
    } else if (unit == "ms") {
      scale = absl::Milliseconds(1);
    } else if (unit == "s") {
      scale = absl::Seconds(1);
    } else if (unit == "m") {
      scale = absl::Minutes(1);
    } else if (unit == "h") {
      scale = absl::Hours(1);
    } else {
      return bad();
    }
    total += number * scale;
  }
  return negative ? -total : total;
}

void FlagSet::AddFlag(std::string name, Target target, std::string help) {
  std::string default_text = std::visit(
      [](auto* v) -> std::string {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return absl::StrCat("\"", *v, "\"");
        } else if constexpr (std::is_same_v<T, bool>) {
          return *v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int>) {
          return absl::StrCat(*v);
        } else if constexpr (std::is_same_v<T, double>) {
          return absl::StrCat(*v);
        } else if constexpr (std::is_same_v<T, absl::Duration>) {
          return DurationText(*v);
        } else {
          return absl::StrCat("\"", absl::StrJoin(*v, ","), "\"");
        }
      },
      target);
  flags_.push_back(Flag{std::move(name), target, std::move(help), std::move(default_text)});
}

void FlagSet::Add(std::string name, std::string* value, std::string help) {
  AddFlag(std::move(name), value, std::move(help));
}
void FlagSet::Add(std::string name, bool* value, std::string help) {
  AddFlag(std::move(name), value, std::move(help));
}
void FlagSet::Add(std::string name, int* value, std::string help) {
  AddFlag(std::move(name), value, std::move(help));
}
void FlagSet::Add(std::string name, double* value, std::string help) {
  AddFlag(std::move(name), value, std::move(help));
}
void FlagSet::Add(std::string name, absl::Duration* value, std::string help) {
  AddFlag(std::move(name), value, std::move(help));
}
void FlagSet::Add(std::string name, std::vector<std::string>* value, std::string help) {
  AddFlag(std::move(name), value, std::move(help));
}

FlagSet::Flag* FlagSet::Find(std::string_view name) {
  for (Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

absl::Status FlagSet::Set(Flag& flag, std::string_view value) {
  auto bad = [&](std::string_view want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag.name, ": invalid value \"", std::string(value), "\": want ", std::string(want)));
  };
  return std::visit(
      [&](auto* v) -> absl::Status {
        using T = std::remove_pointer_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          *v = std::string(value);
        } else if constexpr (std::is_same_v<T, bool>) {
          const std::string lower = absl::AsciiStrToLower(std::string(value));
          if (lower == "true" || lower == "1") {
            *v = true;
          } else if (lower == "false" || lower == "0") {
            *v = false;
          } else {
            return bad("true or false");
          }
        } else if constexpr (std::is_same_v<T, int>) {
          if (!absl::SimpleAtoi(std::string(value), v)) return bad("an integer");
        } else if constexpr (std::is_same_v<T, double>) {
          if (!absl::SimpleAtod(std::string(value), v) || !std::isfinite(*v)) {
            return bad("a number");
          }
        } else if constexpr (std::is_same_v<T, absl::Duration>) {
          absl::StatusOr<absl::Duration> d = ParseGoDuration(value);
          if (!d.ok()) return bad("a duration such as 30s, 1m30s or 500ms");
          *v = *d;
        } else {
          v->clear();
          if (!value.empty()) {
            for (absl::string_view part :
                 absl::StrSplit(absl::string_view(value.data(), value.size()), ',')) {
              const absl::string_view item = absl::StripAsciiWhitespace(part);
              if (!item.empty()) v->emplace_back(item);
            }
          }
        }
        return absl::OkStatus();
      },
      flag.target);
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(int argc, const char* const* argv) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
      break;
    }
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      help_requested_ = true;
      return positional;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);  // Go's flag package takes -name too
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", std::string(name), " (see --help)"));
    }
    if (!value.has_value()) {
      if (std::holds_alternative<bool*>(flag->target)) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", flag->name, " needs a value"));
      }
    }
    if (absl::Status s = Set(*flag, *value); !s.ok()) return s;
  }
  return positional;
}

std::string FlagSet::Usage(std::string_view description) const {
  std::string out =
      absl::StrCat("Usage: ", program_, " [flags]\n\n", std::string(description), "\n\nFlags:\n");
  for (const Flag& flag : flags_) {
    const char* type = std::visit(
        [](auto* v) -> const char* {
          using T = std::remove_pointer_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) return "string";
          if constexpr (std::is_same_v<T, bool>) return "";
          if constexpr (std::is_same_v<T, int>) return "int";
          if constexpr (std::is_same_v<T, double>) return "float";
          if constexpr (std::is_same_v<T, absl::Duration>) return "duration";
          return "strings";
        },
        flag.target);
    absl::StrAppend(&out, "  --", flag.name, *type ? " " : "", type, "\n      ", flag.help,
                    " (default ", flag.default_text, ")\n");
  }
  absl::StrAppend(&out, "  -h, --help\n      Print this help and exit.\n");
  return out;
}

}  // namespace cohort
