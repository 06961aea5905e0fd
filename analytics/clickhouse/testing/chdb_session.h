// A long-lived chdb session as a SqlExecutor: the store's statements run on a current ClickHouse
// engine exactly as they run on 18.16 through ClickHouseClient, and a test inserts once and then
// runs hundreds of queries without paying chdb's start (about 0.5 s) each time.
//
// The session is a child process, `$COHORT_CHDB_PYTHON tools/clickhouse/chdb_query.py --serve DIR`,
// with its data in a fresh temporary directory DIR. Statements go to its standard input and
// results come back on its standard output in length-prefixed frames (chdb_query.py documents
// them), so results may hold any bytes. Its standard error goes to DIR/stderr.log.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "analytics/clickhouse/sql_executor.h"

namespace cohort::analytics::clickhouse::testing {

// Not thread-safe: one call at a time.
//
// Errors of the calls: a ClickHouse error from the engine as clickhouse_error.h maps it (with its
// code), like RunOnChdb; kInvalidArgument for a bad table name or row (InsertJsonEachRow, nothing
// sent then); kInternal when the child died or broke the protocol (its standard error's tail in
// the message; the session is unusable afterwards); kDeadlineExceeded when a call took longer than
// call_timeout (the child is killed).
class ChdbSession final : public SqlExecutor {
 public:
  // Starts the child and waits until its session answers "SELECT 1".
  // Errors: kFailedPrecondition when COHORT_CHDB_PYTHON is unset or the child cannot start;
  // kInternal for temporary directory or pipe failures.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ChdbSession>> Start(
      absl::Duration call_timeout = absl::Minutes(5));

  ChdbSession(const ChdbSession&) = delete;
  ChdbSession& operator=(const ChdbSession&) = delete;
  // Ends the child (closes its input, then SIGKILL if it has not exited within 10 s) and removes
  // the directory.
  ~ChdbSession() override;

  [[nodiscard]] absl::Status Execute(std::string_view sql) override;
  [[nodiscard]] absl::StatusOr<std::string> Query(std::string_view sql, Format format) override;
  [[nodiscard]] absl::Status InsertJsonEachRow(std::string_view table,
                                               const std::vector<std::string>& rows) override;

  const std::string& dir() const { return dir_; }

 private:
  ChdbSession() = default;
  // Sends one framed request and reads its answer.
  absl::StatusOr<std::string> Call(std::string_view format, std::string_view sql);
  absl::Status Broken(std::string_view what);
  std::string StderrTail() const;
  void Stop();

  std::string dir_;
  pid_t pid_ = -1;
  int to_child_ = -1;    // the child's standard input
  int from_child_ = -1;  // the child's standard output
  bool broken_ = false;
  absl::Duration call_timeout_;
};

}  // namespace cohort::analytics::clickhouse::testing
