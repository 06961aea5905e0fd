#include "analytics/clickhouse/clickhouse_error.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cohort::analytics::clickhouse {
namespace {

constexpr char kCodePayload[] = "type.cohort.dev/clickhouse.error_code";
constexpr size_t kMaxMessageBytes = 600;

// Codes from ClickHouse's src/Common/ErrorCodes.cpp (checked against 18.16 and chdb 26.9).
absl::StatusCode CodeFor(int code) {
  switch (code) {
    case 1:    // UNSUPPORTED_METHOD
    case 6:    // CANNOT_PARSE_TEXT
    case 10:   // NOT_FOUND_COLUMN_IN_BLOCK
    case 15:   // DUPLICATE_COLUMN
    case 16:   // NO_SUCH_COLUMN_IN_TABLE
    case 20:   // NUMBER_OF_COLUMNS_DOESNT_MATCH
    case 26:   // CANNOT_PARSE_QUOTED_STRING
    case 27:   // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    case 32:   // ATTEMPT_TO_READ_AFTER_EOF
    case 33:   // CANNOT_READ_ALL_DATA
    case 36:   // BAD_ARGUMENTS
    case 38:   // CANNOT_PARSE_DATE
    case 41:   // CANNOT_PARSE_DATETIME
    case 42:   // NUMBER_OF_ARGUMENTS_DOESNT_MATCH
    case 43:   // ILLEGAL_TYPE_OF_ARGUMENT
    case 44:   // ILLEGAL_COLUMN
    case 46:   // UNKNOWN_FUNCTION
    case 47:   // UNKNOWN_IDENTIFIER
    case 50:   // UNKNOWN_TYPE
    case 51:   // EMPTY_LIST_OF_COLUMNS_QUERIED
    case 52:   // COLUMN_QUERIED_MORE_THAN_ONCE
    case 53:   // TYPE_MISMATCH
    case 60:   // UNKNOWN_TABLE
    case 62:   // SYNTAX_ERROR
    case 69:   // ARGUMENT_OUT_OF_BOUND
    case 70:   // CANNOT_CONVERT_TYPE
    case 72:   // CANNOT_PARSE_NUMBER
    case 73:   // UNKNOWN_FORMAT
    case 81:   // UNKNOWN_DATABASE
    case 115:  // UNKNOWN_SETTING
    case 117:  // INCORRECT_DATA
    case 128:  // TOO_LARGE_ARRAY_SIZE
    case 130:  // CANNOT_READ_ARRAY_FROM_TEXT
    case 131:  // TOO_LARGE_STRING_SIZE
    case 179:  // MULTIPLE_EXPRESSIONS_FOR_ALIAS
    case 181:  // ILLEGAL_FINAL
    case 184:  // ILLEGAL_AGGREGATION
    case 190:  // SIZES_OF_ARRAYS_DONT_MATCH
    case 215:  // NOT_AN_AGGREGATE
    case 248:  // INVALID_PARTITION_VALUE
    case 352:  // AMBIGUOUS_COLUMN_NAME
    case 381:  // HTTP_LENGTH_REQUIRED
    case 386:  // NO_COMMON_TYPE
    case 395:  // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
      return absl::StatusCode::kInvalidArgument;
    case 48:  // NOT_IMPLEMENTED
      return absl::StatusCode::kUnimplemented;
    case 57:  // TABLE_ALREADY_EXISTS
    case 82:  // DATABASE_ALREADY_EXISTS
      return absl::StatusCode::kAlreadyExists;
    case 192:  // UNKNOWN_USER
    case 193:  // WRONG_PASSWORD
    case 194:  // REQUIRED_PASSWORD
    case 516:  // AUTHENTICATION_FAILED
      return absl::StatusCode::kUnauthenticated;
    case 164:  // READONLY
    case 497:  // ACCESS_DENIED
      return absl::StatusCode::kPermissionDenied;
    case 159:  // TIMEOUT_EXCEEDED (the query's max_execution_time)
      return absl::StatusCode::kDeadlineExceeded;
    case 241:  // MEMORY_LIMIT_EXCEEDED
      return absl::StatusCode::kResourceExhausted;
    case 202:  // TOO_MANY_SIMULTANEOUS_QUERIES
    case 203:  // NO_FREE_CONNECTION
    case 209:  // SOCKET_TIMEOUT
    case 210:  // NETWORK_ERROR
    case 225:  // NO_ZOOKEEPER
    case 242:  // TABLE_IS_READ_ONLY (a replica without ZooKeeper)
    case 252:  // TOO_MANY_PARTS (inserts outpace merges)
    case 279:  // ALL_CONNECTION_TRIES_FAILED
    case 285:  // TOO_FEW_LIVE_REPLICAS
    case 286:  // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    case 319:  // UNKNOWN_STATUS_OF_INSERT
    case 425:  // SYSTEM_ERROR
    case 473:  // DEADLOCK_AVOIDED
    case 999:  // KEEPER_EXCEPTION
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// At most kMaxMessageBytes, never cutting a UTF-8 sequence.
std::string Truncate(std::string_view s) {
  if (s.size() <= kMaxMessageBytes) return std::string(s);
  size_t n = kMaxMessageBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return absl::StrCat(std::string(s.substr(0, n)), "...");
}

struct Parsed {
  std::optional<int> code;
  std::string_view message;
};

Parsed ParseBody(std::string_view body) {
  Parsed p;
  const size_t at = body.find("Code: ");
  if (at == std::string_view::npos) {
    p.message = Trim(body);
    return p;
  }
  std::string_view rest = body.substr(at + 6);
  size_t digits = 0;
  while (digits < rest.size() && absl::ascii_isdigit(static_cast<unsigned char>(rest[digits]))) {
    ++digits;
  }
  int code = 0;
  if (digits == 0 || !absl::SimpleAtoi(absl::string_view(rest.data(), digits), &code)) {
    p.message = Trim(body);
    return p;
  }
  p.code = code;
  rest.remove_prefix(digits);
  if (const size_t d = rest.find("e.displayText() = "); d != std::string_view::npos) {
    // 18.16: "Code: N, e.displayText() = MESSAGE, e.what() = DB::Exception".
    rest.remove_prefix(d + 18);
    if (const size_t w = rest.rfind(", e.what() = "); w != std::string_view::npos) {
      rest = rest.substr(0, w);
    }
  } else {
    // Current servers: "Code: N. MESSAGE (NAME) (version X)".
    if (!rest.empty() && (rest.front() == '.' || rest.front() == ',')) rest.remove_prefix(1);
    rest = Trim(rest);
    if (const size_t v = rest.rfind(" (version "); v != std::string_view::npos) {
      rest = rest.substr(0, v);
    }
  }
  rest = Trim(rest);
  constexpr std::string_view kPrefix = "DB::Exception: ";
  if (rest.substr(0, kPrefix.size()) == kPrefix) rest.remove_prefix(kPrefix.size());
  p.message = Trim(rest);
  return p;
}

}  // namespace

absl::Status ClickHouseErrorStatus(int code, std::string_view message) {
  absl::Status status(CodeFor(code),
                      absl::StrCat("ClickHouse error ", code, ": ", Truncate(message)));
  status.SetPayload(kCodePayload, absl::Cord(absl::StrCat(code)));
  return status;
}

absl::Status ParseClickHouseError(int http_status, std::string_view body,
                                  std::optional<int> code_header) {
  Parsed parsed = ParseBody(body);
  if (code_header.has_value()) parsed.code = code_header;
  if (parsed.code.has_value()) return ClickHouseErrorStatus(*parsed.code, parsed.message);
  const std::string message =
      absl::StrCat("ClickHouse answered HTTP ", http_status, parsed.message.empty() ? "" : ": ",
                   Truncate(parsed.message));
  if (http_status >= 500 || http_status == 429) return absl::UnavailableError(message);
  if (http_status == 401) return absl::UnauthenticatedError(message);
  if (http_status == 403) return absl::PermissionDeniedError(message);
  return absl::InvalidArgumentError(message);
}

std::optional<int> ClickHouseErrorCode(const absl::Status& status) {
  const auto payload = status.GetPayload(kCodePayload);  // absl::optional on Debian
  if (!payload.has_value()) return std::nullopt;
  int code = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return code;
}

bool IsRetryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable;
}

}  // namespace cohort::analytics::clickhouse
