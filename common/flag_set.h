// Command-line flags with Kubernetes' spelling (--kube-api-qps, --leader-elect): dashed names,
// "--name=value" or "--name value", booleans as "--name" or "--name=false", durations as Go writes
// them ("15s", "1m30s", "500ms"), lists comma-separated. absl's flags cannot spell dashed names,
// and every operator users know (controller-runtime's, kube-controller-manager) uses them.
//
// Each flag is bound to a variable that holds its default until Parse() sets it; Usage() prints
// every flag with its type, help and default. Not thread-safe; for main().
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort {

class FlagSet {
 public:
  explicit FlagSet(std::string program) : program_(std::move(program)) {}

  // `name` without dashes, e.g. "kube-api-qps". The variable must outlive the FlagSet; its value
  // now is the default Usage() shows.
  void Add(std::string name, std::string* value, std::string help);
  void Add(std::string name, bool* value, std::string help);
  void Add(std::string name, int* value, std::string help);
  void Add(std::string name, double* value, std::string help);
  void Add(std::string name, absl::Duration* value, std::string help);
  void Add(std::string name, std::vector<std::string>* value, std::string help);

  // Parses argv[1..]. Sets help_requested() for -h/--help (and stops there). Returns the
  // positional arguments (everything after "--" too). InvalidArgument naming the flag for an
  // unknown flag, a missing or malformed value; variables parsed before the error keep their new
  // values.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Parse(int argc, const char* const* argv);

  bool help_requested() const { return help_requested_; }

  // "Usage: <program> [flags]\n\n<description>\n\nFlags:\n  --name type\n      help (default
  // ...)\n..." in the order the flags were added.
  std::string Usage(std::string_view description) const;

 private:
  using Target =
      std::variant<std::string*, bool*, int*, double*, absl::Duration*, std::vector<std::string>*>;
  struct Flag {
    std::string name;
    Target target;
    std::string help;
    std::string default_text;
  };
  void AddFlag(std::string name, Target target, std::string help);
  absl::Status Set(Flag& flag, std::string_view value);
  Flag* Find(std::string_view name);

  std::string program_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

// Go's time.ParseDuration syntax: "300ms", "-1.5h", "2h45m"; units ns, us, µs, ms, s, m, h.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text);

}  // namespace cohort
