// ClickHouse's errors as absl::Status. ClickHouse answers a failed HTTP request with a text body
// naming its error code: 18.16 writes "Code: 60, e.displayText() = DB::Exception: Table x doesn't
// exist., e.what() = DB::Exception", current servers "Code: 60. DB::Exception: Table x does not
// exist. (UNKNOWN_TABLE) (version 24.3.1.1)" and also an X-ClickHouse-Exception-Code header. The
// HTTP status alone says little (18.16 sends 500 for a type error and 404 for an unknown setting),
// so the mapping goes by the ClickHouse code.
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace cohort::analytics::clickhouse {

// The Status for a ClickHouse error `code` with `message` (already stripped of the "Code: ..."
// framing). Codes that our SQL or data cause (syntax, unknown table/column/function/setting, type
// and parse errors) give kInvalidArgument; "already exists" kAlreadyExists; authentication
// kUnauthenticated; access kPermissionDenied; a query's time limit kDeadlineExceeded; its memory
// limit kResourceExhausted; transient server states (too many queries or parts, network errors
// between servers, read-only replicas, ZooKeeper) kUnavailable; anything else kInternal. The code
// is attached as a payload (ClickHouseErrorCode reads it back).
[[nodiscard]] absl::Status ClickHouseErrorStatus(int code, std::string_view message);

// The Status for an HTTP answer from ClickHouse that is not 200: the code comes from
// `code_header` (X-ClickHouse-Exception-Code) when given, else from the body. A body without a
// ClickHouse code (a proxy's error page, say) maps by `http_status`: 5xx and 429 kUnavailable, 401
// kUnauthenticated, 403 kPermissionDenied, other statuses kInvalidArgument. The message is
// truncated to a few hundred bytes.
[[nodiscard]] absl::Status ParseClickHouseError(int http_status, std::string_view body,
                                                std::optional<int> code_header = std::nullopt);

// The ClickHouse error code a Status from this folder carries, if any.
std::optional<int> ClickHouseErrorCode(const absl::Status& status);

// Whether a request that failed with `status` may succeed when sent again unchanged: kUnavailable
// (connection and I/O errors, timeouts, transient server states).
bool IsRetryable(const absl::Status& status);

}  // namespace cohort::analytics::clickhouse
