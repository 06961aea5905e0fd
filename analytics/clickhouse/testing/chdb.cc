#include "analytics/clickhouse/testing/chdb.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_error.h"
#include "tests/support/subprocess.h"

namespace cohort::analytics::clickhouse::testing {

absl::StatusOr<std::string> RunOnChdb(const std::vector<std::string>& statements, Format format) {
  const char* python = std::getenv("COHORT_CHDB_PYTHON");
  if (python == nullptr || *python == '\0') {
    return absl::FailedPreconditionError(
        "COHORT_CHDB_PYTHON is not set: tools/test.sh installs chdb into "
        "~/.cache/cohort-operator/venv-chdb-<version> and sets it");
  }
  cohort::testing::RunOptions options;
  options.timeout = absl::Minutes(2);
  for (const std::string& s : statements) absl::StrAppend(&options.stdin_data, s, "\n;\n");
  absl::StatusOr<cohort::testing::RunResult> run =
      cohort::testing::RunCommand({python, COHORT_SOURCE_DIR "/tools/clickhouse/chdb_query.py",
                                   "--format", std::string(FormatName(format))},
                                  options);
  if (!run.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot run COHORT_CHDB_PYTHON=", python,
                                                      ": ", std::string(run.status().message())));
  }
  if (run->exit_code == 0) return std::move(run->out);
  if (run->exit_code == 1 && absl::StrContains(run->err, "Code: ")) {
    return ParseClickHouseError(500, run->err);
  }
  return absl::InternalError(absl::StrCat("chdb_query.py ", run->timed_out ? "timed out" : "failed",
                                          " (exit ", run->exit_code, "): ", run->err));
}

}  // namespace cohort::analytics::clickhouse::testing
