// The store's write side (schema, rows, writer, deletion, retention) against real engines: Debian's
// ClickHouse 18.16 (ClickHouseServer) or, with COHORT_STORE_ENGINE=chdb, a current engine in a
// ChdbSession — the same statements. Registered twice (CMakeLists.txt); the chdb registration
// leaves out the *OnServer* cases (several clients at once, a cluster), and fails, never skips,
// without COHORT_CHDB_PYTHON.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "analytics/clickhouse/clickhouse_client.h"
#include "analytics/clickhouse/clickhouse_deletion.h"
#include "analytics/clickhouse/clickhouse_event_row.h"
#include "analytics/clickhouse/clickhouse_retention.h"
#include "analytics/clickhouse/clickhouse_schema.h"
#include "analytics/clickhouse/clickhouse_sql.h"
#include "analytics/clickhouse/clickhouse_writer.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/clickhouse/testing/chdb_session.h"
#include "analytics/clickhouse/testing/clickhouse_server.h"
#include "analytics/model/event.h"
#include "analytics/model/property_value.h"
#include "analytics/testing/random_events.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse::testing {
namespace {

bool UseChdb() {
  const char* engine = std::getenv("COHORT_STORE_ENGINE");
  return engine != nullptr && std::string(engine) == "chdb";
}

// Lines of TabSeparated output split into fields (no unescaping: tests select hex() for strings).
std::vector<std::vector<std::string>> Rows(const std::string& tsv) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(tsv, '\n', absl::SkipEmpty())) {
    rows.push_back(absl::StrSplit(line, '\t'));
  }
  return rows;
}

// "['6162','']" (an Array of hex() strings) → the strings.
std::vector<std::string> HexArray(absl::string_view text) {
  std::vector<std::string> out;
  text = absl::StripPrefix(absl::StripSuffix(text, "]"), "[");
  if (text.empty()) return out;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    out.push_back(absl::HexStringToBytes(absl::StripSuffix(absl::StripPrefix(item, "'"), "'")));
  }
  return out;
}

// "[1,2.5,nan]" → the numbers.
std::vector<double> NumberArray(absl::string_view text) {
  std::vector<double> out;
  text = absl::StripPrefix(absl::StripSuffix(text, "]"), "[");
  if (text.empty()) return out;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    if (item == "nan") {
      out.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    double d = 0;
    EXPECT_TRUE(absl::SimpleAtod(item, &d)) << item;
    out.push_back(d);
  }
  return out;
}

class ClickHouseStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (UseChdb()) {
      absl::StatusOr<std::unique_ptr<ChdbSession>> s = ChdbSession::Start();
      ASSERT_TRUE(s.ok()) << s.status();
      chdb_ = s->release();
      return;
    }
    absl::StatusOr<ClickHouseServerPtr> s =
        ClickHouseServer::Start({.extra_config = R"(<remote_servers><one_shard><shard><replica>
            <host>127.0.0.1</host><port>{tcp_port}</port>
          </replica></shard></one_shard></remote_servers>)"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = s->release();
    std::printf("ClickHouse 18.16 started in %s at %s\n",
                absl::FormatDuration(server_->startup_time()).c_str(), server_->url().c_str());
    absl::StatusOr<std::unique_ptr<HttpClient>> http =
        MakeHttpClient({.request_timeout = absl::Seconds(60), .max_response_bytes = 64 << 20});
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = http->release();
    absl::StatusOr<ClickHouseClientPtr> client = NewClient();
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = client->release();
  }
  static void TearDownTestSuite() {
    delete chdb_;
    chdb_ = nullptr;
    delete client_;
    client_ = nullptr;
    delete http_;  // before the server: its shutdown waits for idle keep-alive connections
    http_ = nullptr;
    delete server_;
    server_ = nullptr;
  }
  static absl::StatusOr<ClickHouseClientPtr> NewClient(Settings settings = {}) {
    return ClickHouseClient::Create(
        {.url = server_->url(), .settings = std::move(settings), .max_attempts = 1, .http = http_});
  }

  void SetUp() override {
    ASSERT_TRUE(chdb_ != nullptr || client_ != nullptr) << "no engine started";
    // A database per test, so tests do not see each other's rows.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    options_.database = absl::StrCat("t_", name);
  }

  static SqlExecutor& db() {
    if (chdb_ != nullptr) return *chdb_;
    return *client_;
  }

  std::string Tsv(const std::string& sql) {
    absl::StatusOr<std::string> r = db().Query(sql, Format::kTabSeparated);
    EXPECT_TRUE(r.ok()) << r.status() << "\n" << sql;
    return r.ok() ? *r : "";
  }
  void Migrate() { ASSERT_TRUE(MigrateSchema(db(), options_).ok()); }
  void Insert(const std::vector<std::string>& rows) {
    absl::Status st = db().InsertJsonEachRow(EventsTable(options_), rows);
    ASSERT_TRUE(st.ok()) << st;
  }
  int64_t Count(const std::string& where = "1") {
    int64_t n = -1;
    EXPECT_TRUE(absl::SimpleAtoi(
        absl::StripAsciiWhitespace(
            Tsv(absl::StrCat("SELECT count() FROM ", EventsTable(options_), " WHERE ", where))),
        &n));
    return n;
  }

  static ClickHouseServer* server_;
  static HttpClient* http_;
  static ClickHouseClient* client_;
  static ChdbSession* chdb_;
  ClickHouseSchemaOptions options_;
};

ClickHouseServer* ClickHouseStoreTest::server_ = nullptr;
HttpClient* ClickHouseStoreTest::http_ = nullptr;
ClickHouseClient* ClickHouseStoreTest::client_ = nullptr;
ChdbSession* ClickHouseStoreTest::chdb_ = nullptr;

TEST_F(ClickHouseStoreTest, SqlStringRoundTripsAnyBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::vector<std::string> samples = {
      "", "plain", "it's", R"(a\b)", R"(\')", "\xc3\xa9\xe2\x82\xac", all, "\\x41"};
  for (const std::string& s : samples) {
    EXPECT_EQ(Tsv(absl::StrCat("SELECT hex(", SqlString(s), ") AS h")),
              absl::StrCat(absl::AsciiStrToUpper(absl::BytesToHexString(s)), "\n"))
        << absl::CHexEscape(s);
    EXPECT_EQ(Tsv(absl::StrCat("SELECT length(", SqlString(s), ") AS n")),
              absl::StrCat(s.size(), "\n"));
  }
  EXPECT_EQ(Tsv(absl::StrCat("SELECT toString(", SqlInt(std::numeric_limits<int64_t>::min()),
                             ") AS a, toString(", SqlInt(std::numeric_limits<int64_t>::max()),
                             ") AS b, toString(", SqlInt(-5), ") AS c")),
            "-9223372036854775808\t9223372036854775807\t-5\n");
}

// An event with every kind of property and awkward bytes everywhere.
Event AwkwardEvent() {
  Event e;
  e.project = "p'\\\"\t\n";
  e.event_type = "t\x01\xff";
  e.user_id = "u\xc3\xa9";
  e.device_id = std::string("d\0x", 3);
  e.time_ms = -1234;
  e.insert_id = "i'1";
  e.session_id = 1700000000000;
  e.event_properties = {{"null", PropertyValue::Null()},
                        {"t", PropertyValue::Bool(true)},
                        {"f", PropertyValue::Bool(false)},
                        {"num", PropertyValue::Number(0.1)},
                        {"big", PropertyValue::Number(1e300)},
                        {"neg", PropertyValue::Number(-123456789.125)},
                        {"int", PropertyValue::Number(9007199254740993.0)},
                        {"s_num", PropertyValue::String("-1.5e3")},
                        {"s_pad", PropertyValue::String(" 1")},
                        {"s_text", PropertyValue::String("x\"y\\z\n\xe2\x82\xac")},
                        {"s_empty", PropertyValue::String("")},
                        {"obj", PropertyValue::Json(R"({"a":[1,"b"]})")},
                        {"arr", PropertyValue::Json("[]")},
                        {"\xe2\x82\xac key", PropertyValue::String("nan")}};
  e.user_properties = {{"$set", PropertyValue::Json(R"({"plan":"pro"})")},
                       {"n", PropertyValue::Number(3)}};
  return e;
}

// Every row of the events table read back, by arrival, compared with the events inserted.
void ExpectStoredEqual(ClickHouseStoreTest* t, SqlExecutor& db, const std::string& table,
                       const std::vector<Event>& events, uint64_t first_arrival) {
  absl::StatusOr<std::string> tsv = db.Query(
      absl::StrCat("SELECT hex(project), group_is_user, hex(group_id), hex(user_id), "
                   "hex(device_id), time_ms, hex(insert_id), hex(event_type), has_session, "
                   "session_id, arrayMap(x -> hex(x), prop_keys) AS k, prop_kinds, "
                   "arrayMap(x -> hex(x), prop_strings) AS s, prop_numbers, "
                   "hex(event_properties), hex(user_properties), arrival FROM ",
                   table, " ORDER BY arrival"),
      Format::kTabSeparated);
  ASSERT_TRUE(tsv.ok()) << tsv.status();
  const std::vector<std::vector<std::string>> rows = Rows(*tsv);
  ASSERT_EQ(rows.size(), events.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::vector<std::string>& r = rows[i];
    const Event& e = events[i];
    ASSERT_EQ(r.size(), 17u);
    auto bytes = [](const std::string& hex) { return absl::HexStringToBytes(hex); };
    SCOPED_TRACE(absl::StrCat("row ", i, " insert_id ", absl::CHexEscape(e.insert_id)));
    EXPECT_EQ(bytes(r[0]), e.project);
    EXPECT_EQ(r[1], e.user_id.empty() ? "0" : "1");
    EXPECT_EQ(bytes(r[2]), e.user_id.empty() ? e.device_id : e.user_id);
    EXPECT_EQ(bytes(r[3]), e.user_id);
    EXPECT_EQ(bytes(r[4]), e.device_id);
    EXPECT_EQ(r[5], absl::StrCat(e.time_ms));
    EXPECT_EQ(bytes(r[6]), e.insert_id);
    EXPECT_EQ(bytes(r[7]), e.event_type);
    EXPECT_EQ(r[8], e.session_id.has_value() ? "1" : "0");
    EXPECT_EQ(r[9], absl::StrCat(e.session_id.value_or(0)));
    // The prop_* arrays, against the schema's definition.
    std::map<std::string, PropertyValue> sorted(e.event_properties.begin(),
                                                e.event_properties.end());
    const std::vector<std::string> keys = HexArray(r[10]);
    const std::vector<std::string> kinds = absl::StrSplit(
        absl::StripPrefix(absl::StripSuffix(r[11], "]"), "["), ',', absl::SkipEmpty());
    const std::vector<std::string> strings = HexArray(r[12]);
    const std::vector<double> numbers = NumberArray(r[13]);
    ASSERT_EQ(keys.size(), sorted.size());
    ASSERT_EQ(kinds.size(), sorted.size());
    ASSERT_EQ(strings.size(), sorted.size());
    ASSERT_EQ(numbers.size(), sorted.size());
    size_t k = 0;
    for (const auto& [key, v] : sorted) {
      EXPECT_EQ(keys[k], key);
      EXPECT_EQ(kinds[k], absl::StrCat(static_cast<int>(v.kind())));
      switch (v.kind()) {
        case PropertyValue::Kind::kNull:
          EXPECT_EQ(strings[k], "");
          EXPECT_EQ(numbers[k], 0);
          break;
        case PropertyValue::Kind::kBool:
          EXPECT_EQ(strings[k], v.boolean() ? "true" : "false");
          EXPECT_EQ(numbers[k], 0);
          break;
        case PropertyValue::Kind::kNumber:
          EXPECT_EQ(strings[k], "");
          EXPECT_EQ(numbers[k], v.number()) << key;
          break;
        case PropertyValue::Kind::kString:
          EXPECT_EQ(strings[k], v.text());
          if (std::optional<double> n = NumericValue(v)) {
            EXPECT_EQ(numbers[k], *n) << key;
          } else {
            EXPECT_TRUE(std::isnan(numbers[k])) << key << " " << numbers[k];
          }
          break;
        case PropertyValue::Kind::kJson:
          EXPECT_EQ(strings[k], v.text());
          EXPECT_EQ(numbers[k], 0);
          break;
      }
      ++k;
    }
    absl::StatusOr<Properties> event_properties = ParseProperties(bytes(r[14]));
    ASSERT_TRUE(event_properties.ok()) << event_properties.status();
    EXPECT_EQ(*event_properties, e.event_properties);
    absl::StatusOr<Properties> user_properties = ParseProperties(bytes(r[15]));
    ASSERT_TRUE(user_properties.ok()) << user_properties.status();
    EXPECT_EQ(*user_properties, e.user_properties);
    EXPECT_EQ(r[16], absl::StrCat(first_arrival + i));
  }
  (void)t;
}

TEST_F(ClickHouseStoreTest, RowsRoundTrip) {
  Migrate();
  std::vector<Event> events = {AwkwardEvent()};
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::vector<Event> more = analytics::testing::RandomEvents(seed, {.events = 150});
    events.insert(events.end(), more.begin(), more.end());
  }
  const uint64_t first = (uint64_t{1} << 62) + 5;  // large arrivals survive (UInt64)
  Insert(EventRowsJson(events, first));
  ExpectStoredEqual(this, db(), EventsTable(options_), events, first);
}

TEST_F(ClickHouseStoreTest, NanMarksStringsWithoutANumericValue) {
  Migrate();
  Event e = AwkwardEvent();
  Insert({EventRowJson(e, 1)});
  // isNaN tells the strings without a numeric value; comparisons with NaN are false.
  EXPECT_EQ(Tsv(absl::StrCat("SELECT arrayFilter((k, n) -> isNaN(n), prop_keys, prop_numbers) AS a,"
                             " arrayFilter((k, n) -> n > 1000, prop_keys, prop_numbers) AS b FROM ",
                             EventsTable(options_))),
            "['s_empty','s_pad','s_text','\xe2\x82\xac key']\t['big','int']\n");
}

// The same insert_id resent later at another time: the query-time dedup keeps the first copy by
// arrival, whatever order the copies were inserted in.
TEST_F(ClickHouseStoreTest, DedupKeepsTheFirstArrival) {
  Migrate();
  Event a;
  a.project = "p";
  a.event_type = "open";
  a.user_id = "u";
  a.device_id = "d";
  a.time_ms = 1'700'000'000'000;
  a.insert_id = "a";
  Event b = a;
  b.insert_id = "b";
  b.time_ms += 10;
  Event a_later = a;  // resent a day later with another time and type
  a_later.time_ms += 86'400'000;
  a_later.event_type = "close";
  Event a_device = a;  // the same insert_id in another group is another event
  a_device.user_id = "";
  a_device.time_ms += 5;
  // The later copy is inserted first, with a larger arrival.
  Insert({EventRowJson(a_later, 100), EventRowJson(a_device, 101)});
  Insert({EventRowJson(a, 10), EventRowJson(b, 11)});
  Insert({EventRowJson(b, 200)});
  EXPECT_EQ(Count(), 5);
  EXPECT_EQ(
      Tsv(absl::StrCat("SELECT group_is_user, group_id, insert_id, argMin(time_ms, arrival) AS t, "
                       "argMin(event_type, arrival) AS type, count() AS copies FROM ",
                       EventsTable(options_),
                       " WHERE project = 'p' GROUP BY group_is_user, group_id, insert_id"
                       " ORDER BY group_is_user, group_id, insert_id")),
      absl::StrCat("0\td\ta\t", a.time_ms + 5, "\topen\t1\n",  //
                   "1\tu\ta\t", a.time_ms, "\topen\t2\n",      //
                   "1\tu\tb\t", b.time_ms, "\topen\t2\n"));
}

TEST_F(ClickHouseStoreTest, MigrationsAreIdempotent) {
  ASSERT_TRUE(MigrateSchema(db(), options_).ok());
  ASSERT_TRUE(MigrateSchema(db(), options_).ok());
  absl::StatusOr<std::vector<uint32_t>> versions = AppliedSchemaVersions(db(), options_);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(*versions, (std::vector<uint32_t>{1, kSchemaVersion}));
  EXPECT_EQ(Tsv(absl::StrCat("SELECT count() FROM ", options_.database, ".schema_migrations")),
            "2\n");
  EXPECT_EQ(Tsv(absl::StrCat("SELECT name, engine FROM system.tables WHERE database = ",
                             SqlString(options_.database), " ORDER BY name")),
            "events\tMergeTree\nschema_migrations\tMergeTree\n");
  EXPECT_EQ(MigrateSchema(db(), {.database = "bad-name"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MigrateSchema(db(), {.database = "ok", .cluster = "x'y"}).code(),
            absl::StatusCode::kInvalidArgument);
}

// A database at version 1, with version 2 interrupted after its first column (a crash between
// two ALTERs): the migration adds the other columns, and the old rows read empty ones.
TEST_F(ClickHouseStoreTest, MigratesAVersionOneTable) {
  const std::string db_name = options_.database;
  ASSERT_TRUE(db().Execute(absl::StrCat("CREATE DATABASE IF NOT EXISTS ", db_name)).ok());
  ASSERT_TRUE(db().Execute(absl::StrCat("CREATE TABLE ", db_name,
                                        ".schema_migrations (version UInt32, applied_ms Int64)"
                                        " ENGINE = MergeTree ORDER BY version"))
                  .ok());
  ASSERT_TRUE(
      db().Execute(absl::StrCat("INSERT INTO ", db_name, ".schema_migrations VALUES (1, 0)")).ok());
  ASSERT_TRUE(db().Execute(absl::StrCat(
                               "CREATE TABLE ", db_name,
                               ".events (project String, group_is_user UInt8, group_id String,"
                               " user_id String, device_id String, time_ms Int64, insert_id String,"
                               " event_type String, has_session UInt8, session_id Int64,"
                               " prop_keys Array(String), prop_kinds Array(UInt8),"
                               " prop_strings Array(String), prop_numbers Array(Float64),"
                               " event_properties String, user_properties String, arrival UInt64,"
                               " uop_clear UInt8) ENGINE = MergeTree ORDER BY (project, time_ms)"))
                  .ok());
  ASSERT_TRUE(db().Execute(absl::StrCat("INSERT INTO ", db_name,
                                        ".events (project, insert_id, user_id) VALUES"
                                        " ('p', 'old', 'u')"))
                  .ok());
  absl::Status migrated = MigrateSchema(db(), options_);
  ASSERT_TRUE(migrated.ok()) << migrated;
  absl::StatusOr<std::vector<uint32_t>> versions = AppliedSchemaVersions(db(), options_);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(*versions, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(Tsv(absl::StrCat("SELECT uop_clear, uop_keys, uop_adds FROM ", db_name,
                             ".events WHERE insert_id = 'old'")),
            "0\t[]\t[]\n");
  // New rows carry the columns.
  Event identify = analytics::testing::RandomEvents(1, {.events = 1})[0];
  identify.event_type = "$identify";
  identify.user_properties = {{"$set", PropertyValue::Json(R"({"plan":"pro"})")}};
  Insert({EventRowJson(identify, 5)});
  EXPECT_EQ(Tsv(absl::StrCat("SELECT uop_keys, uop_codes, uop_strings FROM ", db_name,
                             ".events WHERE insert_id != 'old'")),
            "['plan']\t[2]\t['pro']\n");
}

TEST_F(ClickHouseStoreTest, ConcurrentMigrationsBothSucceedOnServer) {
  for (int round = 0; round < 3; ++round) {
    options_.database = absl::StrCat("t_concurrent_", round);
    std::vector<absl::Status> results(4);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < results.size(); ++i) {
      threads.emplace_back([&, i] {
        absl::StatusOr<ClickHouseClientPtr> client = NewClient();
        results[i] = client.ok() ? MigrateSchema(**client, options_) : client.status();
      });
    }
    for (std::thread& t : threads) t.join();
    for (const absl::Status& st : results) EXPECT_TRUE(st.ok()) << st;
    absl::StatusOr<std::vector<uint32_t>> versions = AppliedSchemaVersions(db(), options_);
    ASSERT_TRUE(versions.ok()) << versions.status();
    EXPECT_EQ(*versions, (std::vector<uint32_t>{1, kSchemaVersion}));
    const std::vector<Event> events = analytics::testing::RandomEvents(7, {.events = 20});
    Insert(EventRowsJson(events, 1));
    EXPECT_EQ(Count(), static_cast<int64_t>(events.size()));
  }
}

// With a cluster (one shard: this same server), events is a Distributed table over events_local.
TEST_F(ClickHouseStoreTest, DistributedSchemaOnServer) {
  options_.cluster = "one_shard";
  ASSERT_TRUE(MigrateSchema(db(), options_).ok());
  ASSERT_TRUE(MigrateSchema(db(), options_).ok());
  EXPECT_EQ(Tsv(absl::StrCat("SELECT name, engine FROM system.tables WHERE database = ",
                             SqlString(options_.database), " ORDER BY name")),
            "events\tDistributed\nevents_local\tMergeTree\nschema_migrations\tMergeTree\n");
  absl::StatusOr<ClickHouseClientPtr> sync = NewClient({{"insert_distributed_sync", "1"}});
  ASSERT_TRUE(sync.ok()) << sync.status();
  std::vector<Event> events = analytics::testing::RandomEvents(4, {.events = 60});
  ASSERT_TRUE((*sync)->InsertJsonEachRow(EventsTable(options_), EventRowsJson(events, 1)).ok());
  ExpectStoredEqual(this, db(), EventsTable(options_), events, 1);
  ExpectStoredEqual(this, db(), LocalEventsTable(options_), events, 1);
  // Deletion finds the doomed groups over the Distributed table and mutates events_local;
  // retention drops events_local's partitions.
  const int64_t u_events = Count(absl::StrCat("user_id = ", SqlString(events[0].user_id)));
  ASSERT_FALSE(events[0].user_id.empty());
  absl::StatusOr<int64_t> deleted = DeleteUser(db(), options_, "p", events[0].user_id);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_GE(*deleted, 1);
  EXPECT_LE(*deleted, u_events);
  EXPECT_EQ(Count(absl::StrCat("user_id = ", SqlString(events[0].user_id))), 0);
  absl::StatusOr<std::vector<std::string>> dropped =
      DropExpiredPartitions(db(), options_, 4'102'444'800'000);  // 2100-01-01
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_FALSE(dropped->empty());
  EXPECT_EQ(Count(), 0);
}

// A clock a test sets to any time, backwards included.
class SteppingClock final : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  bool AwaitWithDeadline(absl::Mutex&, const absl::Condition&, absl::Time) override {
    return false;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixMillis(1'700'000'000'000);
};

Event MakeEvent(std::string user, std::string device, int64_t time_ms, std::string insert_id,
                std::string type = "open") {
  Event e;
  e.project = "p";
  e.event_type = std::move(type);
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.time_ms = time_ms;
  e.insert_id = std::move(insert_id);
  return e;
}

TEST_F(ClickHouseStoreTest, WriterNumbersArrivalsMonotonically) {
  Migrate();
  SteppingClock clock;
  ClickHouseWriter writer(db(),
                          {.table = EventsTable(options_), .max_batch_rows = 7, .clock = &clock});
  std::vector<Event> events = analytics::testing::RandomEvents(11, {.events = 40});
  const size_t half = events.size() / 2;
  const uint64_t t0 = uint64_t{1'700'000'000'000} << 20;
  ASSERT_TRUE(writer.Append({events.begin(), events.begin() + half}).ok());
  EXPECT_EQ(writer.last_arrival(), t0 + half - 1);
  clock.Set(absl::FromUnixMillis(1'600'000'000'000));  // the clock steps back
  ASSERT_TRUE(writer.Append({events.begin() + half, events.end()}).ok());
  EXPECT_EQ(writer.last_arrival(), t0 + events.size() - 1);
  clock.Set(absl::FromUnixMillis(1'800'000'000'000));
  ASSERT_TRUE(writer.Append({events[0]}).ok());  // a resend, later
  EXPECT_EQ(writer.last_arrival(), uint64_t{1'800'000'000'000} << 20);
  std::vector<Event> stored = events;
  ExpectStoredEqual(this, db(),
                    absl::StrCat("(SELECT * FROM ", EventsTable(options_), " WHERE arrival < ",
                                 (uint64_t{1'800'000'000'000} << 20), ")"),
                    stored, t0);
  EXPECT_EQ(Count(), static_cast<int64_t>(events.size()) + 1);
  EXPECT_EQ(writer.Append({MakeEvent("u", "", 1, "")}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.Append({MakeEvent("", "", 1, "i")}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(), static_cast<int64_t>(events.size()) + 1);
}

// Appends from several threads at once: every row stored once, arrivals unique.
TEST_F(ClickHouseStoreTest, WriterIsThreadSafeOnServer) {
  Migrate();
  ClickHouseWriter writer(*client_, {.table = EventsTable(options_), .max_batch_rows = 5});
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = writer.Append(analytics::testing::RandomEvents(20 + i, {.events = 30}));
    });
  }
  for (std::thread& t : threads) t.join();
  int64_t total = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i];
    total += analytics::testing::RandomEvents(20 + i, {.events = 30}).size();
  }
  EXPECT_EQ(Tsv(absl::StrCat("SELECT count(), uniqExact(arrival) FROM ", EventsTable(options_))),
            absl::StrCat(total, "\t", total, "\n"));
}

TEST_F(ClickHouseStoreTest, DeleteUserRemovesTheUserAndTheDevicesFirstSeenWithIt) {
  Migrate();
  constexpr int64_t t = 1'700'000'000'000;
  std::vector<Event> events = {
      MakeEvent("", "d1", t, "a1"),        // d1 anonymous, before its first login
      MakeEvent("u", "d1", t + 10, "a2"),  // d1 first seen with u
      MakeEvent("v", "d1", t + 20, "a3"),  // later with v: d1 stays u's
      MakeEvent("", "d1", t + 30, "a4"),   // d1 anonymous again
      MakeEvent("v", "d2", t + 10, "b1"),  // d2 first seen with v
      MakeEvent("u", "d2", t + 20, "b2"),  // ... then with u: d2 stays v's
      MakeEvent("", "d2", t + 30, "b3"),   //
      MakeEvent("u", "", t + 40, "c1"),    // u without a device
      MakeEvent("u", "d3", t + 50, "e1"),  // d3: tie at t+50, insert_id "e1" < "e2" → u
      MakeEvent("w", "d3", t + 50, "e2"),  //
      MakeEvent("", "d3", t + 60, "e3"),   //
      MakeEvent("", "d4", t + 60, "f1"),   // d4: the first copy of f2 (by arrival) has w ...
      MakeEvent("w", "d4", t + 70, "f2"),  //
      MakeEvent("u", "d1", t + 5, "g1"),   // another project's events stay
  };
  events.back().project = "q";
  Event f2_resent = MakeEvent("w", "d4", t - 100, "f2");  // ... its later copy is earlier in time
  Event a2_resent = MakeEvent("u", "d1", t + 500, "a2");  // a duplicate of u's event
  Insert(EventRowsJson(events, 1));
  Insert({EventRowJson(f2_resent, 100), EventRowJson(a2_resent, 101)});
  absl::StatusOr<int64_t> deleted = DeleteUser(db(), options_, "p", "u");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  // u's a2, b2, c1, e1 and d1's a1, a4 and d3's e3 (a2's two copies count once).
  EXPECT_EQ(*deleted, 7);
  EXPECT_EQ(Tsv(absl::StrCat("SELECT project, insert_id FROM ", EventsTable(options_),
                             " ORDER BY project, insert_id, arrival")),
            "p\ta3\np\tb1\np\tb3\np\te2\np\tf1\np\tf2\np\tf2\nq\tg1\n");
  // Nothing left of u: a second deletion deletes nothing; an unknown user or none neither.
  EXPECT_EQ(DeleteUser(db(), options_, "p", "u").value_or(-1), 0);
  EXPECT_EQ(DeleteUser(db(), options_, "p", "nobody").value_or(-1), 0);
  EXPECT_EQ(DeleteUser(db(), options_, "p", "").value_or(-1), 0);
  // w: e2 and f2 (two copies); d4 is first seen with w (the first copy of f2 is at t+70 but
  // d4's only both-ids event is f2), so f1 goes too.
  absl::StatusOr<int64_t> w = DeleteUser(db(), options_, "p", "w");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(*w, 3);
  EXPECT_EQ(Tsv(absl::StrCat("SELECT insert_id FROM ", EventsTable(options_),
                             " ORDER BY project, insert_id")),
            "a3\nb1\nb3\ng1\n");
}

TEST_F(ClickHouseStoreTest, DeleteUserDedupsBeforeIdentity) {
  Migrate();
  constexpr int64_t t = 1'700'000'000'000;
  // d's earliest both-ids event by time is u's resent copy of x at t - 100, but the first copy of
  // x (by arrival) is at t + 100, after v's y at t: d is v's.
  Insert({EventRowJson(MakeEvent("u", "d", t + 100, "x"), 1),
          EventRowJson(MakeEvent("v", "d", t, "y"), 2),
          EventRowJson(MakeEvent("", "d", t + 200, "z"), 3),
          EventRowJson(MakeEvent("u", "d", t - 100, "x"), 4)});
  absl::StatusOr<int64_t> deleted = DeleteUser(db(), options_, "p", "u");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(
      Tsv(absl::StrCat("SELECT insert_id FROM ", EventsTable(options_), " ORDER BY insert_id")),
      "y\nz\n");
}

TEST_F(ClickHouseStoreTest, DropExpiredPartitionsDropsWholeMonthsBeforeTheCutoffMonth) {
  Migrate();
  constexpr int64_t kJan15 = 1'705'320'000'000;  // 2024-01-15 12:00:00 UTC
  constexpr int64_t kFeb1 = 1'706'745'600'000;   // 2024-02-01 00:00:00 UTC
  constexpr int64_t kMar1 = 1'709'251'200'000;   // 2024-03-01 00:00:00 UTC
  constexpr int64_t kApr1 = 1'711'929'600'000;   // 2024-04-01 00:00:00 UTC
  Insert(EventRowsJson({MakeEvent("u", "", kJan15, "1"), MakeEvent("u", "", kFeb1 - 1, "2"),
                        MakeEvent("u", "", kFeb1, "3"), MakeEvent("u", "", kMar1 - 1, "4"),
                        MakeEvent("u", "", kMar1, "5"), MakeEvent("u", "", kApr1 - 1, "6"),
                        MakeEvent("u", "", kApr1 + 1, "7")},
                       1));
  absl::StatusOr<std::vector<std::string>> none = DropExpiredPartitions(db(), options_, kJan15);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  // A cutoff inside March (or at its first millisecond) keeps March: January and February go.
  absl::StatusOr<std::vector<std::string>> dropped = DropExpiredPartitions(db(), options_, kMar1);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, (std::vector<std::string>{"202401", "202402"}));
  EXPECT_EQ(
      Tsv(absl::StrCat("SELECT insert_id FROM ", EventsTable(options_), " ORDER BY insert_id")),
      "5\n6\n7\n");
  dropped = DropExpiredPartitions(db(), options_, kApr1 - 1);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_TRUE(dropped->empty());
  dropped = DropExpiredPartitions(db(), options_, kApr1 + 86'400'000);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, std::vector<std::string>{"202403"});
  EXPECT_EQ(Count(), 1);
}

TEST_F(ClickHouseStoreTest, ExecutorErrorsAndBinaryResults) {
  absl::StatusOr<std::string> bad = db().Query("SELEC 1", Format::kTabSeparated);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_EQ(db().Execute("SELECT * FROM no_such_db.no_such_table").code(),
            absl::StatusCode::kInvalidArgument);
  // Raw bytes (TabSeparated escapes only \t, \n, \\, NUL and a few more) and a large answer come
  // back whole.
  absl::StatusOr<std::string> raw =
      db().Query("SELECT unhex('FFFE80C3A9') AS s", Format::kTabSeparated);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(*raw, "\xff\xfe\x80\xc3\xa9\n");
  absl::StatusOr<std::string> big = db().Query(
      "SELECT sum(length(s)) FROM (SELECT toString(number) AS s FROM system.numbers LIMIT 200000)",
      Format::kTabSeparated);
  ASSERT_TRUE(big.ok()) << big.status();
  absl::StatusOr<std::string> many =
      db().Query("SELECT number FROM system.numbers LIMIT 200000", Format::kTabSeparated);
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_EQ(many->size(), std::stoul(*big) + 200000);
  EXPECT_EQ(db().InsertJsonEachRow("a b", {"{}"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db().InsertJsonEachRow("t", {"{}\n{}"}).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse::testing
