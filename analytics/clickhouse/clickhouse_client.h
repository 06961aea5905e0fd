// A client for ClickHouse's HTTP interface (port 8123), the transport of the ClickHouse store
// backend: DDL and mutations, queries whose answer comes back in a chosen text format, and batched
// JSONEachRow inserts. Written for the oldest server we support, Debian's 18.16, and for current
// ones (README.md lists the differences that matter).
//
// Requests are POSTs through a cohort::HttpClient: the statement in the body (for inserts, in the
// `query` parameter, the rows in the body); the database, `wait_end_of_query=1` for queries and
// every setting as URL parameters; the user and password as X-ClickHouse-User / X-ClickHouse-Key
// headers (18.16 takes them), so the password is in no URL, log line or Status.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "analytics/clickhouse/sql_executor.h"
#include "common/clock.h"
#include "common/http_client.h"

namespace cohort::analytics::clickhouse {

// Setting name and value, e.g. {"max_execution_time", "30"}; sent as URL parameters.
using Settings = std::vector<std::pair<std::string, std::string>>;

struct ClickHouseClientOptions {
  // The server's HTTP root, "http[s]://host:port" (a trailing '/' is allowed; no path, no query).
  std::string url;
  std::string database;          // empty: the user's default database
  std::string user = "default";  // empty: no user header (the server's default user)
  std::string password;          // never logged and never in a Status
  Settings settings;             // sent with every request; a call's own settings come after
  // Attempts per call, the first included (1: no retries). Only retryable failures
  // (clickhouse_error.h: kUnavailable) are retried.
  int max_attempts = 4;
  // Backoff before attempt n+1: min(retry_cap, retry_base * 2^(n-1)) times a uniform jitter
  // factor in [0.5, 1].
  absl::Duration retry_base = absl::Milliseconds(200);
  absl::Duration retry_cap = absl::Seconds(5);
  // InsertJsonEachRow sends at most this many bytes of rows per request (a larger single row goes
  // alone).
  size_t max_insert_bytes = 8 << 20;
  // Required; must outlive the client. Its max_response_bytes bounds what Query can return and its
  // timeouts bound each attempt.
  HttpClient* http = nullptr;
  // Waits between attempts run on this clock; nullptr: RealClock. Must outlive the client.
  Clock* clock = nullptr;
};

// Thread-safe: calls may run concurrently (each attempt is one HttpClient::Post).
//
// Errors of every call: kInvalidArgument for a statement or data the server rejects (syntax,
// unknown table/column/function/setting, types, unparsable rows), kAlreadyExists,
// kUnauthenticated, kPermissionDenied, kDeadlineExceeded (the query's own max_execution_time),
// kResourceExhausted (its memory limit), kUnimplemented, kInternal (any other ClickHouse error) —
// each carrying ClickHouse's code (ClickHouseErrorCode) and message — and kUnavailable when the
// server could not be reached, timed out, or answered with a transient error on every attempt.
//
// A retried statement may have been applied by an attempt whose answer was lost (a timeout, a
// dropped connection): Execute and InsertJsonEachRow are at-least-once, so inserts must be safe to
// repeat (the store deduplicates by insert_id) and DDL should be idempotent (IF NOT EXISTS).
//
// A SqlExecutor (sql_executor.h): the interface's calls are the ones below without settings.
class ClickHouseClient : public SqlExecutor {
 public:
  // Errors: kInvalidArgument for a missing http client, a bad url or max_attempts < 1.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseClient>> Create(
      ClickHouseClientOptions options);

  ClickHouseClient(const ClickHouseClient&) = delete;
  ClickHouseClient& operator=(const ClickHouseClient&) = delete;

  // SqlExecutor: the calls below with no settings of their own.
  [[nodiscard]] absl::Status Execute(std::string_view sql) override { return Execute(sql, {}); }
  [[nodiscard]] absl::StatusOr<std::string> Query(std::string_view sql, Format format) override {
    return Query(sql, format, {});
  }
  [[nodiscard]] absl::Status InsertJsonEachRow(std::string_view table,
                                               const std::vector<std::string>& rows) override {
    return InsertJsonEachRow(table, rows, {});
  }

  // Runs one statement whose answer is not wanted (DDL, ALTER, INSERT ... SELECT/VALUES). One
  // statement only: ClickHouse's HTTP interface refuses "a; b". A trailing ';' is dropped.
  [[nodiscard]] absl::Status Execute(std::string_view sql, const Settings& settings);

  // Runs one SELECT (or SHOW/DESCRIBE/EXISTS) and returns its answer in `format` (the statement
  // must have no FORMAT clause of its own). The server buffers the whole answer before sending it
  // (wait_end_of_query), so an error met while computing it is an error here, never a truncated
  // body.
  [[nodiscard]] absl::StatusOr<std::string> Query(std::string_view sql, Format format,
                                                  const Settings& settings);

  // Inserts `rows`, each one JSON object on one line (no '\n' inside), into `table` ("name" or
  // "database.name": letters, digits and '_'), in as many requests as max_insert_bytes needs,
  // in order. Not atomic across requests: on an error the earlier requests' rows are stored.
  // Errors also: kInvalidArgument for a bad table name or a row that is empty or spans lines
  // (nothing is sent then).
  [[nodiscard]] absl::Status InsertJsonEachRow(std::string_view table,
                                               const std::vector<std::string>& rows,
                                               const Settings& settings);

 private:
  explicit ClickHouseClient(ClickHouseClientOptions options, std::string base_url);
  // POSTs `body` to the URL with `params` (after the client's own), retrying as the options say.
  absl::StatusOr<std::string> Send(const Settings& params, const Settings& settings,
                                   std::string body);
  absl::StatusOr<std::string> SendOnce(const std::string& url, const std::string& body);
  absl::Duration Backoff(int failed_attempts);

  const ClickHouseClientOptions options_;
  const std::string base_url_;  // "http://host:port/"
  Clock& clock_;
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
};

using ClickHouseClientPtr = std::unique_ptr<ClickHouseClient>;

}  // namespace cohort::analytics::clickhouse
