// The client's requests, error mapping and retries against a scripted HttpClient and a clock that
// records the backoff instead of sleeping. clickhouse_integration_test runs it against a real
// 18.16 server.
#include "analytics/clickhouse/clickhouse_client.h"

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "analytics/clickhouse/clickhouse_error.h"
#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse {
namespace {

struct Request {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "<absent>";
  }
};

// Answers from a script, in order; records every request.
class ScriptedHttp final : public HttpClient {
 public:
  void Answer(int status, std::string body,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    script_.push_back(std::move(r));
  }
  void Fail(absl::Status status) { script_.push_back(std::move(status)); }

  absl::StatusOr<HttpResponse> Post(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::string body) override {
    requests.push_back({url, headers, std::move(body)});
    if (script_.empty()) return absl::InternalError("script exhausted");
    absl::StatusOr<HttpResponse> next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

  std::vector<Request> requests;

 private:
  std::deque<absl::StatusOr<HttpResponse>> script_;
};

// Records each wait and moves its time to the wait's end at once.
class RecordingClock final : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  bool AwaitWithDeadline(absl::Mutex&, const absl::Condition& cond, absl::Time deadline) override {
    if (cond.Eval()) return true;
    waits.push_back(deadline - now_);
    now_ = deadline;
    return false;
  }
  std::vector<absl::Duration> waits;

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

class ClickHouseClientTest : public ::testing::Test {
 protected:
  ClickHouseClientPtr MakeClient(ClickHouseClientOptions options = {}) {
    if (options.url.empty()) options.url = "http://127.0.0.1:8123/";
    options.http = &http_;
    options.clock = &clock_;
    absl::StatusOr<ClickHouseClientPtr> c = ClickHouseClient::Create(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  ScriptedHttp http_;
  RecordingClock clock_;
};

TEST_F(ClickHouseClientTest, QueryAsksForTheFormatAndBuffersTheAnswer) {
  ClickHouseClientPtr client = MakeClient({.database = "cohort",
                                           .user = "reader",
                                           .password = "s3cret",
                                           .settings = {{"max_threads", "2"}}});
  http_.Answer(200, "[1]\n");
  absl::StatusOr<std::string> r =
      client->Query("SELECT 1 ;\n", Format::kJsonCompact, {{"max_execution_time", "30"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "[1]\n");
  ASSERT_EQ(http_.requests.size(), 1u);
  const Request& q = http_.requests[0];
  EXPECT_EQ(q.url,
            "http://127.0.0.1:8123/?database=cohort&wait_end_of_query=1&max_threads=2&"
            "max_execution_time=30");
  EXPECT_EQ(q.body, "SELECT 1\nFORMAT JSONCompact");
  EXPECT_EQ(q.Header("X-ClickHouse-User"), "reader");
  EXPECT_EQ(q.Header("X-ClickHouse-Key"), "s3cret");
}

TEST_F(ClickHouseClientTest, FormatNames) {
  EXPECT_EQ(FormatName(Format::kTabSeparated), "TabSeparated");
  EXPECT_EQ(FormatName(Format::kJsonEachRow), "JSONEachRow");
  EXPECT_EQ(FormatName(Format::kJsonCompact), "JSONCompact");
}

TEST_F(ClickHouseClientTest, ExecuteSendsOneStatementWithoutUserHeadersWhenNoUser) {
  ClickHouseClientPtr client = MakeClient({.user = ""});
  http_.Answer(200, "");
  ASSERT_TRUE(client->Execute("  ALTER TABLE t DROP PARTITION 202401;;  ").ok());
  ASSERT_EQ(http_.requests.size(), 1u);
  EXPECT_EQ(http_.requests[0].url, "http://127.0.0.1:8123/");
  EXPECT_EQ(http_.requests[0].body, "ALTER TABLE t DROP PARTITION 202401");
  EXPECT_EQ(http_.requests[0].Header("X-ClickHouse-User"), "<absent>");
}

TEST_F(ClickHouseClientTest, InsertSplitsRowsIntoRequestsOfBoundedSize) {
  ClickHouseClientPtr client = MakeClient({.max_insert_bytes = 25});
  for (int i = 0; i < 3; ++i) http_.Answer(200, "");
  const std::vector<std::string> rows = {R"({"a":1,"s":"x"})", R"({"a":2})", R"({"a":3})",
                                         R"({"a":4})", R"({"a":5,"s":"a;b c"})"};
  ASSERT_TRUE(client->InsertJsonEachRow("db.events", rows).ok());
  ASSERT_EQ(http_.requests.size(), 3u);
  for (const Request& r : http_.requests) {
    EXPECT_EQ(r.url,
              "http://127.0.0.1:8123/?query=INSERT%20INTO%20db.events%20FORMAT%20JSONEachRow");
  }
  EXPECT_EQ(http_.requests[0].body, "{\"a\":1,\"s\":\"x\"}\n{\"a\":2}\n");
  EXPECT_EQ(http_.requests[1].body, "{\"a\":3}\n{\"a\":4}\n");
  EXPECT_EQ(http_.requests[2].body, "{\"a\":5,\"s\":\"a;b c\"}\n");  // larger than 25 B, alone
}

TEST_F(ClickHouseClientTest, InsertRejectsBadTablesAndRowsBeforeSendingAnything) {
  ClickHouseClientPtr client = MakeClient();
  for (const char* table : {"", "t; DROP TABLE x", "a.b.c", ".t", "t.", "`t`"}) {
    EXPECT_EQ(client->InsertJsonEachRow(table, {"{}"}).code(), absl::StatusCode::kInvalidArgument)
        << table;
  }
  EXPECT_EQ(client->InsertJsonEachRow("t", {"{}", "{\"a\":\n1}"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->InsertJsonEachRow("t", {""}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(http_.requests.empty());
  EXPECT_TRUE(client->InsertJsonEachRow("t", {}).ok());  // nothing to send
  EXPECT_TRUE(http_.requests.empty());
}

TEST_F(ClickHouseClientTest, AnErrorCausedByTheStatementIsNotRetried) {
  ClickHouseClientPtr client = MakeClient();
  http_.Answer(500,
               "Code: 43, e.displayText() = DB::Exception: Illegal types UInt8 and String of "
               "arguments of function plus, e.what() = DB::Exception\n");
  const absl::Status s = client->Execute("SELECT 1 + 'a'");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClickHouseErrorCode(s), 43);
  EXPECT_TRUE(absl::StrContains(s.message(), "Illegal types UInt8 and String")) << s;
  EXPECT_EQ(http_.requests.size(), 1u);
  EXPECT_TRUE(clock_.waits.empty());
}

TEST_F(ClickHouseClientTest, TheExceptionCodeHeaderIsUsed) {
  ClickHouseClientPtr client = MakeClient({.max_attempts = 1});
  http_.Answer(500, "something", {{"X-ClickHouse-Exception-Code", "241"}});
  const absl::Status s = client->Execute("SELECT 1");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ClickHouseErrorCode(s), 241);
}

TEST_F(ClickHouseClientTest, TransientErrorsAreRetriedWithJitteredExponentialBackoff) {
  ClickHouseClientPtr client = MakeClient(
      {.max_attempts = 4, .retry_base = absl::Milliseconds(100), .retry_cap = absl::Seconds(5)});
  http_.Fail(absl::UnavailableError("connect: Connection refused"));
  http_.Answer(503, "<html>proxy</html>");
  http_.Answer(500,
               "Code: 252, e.displayText() = DB::Exception: Too many parts (300). Merges are "
               "processing significantly slower than inserts., e.what() = DB::Exception\n");
  http_.Answer(200, "1\n");
  absl::StatusOr<std::string> r = client->Query("SELECT 1", Format::kTabSeparated);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "1\n");
  EXPECT_EQ(http_.requests.size(), 4u);
  ASSERT_EQ(clock_.waits.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const absl::Duration full = absl::Milliseconds(100) * (1 << i);
    EXPECT_GE(clock_.waits[i], full / 2) << i;
    EXPECT_LE(clock_.waits[i], full) << i;
  }
}

TEST_F(ClickHouseClientTest, BackoffStopsGrowingAtTheCap) {
  ClickHouseClientPtr client = MakeClient(
      {.max_attempts = 6, .retry_base = absl::Seconds(1), .retry_cap = absl::Seconds(3)});
  for (int i = 0; i < 6; ++i) http_.Fail(absl::DeadlineExceededError("request timed out"));
  const absl::Status s = client->Execute("INSERT INTO t VALUES (1)");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "after 6 attempts")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "request timed out")) << s;
  ASSERT_EQ(clock_.waits.size(), 5u);
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_GE(clock_.waits[i], absl::Milliseconds(1500)) << i;
    EXPECT_LE(clock_.waits[i], absl::Seconds(3)) << i;
  }
}

TEST_F(ClickHouseClientTest, ARetriedClickHouseErrorKeepsItsCode) {
  ClickHouseClientPtr client = MakeClient({.max_attempts = 2});
  for (int i = 0; i < 2; ++i) {
    http_.Answer(500,
                 "Code: 202. DB::Exception: Too many simultaneous queries. Maximum: 100. "
                 "(TOO_MANY_SIMULTANEOUS_QUERIES) (version 24.3.1.1)\n");
  }
  const absl::Status s = client->Execute("SELECT 1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ClickHouseErrorCode(s), 202);
  EXPECT_EQ(http_.requests.size(), 2u);
}

TEST_F(ClickHouseClientTest, ThePasswordAppearsInNoUrlAndNoError) {
  ClickHouseClientPtr client =
      MakeClient({.user = "writer", .password = "pa ss&word", .max_attempts = 2});
  http_.Fail(absl::UnavailableError("connect: Connection refused"));
  http_.Answer(401,
               "Code: 193, e.displayText() = DB::Exception: Wrong password for user writer, "
               "e.what() = DB::Exception\n");
  const absl::Status s = client->Execute("SELECT 1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(absl::StrContains(s.message(), "pa ss")) << s;
  for (const Request& r : http_.requests) {
    EXPECT_FALSE(absl::StrContains(r.url, "pa")) << r.url;
    EXPECT_EQ(r.Header("X-ClickHouse-Key"), "pa ss&word");
  }
}

TEST_F(ClickHouseClientTest, CreateRejectsBadOptions) {
  EXPECT_EQ(ClickHouseClient::Create({.url = "http://h:1"}).status().code(),
            absl::StatusCode::kInvalidArgument);  // no http client
  for (const char* url :
       {"", "h:8123", "ftp://h", "http://", "http://h:1/db", "http://h/?a=b", "http://u:p@h"}) {
    EXPECT_EQ(ClickHouseClient::Create({.url = url, .http = &http_}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
  EXPECT_EQ(ClickHouseClient::Create({.url = "http://h:1", .max_attempts = 0, .http = &http_})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ClickHouseClient::Create({.url = "https://h:8443//", .http = &http_}).ok());
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
