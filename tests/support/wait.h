// Waiting on a condition with a deadline — the only way tests here wait (never a fixed sleep).
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cohort::testing {

// Polls `condition` every `interval` until it returns true or `timeout` elapses. The error names
// `what` so a failing test says which wait ran out.
[[nodiscard]] inline absl::Status WaitFor(const std::string& what, absl::Duration timeout,
                                          const std::function<bool()>& condition,
                                          absl::Duration interval = absl::Milliseconds(100)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out after ", absl::FormatDuration(timeout), " waiting for ", what));
    }
    absl::SleepFor(interval);
  }
}

}  // namespace cohort::testing
