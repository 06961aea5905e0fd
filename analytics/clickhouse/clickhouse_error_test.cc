#include "analytics/clickhouse/clickhouse_error.h"

#include <string>

#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse {
namespace {

// Bodies as 18.16 sends them (captured from Debian's clickhouse-server 18.16.1).
constexpr char kUnknownTable1816[] =
    "Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = "
    "DB::Exception\n";
constexpr char kBadRow1816[] =
    "Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected \" before: "
    "zz\",\"s\":\"x\"}\\n: (while read the value of key a): (at row 1)\n, e.what() = "
    "DB::Exception\n";
// As a current server (and chdb) words it.
constexpr char kSyntaxCurrent[] =
    "Code: 62. DB::Exception: Syntax error: failed at position 1 ('SELEC'): SELEC 1. Expected "
    "one of: Query. (SYNTAX_ERROR) (version 24.3.1.2672 (official build))\n";

TEST(ParseClickHouseErrorTest, Reads1816Body) {
  const absl::Status s = ParseClickHouseError(404, kUnknownTable1816);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "ClickHouse error 60: Table default.nope doesn't exist.");
  EXPECT_EQ(ClickHouseErrorCode(s), 60);
}

TEST(ParseClickHouseErrorTest, Reads1816BodyWithLineBreakInMessage) {
  const absl::Status s = ParseClickHouseError(500, kBadRow1816);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClickHouseErrorCode(s), 27);
  EXPECT_EQ(s.message(),
            "ClickHouse error 27: Cannot parse input: expected \" before: zz\",\"s\":\"x\"}\\n: "
            "(while read the value of key a): (at row 1)");
}

TEST(ParseClickHouseErrorTest, ReadsCurrentBody) {
  const absl::Status s = ParseClickHouseError(400, kSyntaxCurrent);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClickHouseErrorCode(s), 62);
  EXPECT_EQ(s.message(),
            "ClickHouse error 62: Syntax error: failed at position 1 ('SELEC'): SELEC 1. Expected "
            "one of: Query. (SYNTAX_ERROR)");
}

TEST(ParseClickHouseErrorTest, HeaderCodeWins) {
  const absl::Status s = ParseClickHouseError(500, "Code: 62. DB::Exception: x", 252);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ClickHouseErrorCode(s), 252);
}

TEST(ParseClickHouseErrorTest, BodyWithoutCodeMapsByHttpStatus) {
  EXPECT_EQ(ParseClickHouseError(502, "<html>Bad Gateway</html>").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ParseClickHouseError(503, "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ParseClickHouseError(429, "slow down").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ParseClickHouseError(401, "").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ParseClickHouseError(403, "").code(), absl::StatusCode::kPermissionDenied);
  const absl::Status s = ParseClickHouseError(404, "not here\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "ClickHouse answered HTTP 404: not here");
  EXPECT_FALSE(ClickHouseErrorCode(s).has_value());
}

TEST(ParseClickHouseErrorTest, ATextThatOnlyLooksLikeACodeIsNotOne) {
  const absl::Status s = ParseClickHouseError(502, "Code: unknown");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(ClickHouseErrorCode(s).has_value());
}

TEST(ParseClickHouseErrorTest, LongMessagesAreTruncatedOnACharacterBoundary) {
  std::string body = "Code: 62, e.displayText() = DB::Exception: ";
  for (int i = 0; i < 1000; ++i) body += "\xC3\xA9";  // é, two bytes each
  const absl::Status s = ParseClickHouseError(400, body);
  EXPECT_LT(s.message().size(), 700u);
  const std::string m(s.message());
  ASSERT_EQ(m.substr(m.size() - 3), "...");
  // The byte before "..." ends a whole "é".
  EXPECT_EQ(static_cast<unsigned char>(m[m.size() - 4]), 0xA9);
}

TEST(ClickHouseErrorStatusTest, MapsCodesByCause) {
  struct Case {
    int code;
    absl::StatusCode expected;
  };
  const Case cases[] = {
      {62, absl::StatusCode::kInvalidArgument},   {47, absl::StatusCode::kInvalidArgument},
      {60, absl::StatusCode::kInvalidArgument},   {115, absl::StatusCode::kInvalidArgument},
      {43, absl::StatusCode::kInvalidArgument},   {57, absl::StatusCode::kAlreadyExists},
      {82, absl::StatusCode::kAlreadyExists},     {192, absl::StatusCode::kUnauthenticated},
      {193, absl::StatusCode::kUnauthenticated},  {516, absl::StatusCode::kUnauthenticated},
      {497, absl::StatusCode::kPermissionDenied}, {164, absl::StatusCode::kPermissionDenied},
      {159, absl::StatusCode::kDeadlineExceeded}, {241, absl::StatusCode::kResourceExhausted},
      {48, absl::StatusCode::kUnimplemented},     {202, absl::StatusCode::kUnavailable},
      {252, absl::StatusCode::kUnavailable},      {210, absl::StatusCode::kUnavailable},
      {999, absl::StatusCode::kUnavailable},      {49, absl::StatusCode::kInternal},
      {123456, absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    const absl::Status s = ClickHouseErrorStatus(c.code, "m");
    EXPECT_EQ(s.code(), c.expected) << c.code;
    EXPECT_EQ(ClickHouseErrorCode(s), c.code);
    EXPECT_EQ(IsRetryable(s), c.expected == absl::StatusCode::kUnavailable) << c.code;
  }
}

TEST(ClickHouseErrorCodeTest, AbsentOnOtherStatuses) {
  EXPECT_FALSE(ClickHouseErrorCode(absl::OkStatus()).has_value());
  EXPECT_FALSE(ClickHouseErrorCode(absl::UnavailableError("x")).has_value());
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
