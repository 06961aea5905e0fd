// The one seam between the store's SQL and an engine that runs it: the real server over HTTP
// (ClickHouseClient, clickhouse_client.h) or, in tests, a current engine in a chdb session
// (testing/chdb_session.h). The schema, writer and query executors take a SqlExecutor&, so the
// same statements run on Debian's 18.16 and on a current ClickHouse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::analytics::clickhouse {

// Output formats Query asks for (ClickHouse's FORMAT clause).
enum class Format { kTabSeparated, kJsonEachRow, kJsonCompact };

// `format`'s name in ClickHouse ("TabSeparated", "JSONEachRow", "JSONCompact").
std::string_view FormatName(Format format);

// Errors of every call are those of ClickHouseClient (clickhouse_client.h): ClickHouse's errors
// mapped by clickhouse_error.h (kInvalidArgument for our SQL's faults, kUnavailable for transient
// ones, ...), each with its ClickHouse code (ClickHouseErrorCode).
//
// Implementations say whether they are thread-safe (ClickHouseClient is; ChdbSession is not).
class SqlExecutor {
 public:
  virtual ~SqlExecutor() = default;

  // Runs one statement whose answer is not wanted (DDL, ALTER, INSERT ... SELECT/VALUES). A
  // trailing ';' is allowed; "a; b" is not.
  [[nodiscard]] virtual absl::Status Execute(std::string_view sql) = 0;

  // Runs one SELECT (or SHOW/DESCRIBE/EXISTS) without a FORMAT clause and returns the whole answer
  // in `format`.
  [[nodiscard]] virtual absl::StatusOr<std::string> Query(std::string_view sql, Format format) = 0;

  // Inserts `rows` (each one JSON object on one line, no '\n' inside) into `table` ("name" or
  // "database.name": letters, digits and '_'). Not atomic: on an error some rows may be stored.
  [[nodiscard]] virtual absl::Status InsertJsonEachRow(std::string_view table,
                                                       const std::vector<std::string>& rows) = 0;
};

}  // namespace cohort::analytics::clickhouse
