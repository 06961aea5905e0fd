// The client and the fixtures against real engines: Debian's ClickHouse 18.16 started by
// ClickHouseServer and, in the *Chdb* cases, a current engine through chdb. Registered twice
// (CMakeLists.txt): clickhouse_integration_test without the chdb cases and
// clickhouse_chdb_integration_test with only them, which fails when COHORT_CHDB_PYTHON is unset.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analytics/clickhouse/clickhouse_client.h"
#include "analytics/clickhouse/clickhouse_error.h"
#include "analytics/clickhouse/testing/chdb.h"
#include "analytics/clickhouse/testing/clickhouse_server.h"
#include "common/http_client.h"
#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse::testing {
namespace {

constexpr int64_t kJan15 = 1705320000000;  // 2024-01-15 12:00:00 UTC, in ms
constexpr int64_t kDayMs = 86'400'000;

// The store's shape in small: milliseconds as Int64 (18.16 has no DateTime64), partitions by
// month of the event time, ordered for per-actor scans.
std::string CreateEvents(std::string_view table) {
  return absl::StrCat("CREATE TABLE ", std::string(table), R"( (
      project String,
      actor String,
      time_ms Int64,
      insert_id String,
      event_type String,
      props String
    ) ENGINE = MergeTree
    PARTITION BY toYYYYMM(toDateTime(intDiv(time_ms, 1000)))
    ORDER BY (project, actor, time_ms, insert_id))");
}

// JSONEachRow rows: `n` events spread over January to March 2024, two actors, three types.
std::vector<std::string> EventRows(int n) {
  std::vector<std::string> rows;
  for (int i = 0; i < n; ++i) {
    const int64_t t = kJan15 + (i % 3) * 31 * kDayMs + i * 1000;
    rows.push_back(absl::StrCat(R"({"project":"p","actor":"a)", i % 2, R"(","time_ms":)", t,
                                R"(,"insert_id":"id)", i, R"(","event_type":")",
                                (i % 3 == 0   ? "open"
                                 : i % 3 == 1 ? "click"
                                              : "buy"),
                                R"(","props":"{\"i\":)", i, R"(}"})"));
  }
  return rows;
}

class ClickHouseIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<ClickHouseServerPtr> s =
        ClickHouseServer::Start({.users = {{.name = "writer", .password = "w&r<i>t'e\"r pw"}}});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = s->release();
    std::printf("ClickHouse 18.16 started in %s at %s\n",
                absl::FormatDuration(server_->startup_time()).c_str(), server_->url().c_str());
    absl::StatusOr<std::unique_ptr<HttpClient>> http =
        MakeHttpClient({.request_timeout = absl::Seconds(30), .max_response_bytes = 16 << 20});
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = http->release();
  }
  static void TearDownTestSuite() {
    // The client first: the server's shutdown waits for idle keep-alive connections.
    delete http_;
    http_ = nullptr;
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not start"; }

  ClickHouseClientPtr Client(ClickHouseClientOptions options = {}) {
    options.url = server_->url();
    options.http = http_;
    absl::StatusOr<ClickHouseClientPtr> c = ClickHouseClient::Create(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  // Runs all but the last statement with Execute, the last with Query in TabSeparated.
  absl::StatusOr<std::string> RunOnServer(const std::vector<std::string>& statements) {
    ClickHouseClientPtr client = Client();
    for (size_t i = 0; i + 1 < statements.size(); ++i) {
      if (absl::Status s = client->Execute(statements[i]); !s.ok()) return s;
    }
    return client->Query(statements.back(), Format::kTabSeparated);
  }

  static ClickHouseServer* server_;
  static HttpClient* http_;
};

ClickHouseServer* ClickHouseIntegrationTest::server_ = nullptr;
HttpClient* ClickHouseIntegrationTest::http_ = nullptr;

TEST(ClickHouseServerTest, StartsAnswersAndStopsCleanly) {
  absl::StatusOr<ClickHouseServerPtr> s = ClickHouseServer::Start();
  ASSERT_TRUE(s.ok()) << s.status();
  ClickHouseServerPtr server = *std::move(s);
  std::printf("started in %s\n", absl::FormatDuration(server->startup_time()).c_str());
  EXPECT_TRUE(server->Running());
  EXPECT_TRUE(PingClickHouse(server->http_port(), absl::Seconds(5)));
  EXPECT_EQ(server->url(), absl::StrCat("http://127.0.0.1:", server->http_port()));
  EXPECT_NE(server->http_port(), server->tcp_port());
  const std::string dir = server->dir();
  const int port = server->http_port();
  struct stat st;
  ASSERT_EQ(stat((dir + "/data").c_str(), &st), 0);
  server.reset();
  EXPECT_FALSE(PingClickHouse(port, absl::Seconds(1)));
  EXPECT_NE(stat(dir.c_str(), &st), 0) << dir << " was not removed";
}

TEST(ClickHouseServerTest, AServerThatCannotStartIsAnErrorWithItsLog) {
  // A time zone 18.16 does not know makes it exit at start.
  absl::StatusOr<ClickHouseServerPtr> s = ClickHouseServer::Start({.timezone = "Nowhere/City"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "exited before answering")) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "Nowhere/City")) << s.status();
}

TEST(ClickHouseServerTest, AMissingBinaryIsNotFound) {
  EXPECT_EQ(ClickHouseServer::Start({.binary = "/nonexistent/clickhouse-server"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ClickHouseIntegrationTest, MergeTreeByMonthInsertQueryAndDropPartition) {
  ClickHouseClientPtr client = Client({.max_insert_bytes = 2000});  // several requests
  ASSERT_TRUE(client->Execute(CreateEvents("events_month")).ok());
  const std::vector<std::string> rows = EventRows(90);
  ASSERT_TRUE(client->InsertJsonEachRow("default.events_month", rows).ok());

  absl::StatusOr<std::string> parts = client->Query(
      "SELECT partition, sum(rows) FROM system.parts WHERE table = 'events_month' AND active "
      "GROUP BY partition ORDER BY partition",
      Format::kTabSeparated);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(*parts, "202401\t30\n202402\t30\n202403\t30\n");

  absl::StatusOr<std::string> per_type = client->Query(
      "SELECT event_type, count(), uniqExact(actor), min(time_ms) FROM events_month "
      "GROUP BY event_type ORDER BY event_type",
      Format::kTabSeparated);
  ASSERT_TRUE(per_type.ok()) << per_type.status();
  EXPECT_EQ(*per_type,
            absl::StrCat("buy\t30\t2\t", kJan15 + 62 * kDayMs + 2000, "\n", "click\t30\t2\t",
                         kJan15 + 31 * kDayMs + 1000, "\n", "open\t30\t2\t", kJan15, "\n"));

  absl::StatusOr<std::string> each =
      client->Query("SELECT insert_id, time_ms, props FROM events_month ORDER BY time_ms LIMIT 2",
                    Format::kJsonEachRow);
  ASSERT_TRUE(each.ok()) << each.status();
  // 64-bit integers come quoted in JSON formats (output_format_json_quote_64bit_integers).
  EXPECT_EQ(*each,
            absl::StrCat(R"({"insert_id":"id0","time_ms":")", kJan15, R"(","props":"{\"i\":0}"})",
                         "\n", R"({"insert_id":"id3","time_ms":")", kJan15 + 3000,
                         R"(","props":"{\"i\":3}"})", "\n"));

  absl::StatusOr<std::string> compact =
      client->Query("SELECT count() AS n FROM events_month", Format::kJsonCompact);
  ASSERT_TRUE(compact.ok()) << compact.status();
  EXPECT_TRUE(absl::StrContains(*compact, R"(["90"])")) << *compact;

  ASSERT_TRUE(client->Execute("ALTER TABLE events_month DROP PARTITION 202402").ok());
  absl::StatusOr<std::string> left = client->Query(
      "SELECT toYYYYMM(toDateTime(intDiv(time_ms, 1000))) AS m, count() FROM events_month "
      "GROUP BY m ORDER BY m",
      Format::kTabSeparated);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, "202401\t30\n202403\t30\n");
}

TEST_F(ClickHouseIntegrationTest, ErrorsAreMappedWithTheirCodes) {
  ClickHouseClientPtr client = Client({.max_attempts = 1});
  struct Case {
    std::string sql;
    int code;
    absl::StatusCode status;
  };
  ASSERT_TRUE(client->Execute("CREATE TABLE errs (a Int64) ENGINE = MergeTree ORDER BY a").ok());
  const Case cases[] = {
      {"SELEC 1", 62, absl::StatusCode::kInvalidArgument},
      {"SELECT * FROM no_such_table", 60, absl::StatusCode::kInvalidArgument},
      {"SELECT no_such_column FROM errs", 47, absl::StatusCode::kInvalidArgument},
      {"SELECT no_such_function(1)", 46, absl::StatusCode::kInvalidArgument},
      {"SELECT 1 + 'a'", 43, absl::StatusCode::kInvalidArgument},
      {"CREATE TABLE errs (a Int64) ENGINE = MergeTree ORDER BY a", 57,
       absl::StatusCode::kAlreadyExists},
  };
  for (const Case& c : cases) {
    const absl::Status s = client->Execute(c.sql);
    EXPECT_EQ(s.code(), c.status) << c.sql << ": " << s;
    EXPECT_EQ(ClickHouseErrorCode(s), c.code) << c.sql << ": " << s;
  }
  const absl::Status setting = client->Execute("SELECT 1", {{"no_such_setting", "1"}});
  EXPECT_EQ(setting.code(), absl::StatusCode::kInvalidArgument) << setting;
  EXPECT_EQ(ClickHouseErrorCode(setting), 115);

  const absl::Status bad_row = client->InsertJsonEachRow("errs", {R"({"a":"zz"})"});
  EXPECT_EQ(bad_row.code(), absl::StatusCode::kInvalidArgument) << bad_row;
  EXPECT_EQ(ClickHouseErrorCode(bad_row), 27);
}

TEST_F(ClickHouseIntegrationTest, AnErrorWhileStreamingTheAnswerIsAnErrorNotATruncatedBody) {
  ClickHouseClientPtr client = Client();
  absl::StatusOr<std::string> r =
      client->Query("SELECT throwIf(number = 3) FROM system.numbers LIMIT 10",
                    Format::kTabSeparated, {{"max_block_size", "1"}});
  ASSERT_FALSE(r.ok()) << *r;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_EQ(ClickHouseErrorCode(r.status()), 395);
}

TEST_F(ClickHouseIntegrationTest, CredentialsGoInHeaders) {
  const std::string password = "w&r<i>t'e\"r pw";
  ClickHouseClientPtr writer = Client({.user = "writer", .password = password});
  // 18.16 has no currentUser(): the running query finds itself in system.processes.
  absl::StatusOr<std::string> who = writer->Query(
      "SELECT user FROM system.processes WHERE query LIKE '%marker-7%'", Format::kTabSeparated);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(*who, "writer\n");

  ClickHouseClientPtr wrong = Client({.user = "writer", .password = "not it", .max_attempts = 3});
  const absl::Status s = wrong->Execute("SELECT 1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_EQ(ClickHouseErrorCode(s), 193);
  EXPECT_FALSE(absl::StrContains(s.message(), "not it")) << s;

  ClickHouseClientPtr unknown = Client({.user = "nobody"});
  EXPECT_EQ(unknown->Execute("SELECT 1").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(ClickHouseIntegrationTest, DatabaseOptionSelectsTheDatabase) {
  ASSERT_TRUE(Client()->Execute("CREATE DATABASE IF NOT EXISTS cohort_db").ok());
  ClickHouseClientPtr client = Client({.database = "cohort_db"});
  ASSERT_TRUE(client->Execute("CREATE TABLE t (a Int64) ENGINE = MergeTree ORDER BY a").ok());
  ASSERT_TRUE(client->InsertJsonEachRow("t", {R"({"a":7})"}).ok());
  absl::StatusOr<std::string> r =
      Client()->Query("SELECT a FROM cohort_db.t", Format::kTabSeparated);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "7\n");
  EXPECT_EQ(ClickHouseErrorCode(Client({.database = "no_such_db"})->Execute("SELECT 1")), 81);
}

TEST_F(ClickHouseIntegrationTest, AnUnreachableServerIsUnavailableAfterRetries) {
  // A server that has stopped: its port refuses connections.
  absl::StatusOr<ClickHouseServerPtr> s = ClickHouseServer::Start();
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string url = (*s)->url();
  s->reset();
  absl::StatusOr<ClickHouseClientPtr> client = ClickHouseClient::Create(
      {.url = url, .max_attempts = 3, .retry_base = absl::Milliseconds(1), .http = http_});
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Status status = (*client)->Execute("SELECT 1");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "after 3 attempts")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), url)) << status;
}

// The same statements on 18.16 and on chdb's current engine give the same TabSeparated answer.
// README.md lists what differs between the two and how the SQL here avoids it.
TEST_F(ClickHouseIntegrationTest, ChdbSameCreateInsertSelectGiveTheSameAnswer) {
  const std::vector<std::string> rows = EventRows(30);
  const std::vector<std::vector<std::string>> scripts = {
      {CreateEvents("events_cmp"),
       absl::StrCat("INSERT INTO events_cmp FORMAT JSONEachRow\n", absl::StrJoin(rows, "\n")),
       "SELECT toYYYYMM(toDateTime(intDiv(time_ms, 1000))) AS m, event_type, count(), "
       "uniqExact(actor), min(time_ms), max(insert_id) FROM events_cmp GROUP BY m, event_type "
       "ORDER BY m, event_type"},
      // Per-actor ordered arrays, the funnel building block (no windowFunnel on 18.16 data).
      {CreateEvents("events_arr"),
       absl::StrCat("INSERT INTO events_arr FORMAT JSONEachRow\n", absl::StrJoin(rows, "\n")),
       "SELECT actor, arrayMap(x -> x.2, arraySort(x -> (x.1, x.3), groupArray((time_ms, "
       "event_type, insert_id)))) AS path, length(path) FROM events_arr GROUP BY actor "
       "ORDER BY actor"},
      // Day buckets computed in C++ and passed in as boundaries (ms), counted with arrays.
      {CreateEvents("events_days"),
       absl::StrCat("INSERT INTO events_days FORMAT JSONEachRow\n", absl::StrJoin(rows, "\n")),
       absl::StrCat("SELECT bucket, uniqExact(actor) FROM events_days ARRAY JOIN [",
                    kJan15 - kDayMs / 2, ", ", kJan15 + 31 * kDayMs - kDayMs / 2,
                    "] AS start, [0, 1] AS bucket WHERE time_ms >= start AND time_ms < start + ",
                    kDayMs, " GROUP BY bucket ORDER BY bucket")},
  };
  for (const std::vector<std::string>& script : scripts) {
    absl::StatusOr<std::string> on_server = RunOnServer(script);
    ASSERT_TRUE(on_server.ok()) << script.back() << ": " << on_server.status();
    absl::StatusOr<std::string> on_chdb = RunOnChdb(script);
    ASSERT_TRUE(on_chdb.ok()) << script.back() << ": " << on_chdb.status();
    EXPECT_FALSE(on_server->empty()) << script.back();
    EXPECT_EQ(*on_chdb, *on_server) << script.back();
  }
}

// 18.16 quotes 64-bit integers in JSON output, current engines do not, unless told.
TEST_F(ClickHouseIntegrationTest, ChdbJsonQuotesBigIntegersOnlyWhenToldTo) {
  const std::string sql = "SELECT count() AS c, toInt64(-1) AS i, toUInt32(3) AS u, 0.5 AS f";
  absl::StatusOr<std::string> server = Client()->Query(sql, Format::kJsonEachRow);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(*server, R"({"c":"1","i":"-1","u":3,"f":0.5})"
                     "\n");
  absl::StatusOr<std::string> chdb = RunOnChdb({sql}, Format::kJsonEachRow);
  ASSERT_TRUE(chdb.ok()) << chdb.status();
  EXPECT_EQ(*chdb, R"({"c":1,"i":-1,"u":3,"f":0.5})"
                   "\n");
  // The setting that makes both agree (for the store: ClickHouseClientOptions::settings).
  const std::string quoted = sql + " SETTINGS output_format_json_quote_64bit_integers = 1";
  absl::StatusOr<std::string> chdb_quoted = RunOnChdb({quoted}, Format::kJsonEachRow);
  ASSERT_TRUE(chdb_quoted.ok()) << chdb_quoted.status();
  EXPECT_EQ(*chdb_quoted, *server);
  absl::StatusOr<std::string> server_quoted =
      Client({.settings = {{"output_format_json_quote_64bit_integers", "1"}}})
          ->Query(sql, Format::kJsonEachRow);
  ASSERT_TRUE(server_quoted.ok()) << server_quoted.status();
  EXPECT_EQ(*server_quoted, *server);
}

TEST_F(ClickHouseIntegrationTest, ChdbErrorsCarryTheirCodes) {
  absl::StatusOr<std::string> r = RunOnChdb({"SELEC 1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_EQ(ClickHouseErrorCode(r.status()), 62);
  absl::StatusOr<std::string> json = RunOnChdb({"SELECT 1 AS x"}, Format::kJsonEachRow);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, "{\"x\":1}\n");
}

}  // namespace
}  // namespace cohort::analytics::clickhouse::testing
