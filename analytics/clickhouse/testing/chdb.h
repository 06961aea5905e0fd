// The same SQL on a current ClickHouse engine: chdb (PyPI), run in a Python subprocess by
// tools/clickhouse/chdb_query.py. Tests run the store's SQL on Debian's 18.16 (ClickHouseServer)
// and here, and compare the answers.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/clickhouse/clickhouse_client.h"

namespace cohort::analytics::clickhouse::testing {

// Runs `statements` in order in one fresh chdb session (UTC, in-memory and temporary, so CREATE
// TABLE then INSERT then SELECT see each other and nothing outlives the call) and returns the last
// statement's result in `format`. The interpreter is $COHORT_CHDB_PYTHON (tools/test.sh makes its
// venv). Each statement is one SQL statement; a trailing ';' is allowed.
//
// Errors: kFailedPrecondition when COHORT_CHDB_PYTHON is unset or cannot run; a ClickHouse error
// from the engine as clickhouse_error.h maps it (kInvalidArgument for a syntax error, ...), with
// its code; kInternal when the runner fails otherwise (its standard error in the message).
[[nodiscard]] absl::StatusOr<std::string> RunOnChdb(const std::vector<std::string>& statements,
                                                    Format format = Format::kTabSeparated);

}  // namespace cohort::analytics::clickhouse::testing
