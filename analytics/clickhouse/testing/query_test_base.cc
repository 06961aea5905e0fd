#include "analytics/clickhouse/testing/query_test_base.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_client.h"
#include "analytics/clickhouse/clickhouse_event_row.h"
#include "analytics/clickhouse/clickhouse_query_executor.h"
#include "analytics/clickhouse/clickhouse_schema.h"
#include "analytics/clickhouse/testing/chdb_session.h"
#include "analytics/clickhouse/testing/clickhouse_server.h"
#include "analytics/testing/drill_down_agreement.h"
#include "common/http_client.h"

namespace cohort::analytics::clickhouse::testing {
namespace {

// The store's schema (clickhouse_schema.h), single server, in this database.
const ClickHouseSchemaOptions kSchema{.database = "query_test"};

struct Engine {
  std::unique_ptr<ClickHouseServer> server;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<SqlExecutor> executor;
  const char* name = "18.16";
  uint64_t next_arrival = 1;
};

Engine* engine = nullptr;

bool UseChdb() {
  const char* e = std::getenv("COHORT_CLICKHOUSE_ENGINE");
  return e != nullptr && std::string_view(e) == "chdb";
}

void StartServer(Engine& e);

}  // namespace

void ClickHouseQueryTest::SetUpTestSuite() {
  if (engine != nullptr) return;
  auto e = std::make_unique<Engine>();
  if (UseChdb()) {
    absl::StatusOr<std::unique_ptr<ChdbSession>> session = ChdbSession::Start();
    ASSERT_TRUE(session.ok()) << session.status();
    e->executor = *std::move(session);
    e->name = "chdb";
  } else {
    StartServer(*e);
    if (::testing::Test::HasFatalFailure()) return;
  }
  absl::Status migrated = MigrateSchema(*e->executor, kSchema);
  ASSERT_TRUE(migrated.ok()) << migrated;
  engine = e.release();
}

namespace {

// Starts 18.16 and a client for it into `e` (a fatal test failure on an error).
void StartServer(Engine& e) {
  absl::StatusOr<ClickHouseServerPtr> server = ClickHouseServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  e.server = *std::move(server);
  absl::StatusOr<std::unique_ptr<HttpClient>> http =
      MakeHttpClient({.request_timeout = absl::Seconds(60), .max_response_bytes = 64 << 20});
  ASSERT_TRUE(http.ok()) << http.status();
  e.http = *std::move(http);
  absl::StatusOr<ClickHouseClientPtr> client =
      ClickHouseClient::Create({.url = e.server->url(), .max_attempts = 1, .http = e.http.get()});
  ASSERT_TRUE(client.ok()) << client.status();
  e.executor = *std::move(client);
}

}  // namespace

void ClickHouseQueryTest::TearDownTestSuite() {
  if (engine == nullptr) return;
  // The client before the server: its shutdown waits for idle keep-alive connections.
  engine->executor.reset();
  engine->http.reset();
  delete engine;
  engine = nullptr;
}

void ClickHouseQueryTest::SetUp() { ASSERT_NE(engine, nullptr) << "the engine did not start"; }

SqlExecutor& ClickHouseQueryTest::Sql() { return *engine->executor; }

const char* ClickHouseQueryTest::EngineName() { return engine->name; }

const std::string& ClickHouseQueryTest::Table() {
  static const std::string* table = new std::string(EventsTable(kSchema));
  return *table;
}

void ClickHouseQueryTest::Insert(const std::vector<Event>& events_in_arrival_order, int inserts) {
  std::vector<std::string> rows = EventRowsJson(events_in_arrival_order, engine->next_arrival);
  engine->next_arrival += rows.size();
  size_t per_insert = (rows.size() + inserts - 1) / std::max(inserts, 1);
  for (size_t from = 0; from < rows.size(); from += per_insert) {
    std::vector<std::string> part(rows.begin() + from,
                                  rows.begin() + std::min(rows.size(), from + per_insert));
    absl::Status status = engine->executor->InsertJsonEachRow(Table(), part);
    ASSERT_TRUE(status.ok()) << status;
  }
}

int ClickHouseQueryTest::ExpectDrillDownAgrees(const Query& query, const ReferenceEngine& reference,
                                               std::mt19937& rng) {
  return analytics::testing::ExpectDrillDownsAgree(
      query, reference,
      [&](CellRef cell, const std::string& after, int limit) {
        return DrillDown(query, cell, after, limit, Sql(), Table());
      },
      rng, /*cells=*/1, /*max_page_size=*/16);
}

}  // namespace cohort::analytics::clickhouse::testing
