// The analytics engine at product scale (issue 6, "Benchmark"): bench/analytics/product_generator.h
// makes a deterministic product (default 10 M events, 1 M actors, 30 days, the committed seed);
// the events go into a fresh embedded SegmentStore as the store sink delivers them (batches of
// 10,000, a Merge every 64 batches); then DAU (UTC and Europe/Berlin, whose range holds the 25-hour
// day of 2026-10-25), a 30-day retention matrix (_new → _active and app_open → _active), a 4-step
// funnel with a 7-day window and a segmentation grouped by country run through EmbeddedEngine::Run:
// cold (a fresh engine: the actor view is built), warm (median and p95 of --reps runs), and warm
// while a thread appends batches at --ingest-rate events/s (the engine answering within
// --max-staleness-ms of the latest events, as the ingest server's does). The store is reopened from
// disk first for a true cold start (its files are in the page cache: the machine is shared, caches
// are not dropped). Prints a markdown section for docs/benchmarks.md; progress goes to stderr.
//
//   analytics_bench [--events=N] [--actors=N] [--seed=N] [--reps=N] [--ingest-reps=N]
//                   [--ingest-seconds=S] [--clickhouse-reps=N (0: no ClickHouse)] [--ingest-rate=N]
//                   [--clickhouse-timeout-s=S]
//                   [--max-staleness-ms=N] [--dir=/var/tmp] [--map-files=0|1]
//   analytics_bench ... --profile-query=I [--profile-seconds=S]   (query I warm, for perf)
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "analytics/clickhouse/clickhouse_active_users_query.h"
#include "analytics/clickhouse/clickhouse_client.h"
#include "analytics/clickhouse/clickhouse_funnel_query.h"
#include "analytics/clickhouse/clickhouse_retention_query.h"
#include "analytics/clickhouse/clickhouse_schema.h"
#include "analytics/clickhouse/clickhouse_segmentation_query.h"
#include "analytics/clickhouse/clickhouse_writer.h"
#include "analytics/clickhouse/testing/clickhouse_server.h"
#include "analytics/model/query.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/embedded_engine.h"
#include "analytics/store/segment_store.h"
#include "bench/analytics/product_generator.h"
#include "common/http_client.h"

namespace {

using cohort::analytics::Query;
using cohort::analytics::store::EmbeddedEngine;
using cohort::analytics::store::SegmentStore;
using cohort::bench::ProductGenerator;
using cohort::bench::ProductGeneratorOptions;
namespace an = cohort::analytics;
namespace ch = cohort::analytics::clickhouse;
namespace chtest = cohort::analytics::clickhouse::testing;

constexpr size_t kBatch = 10'000;           // the store sink's batch
constexpr int64_t kMergeEveryBatches = 64;  // StoreSinkOptions::merge_every_batches
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

struct Flags {
  int64_t events = 10'000'000;
  int64_t actors = 1'000'000;
  uint64_t seed = cohort::bench::kProductSeed;
  int reps = 10;
  int ingest_reps = 5;
  // The embedded queries with ingest run round after round for at least this long (and at
  // least ingest_reps rounds), so that ingest keeps appending (and merging) while they run.
  double ingest_seconds = 20;
  // Warm runs on ClickHouse; with inserts: min(this, ingest_reps). 0: ClickHouse is not run.
  int clickhouse_reps = 10;
  // ClickHouse's HTTP timeout per statement, s: a query past it is reported as timed out.
  double clickhouse_timeout_s = 600;
  int64_t ingest_rate = 20'000;
  // The engine's max_staleness while ingest runs (EmbeddedEngineOptions; the ingest server's
  // setting); 0: every query sees the latest events.
  int64_t max_staleness_ms = 500;
  // When >= 0: after loading, run only this query (index into Queries) warm for
  // profile_seconds, for a profiler to attach, and print nothing else.
  int profile_query = -1;
  double profile_seconds = 30;
  std::string dir = "/var/tmp";
  // SegmentStoreOptions::map_files: 0 keeps every segment's columns on the heap (the store
  // before session 14), for comparison.
  bool map_files = true;
};

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// A /proc/self/status figure of this process (VmHWM, VmRSS, RssAnon, RssFile), MB.
double ProcStatusMb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, key)) {
      int64_t kb = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits += c;
      }
      if (absl::SimpleAtoi(digits, &kb)) return static_cast<double>(kb) / 1024.0;
    }
  }
  return 0;
}

uint64_t DiskBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

std::unique_ptr<SegmentStore> OpenStore(const std::string& dir, bool map_files,
                                        cohort::analytics::store::OpenReport* report = nullptr) {
  absl::StatusOr<std::unique_ptr<SegmentStore>> store =
      SegmentStore::Open({.dir = dir, .map_files = map_files}, report);
  if (!store.ok()) Die("open " + dir, store.status());
  return *std::move(store);
}

struct NamedQuery {
  std::string name;
  Query query;
};

std::vector<NamedQuery> Queries(const ProductGeneratorOptions& data) {
  an::QueryScope scope;
  scope.project = data.project;
  scope.from_ms = data.start_ms;
  scope.to_ms = data.start_ms + data.days * kDayMs;
  an::QueryScope berlin = scope;
  berlin.time_zone = "Europe/Berlin";

  std::vector<NamedQuery> queries;
  queries.push_back({"DAU, UTC", an::ActiveUsersQuery{.scope = scope}});
  queries.push_back({"DAU, Europe/Berlin", an::ActiveUsersQuery{.scope = berlin}});
  an::RetentionQuery retention{.scope = scope, .max_day = data.days, .as_of_ms = scope.to_ms};
  retention.start.event_type = an::kNewUserEvent;
  retention.returned.event_type = an::kAnyActiveEvent;
  queries.push_back({"retention _new → _active, days 0–30", retention});
  retention.start.event_type = "app_open";
  queries.push_back({"retention app_open → _active, days 0–30", retention});
  an::FunnelQuery funnel{.scope = scope, .window_ms = 7 * kDayMs};
  for (const char* step : {"search", "view_item", "add_to_cart", "purchase"}) {
    funnel.steps.push_back(an::EventSelector{.event_type = step});
  }
  queries.push_back({"funnel search → view_item → add_to_cart → purchase, 7 days", funnel});
  an::SegmentationQuery segmentation{.scope = scope,
                                     .events = {an::EventSelector{.event_type = "view_item"}},
                                     .metric = an::SeriesMetric::kUniques,
                                     .interval = an::Interval::kDay,
                                     .group_by = an::PropertyRef{.key = "country"}};
  queries.push_back({"segmentation uniques(view_item) by country, daily", segmentation});
  an::FunnelQuery rare{.scope = scope, .window_ms = 7 * kDayMs};
  for (const char* step : {"add_to_cart", "purchase"}) {
    rare.steps.push_back(an::EventSelector{.event_type = step});
  }
  queries.push_back({"funnel add_to_cart → purchase, 7 days (rare steps)", rare});
  // A user property: the plan each purchase saw, from the actor's $identify $set before it.
  an::SegmentationQuery by_plan = segmentation;
  by_plan.events = {an::EventSelector{.event_type = "purchase"}};
  by_plan.group_by = an::PropertyRef{.scope = an::PropertyRef::Scope::kUser, .key = "plan"};
  queries.push_back({"segmentation uniques(purchase) by user plan, daily", by_plan});
  return queries;
}

// Runs `query` and returns its wall time; dies on an error.
double TimeQuery(EmbeddedEngine& engine, const NamedQuery& q, uint64_t* version = nullptr,
                 an::Result* result = nullptr) {
  const absl::Time start = absl::Now();
  absl::StatusOr<an::EngineAnswer> answer = engine.Run(q.query);
  const double ms = Ms(absl::Now() - start);
  if (!answer.ok()) Die(q.name, answer.status());
  if (version != nullptr) *version = answer->data_version;
  if (result != nullptr) *result = std::move(answer->result);
  return ms;
}

struct Percentiles {
  double median = 0, p95 = 0;
};
Percentiles Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Percentiles p;
  if (ms.empty()) return p;
  p.median = ms[(ms.size() - 1) / 2];
  // Nearest rank: with 10 runs this is the slowest.
  p.p95 = ms[std::min(ms.size() - 1, (ms.size() * 95 + 99) / 100 - 1)];
  return p;
}

// Appends generated batches at `rate` events/s (one batch of kBatch every kBatch/rate seconds,
// catching up when behind) through `append`, and calls `maintain` (if any) every
// kMergeEveryBatches batches as the store sink merges, until stopped.
class BackgroundIngest {
 public:
  using AppendFn = std::function<absl::Status(std::vector<an::Event>)>;
  using MaintainFn = std::function<absl::Status()>;

  BackgroundIngest(const Flags& flags, AppendFn append, MaintainFn maintain)
      : append_(std::move(append)), maintain_(std::move(maintain)) {
    ProductGeneratorOptions o;
    o.seed = flags.seed + 1;
    o.actors = std::max<int64_t>(flags.actors / 10, 1000);
    o.events = flags.ingest_rate * 900;  // 15 minutes' worth
    o.id_prefix = "live-";
    generator_ = std::make_unique<ProductGenerator>(o);
    interval_ = absl::Seconds(static_cast<double>(kBatch) / static_cast<double>(flags.ingest_rate));
    thread_ = std::thread([this] { Loop(); });
  }
  ~BackgroundIngest() { Stop(); }

  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    elapsed_ = absl::Now() - start_;
  }
  double rate() const {
    return static_cast<double>(appended_.load()) / absl::ToDoubleSeconds(elapsed_);
  }
  int64_t appended() const { return appended_.load(); }
  // Waits until the first batch is stored: after a reopen it builds the store's dedup filter
  // (seconds at 10 M), which is not what queries under steady ingest meet.
  void WaitForFirstAppend() const {
    while (appended_.load() == 0 && !stop_) absl::SleepFor(absl::Milliseconds(10));
  }
  double append_p50_ms() const { return Summarize(append_ms_).median; }
  double append_max_ms() const {
    return append_ms_.empty() ? 0 : *std::max_element(append_ms_.begin(), append_ms_.end());
  }
  const std::vector<double>& merge_ms() const { return merge_ms_; }

 private:
  void Loop() {
    start_ = absl::Now();
    absl::Time next = start_;
    int64_t batches = 0;
    std::vector<an::Event> batch;
    while (!stop_) {
      const absl::Time now = absl::Now();
      if (now < next) {
        absl::SleepFor(std::min(next - now, absl::Milliseconds(20)));
        continue;
      }
      next += interval_;
      batch.clear();
      const size_t n = generator_->Next(kBatch, &batch);
      if (n == 0) break;
      absl::Time s = absl::Now();
      if (absl::Status a = append_(std::move(batch)); !a.ok()) Die("background append", a);
      append_ms_.push_back(Ms(absl::Now() - s));
      appended_ += static_cast<int64_t>(n);
      if (maintain_ && ++batches % kMergeEveryBatches == 0) {
        s = absl::Now();
        if (absl::Status m = maintain_(); !m.ok()) Die("background merge", m);
        merge_ms_.push_back(Ms(absl::Now() - s));
      }
    }
  }

  AppendFn append_;
  MaintainFn maintain_;
  std::unique_ptr<ProductGenerator> generator_;
  absl::Duration interval_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Time start_;
  absl::Duration elapsed_;
  std::atomic<int64_t> appended_{0};
  std::vector<double> append_ms_;
  std::vector<double> merge_ms_;
};

// ---- ClickHouse on the same data ----

// The ClickHouse backend's executor for `query` (the four types the benchmark asks).
absl::StatusOr<an::Result> RunOnClickHouse(const Query& query, ch::SqlExecutor& sql,
                                           const std::string& table) {
  return std::visit(
      [&](const auto& q) -> absl::StatusOr<an::Result> {
        using T = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<T, an::ActiveUsersQuery>) {
          auto r = ch::RunActiveUsers(q, sql, table);
          if (!r.ok()) return r.status();
          return an::Result(*std::move(r));
        } else if constexpr (std::is_same_v<T, an::RetentionQuery>) {
          auto r = ch::RunRetention(q, sql, table);
          if (!r.ok()) return r.status();
          return an::Result(*std::move(r));
        } else if constexpr (std::is_same_v<T, an::FunnelQuery>) {
          auto r = ch::RunFunnel(q, sql, table);
          if (!r.ok()) return r.status();
          return an::Result(*std::move(r));
        } else if constexpr (std::is_same_v<T, an::SegmentationQuery>) {
          auto r = ch::RunSegmentation(q, sql, table);
          if (!r.ok()) return r.status();
          return an::Result(*std::move(r));
        } else {
          return absl::UnimplementedError("not a query type of this benchmark");
        }
      },
      query);
}

struct ClickHouseRow {
  bool supported = false;
  double cold = 0;
  Percentiles warm, ingest;
  bool equal = false;  // the warm answer equals the embedded engine's
  // Why a phase has no number (a timeout, or "run it again"), else empty.
  std::string cold_failure, ingest_failure;
};

// A query that ran into the HTTP timeout, or a segmentation that saw new group values between
// its statements (kUnavailable: "run it again"), is reported in the table rather than ending
// the run; any other error ends it.
std::optional<std::string> ReportableFailure(const absl::Status& status, double ms,
                                             double timeout_s) {
  if (ms >= timeout_s * 1000 * 0.99) return absl::StrFormat("> %.0f s (timed out)", timeout_s);
  if (absl::IsUnavailable(status)) {
    return absl::StrCat("failed: ", status.message().substr(0, 80));
  }
  return std::nullopt;
}

struct ClickHouseReport {
  std::string version, max_threads;
  double start_s = 0, load_s = 0;
  int64_t rows = 0;
  uint64_t bytes_on_disk = 0;
  std::vector<ClickHouseRow> rows_by_query;
  double ingest_rate = 0, insert_p50 = 0, insert_max = 0;
};

// The answer's first line from `sql` (TabSeparated), or "?".
std::string QueryValue(ch::SqlExecutor& sql, const std::string& statement) {
  absl::StatusOr<std::string> out = sql.Query(statement, ch::Format::kTabSeparated);
  if (!out.ok()) return "?";
  std::string v = *out;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

// Starts Debian's clickhouse-server, creates the schema (MigrateSchema), appends the same events
// (the same generator and seed) in the same batches through ClickHouseWriter, and runs the
// queries through the backend's executors: cold (first run), warm, and warm while a thread
// appends at --ingest-rate.
ClickHouseReport RunClickHouse(const Flags& flags, const ProductGeneratorOptions& data,
                               const std::vector<NamedQuery>& queries,
                               const std::vector<an::Result>& embedded) {
  ClickHouseReport report;
  absl::Time t = absl::Now();
  absl::StatusOr<chtest::ClickHouseServerPtr> server = chtest::ClickHouseServer::Start();
  if (!server.ok()) Die("clickhouse-server", server.status());
  report.start_s = absl::ToDoubleSeconds(absl::Now() - t);
  absl::StatusOr<std::unique_ptr<cohort::HttpClient>> http =
      cohort::MakeHttpClient({.request_timeout = absl::Seconds(flags.clickhouse_timeout_s),
                              .max_response_bytes = 256 << 20});
  if (!http.ok()) Die("http client", http.status());
  absl::StatusOr<ch::ClickHouseClientPtr> client = ch::ClickHouseClient::Create(
      {.url = (*server)->url(), .max_attempts = 1, .http = http->get()});
  if (!client.ok()) Die("clickhouse client", client.status());
  ch::SqlExecutor& sql = **client;
  const ch::ClickHouseSchemaOptions schema{.database = "bench"};
  if (absl::Status m = ch::MigrateSchema(sql, schema); !m.ok()) Die("MigrateSchema", m);
  const std::string table = ch::EventsTable(schema);
  ch::ClickHouseWriter writer(sql, {.table = table, .max_batch_rows = kBatch});
  report.version = QueryValue(sql, "SELECT version()");
  report.max_threads =
      QueryValue(sql, "SELECT value FROM system.settings WHERE name = 'max_threads'");

  std::fprintf(stderr, "clickhouse: loading\n");
  ProductGenerator generator(data);
  std::vector<an::Event> batch;
  absl::Duration insert_time;
  while (true) {
    batch.clear();
    const size_t n = generator.Next(kBatch, &batch);
    if (n == 0) break;
    t = absl::Now();
    if (absl::Status a = writer.Append(batch); !a.ok()) Die("ClickHouse append", a);
    insert_time += absl::Now() - t;
    report.rows += static_cast<int64_t>(n);
  }
  report.load_s = absl::ToDoubleSeconds(insert_time);
  int64_t bytes = 0;
  if (absl::SimpleAtoi(QueryValue(sql,
                                  "SELECT sum(bytes_on_disk) FROM system.parts WHERE active "
                                  "AND database = 'bench' AND table = 'events'"),
                       &bytes)) {
    report.bytes_on_disk = static_cast<uint64_t>(bytes);
  }

  report.rows_by_query.resize(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    ClickHouseRow& row = report.rows_by_query[i];
    std::fprintf(stderr, "clickhouse: %s\n", queries[i].name.c_str());
    auto run = [&](an::Result* out) -> std::optional<double> {
      const absl::Time s = absl::Now();
      absl::StatusOr<an::Result> r = RunOnClickHouse(queries[i].query, sql, table);
      const double ms = Ms(absl::Now() - s);
      if (absl::IsUnimplemented(r.status())) return std::nullopt;
      if (!r.ok()) {
        std::optional<std::string> failure =
            ReportableFailure(r.status(), ms, flags.clickhouse_timeout_s);
        if (!failure) Die("clickhouse " + queries[i].name, r.status());
        row.cold_failure = *failure;
        return std::nullopt;
      }
      if (out != nullptr) *out = *std::move(r);
      return ms;
    };
    an::Result answer;
    const std::optional<double> cold = run(&answer);
    row.supported = cold.has_value() || !row.cold_failure.empty();
    if (!cold) continue;
    row.cold = *cold;
    std::vector<double> warm;
    for (int r = 0; r < flags.clickhouse_reps; ++r) {
      std::optional<double> ms = run(&answer);
      if (!ms) break;
      warm.push_back(*ms);
    }
    if (!row.cold_failure.empty()) continue;  // a warm run failed: reported as the query's
    row.warm = Summarize(warm);
    row.equal = answer == embedded[i];
  }

  std::fprintf(stderr, "clickhouse: queries with inserts at %lld events/s\n",
               static_cast<long long>(flags.ingest_rate));
  BackgroundIngest ingest(
      flags, [&](std::vector<an::Event> events) { return writer.Append(events); }, nullptr);
  for (size_t i = 0; i < queries.size(); ++i) {
    ClickHouseRow& row = report.rows_by_query[i];
    if (!row.supported || !row.cold_failure.empty()) continue;
    std::fprintf(stderr, "clickhouse: %s with inserts\n", queries[i].name.c_str());
    std::vector<double> ms;
    for (int r = 0; r < std::min(flags.ingest_reps, flags.clickhouse_reps); ++r) {
      const absl::Time s = absl::Now();
      absl::StatusOr<an::Result> answer = RunOnClickHouse(queries[i].query, sql, table);
      const double elapsed = Ms(absl::Now() - s);
      if (!answer.ok()) {
        std::optional<std::string> failure =
            ReportableFailure(answer.status(), elapsed, flags.clickhouse_timeout_s);
        if (!failure) Die("clickhouse " + queries[i].name, answer.status());
        row.ingest_failure = *failure;
        break;
      }
      ms.push_back(elapsed);
    }
    if (row.ingest_failure.empty()) row.ingest = Summarize(ms);
  }
  ingest.Stop();
  report.ingest_rate = ingest.rate();
  report.insert_p50 = ingest.append_p50_ms();
  report.insert_max = ingest.append_max_ms();
  // The client before the server: the server's shutdown waits for idle keep-alive connections.
  client->reset();
  http->reset();
  return report;
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (!absl::StartsWith(arg, prefix)) return std::nullopt;
      return arg.substr(prefix.size());
    };
    bool ok = false;
    if (auto v = value("events")) {
      ok = absl::SimpleAtoi(*v, &f->events) && f->events > 0;
    } else if (auto v = value("actors")) {
      ok = absl::SimpleAtoi(*v, &f->actors) && f->actors > 0;
    } else if (auto v = value("seed")) {
      ok = absl::SimpleAtoi(*v, &f->seed);
    } else if (auto v = value("reps")) {
      ok = absl::SimpleAtoi(*v, &f->reps) && f->reps > 0;
    } else if (auto v = value("clickhouse-reps")) {
      ok = absl::SimpleAtoi(*v, &f->clickhouse_reps) && f->clickhouse_reps >= 0;
    } else if (auto v = value("clickhouse-timeout-s")) {
      ok = absl::SimpleAtod(*v, &f->clickhouse_timeout_s) && f->clickhouse_timeout_s > 0;
    } else if (auto v = value("ingest-reps")) {
      ok = absl::SimpleAtoi(*v, &f->ingest_reps) && f->ingest_reps > 0;
    } else if (auto v = value("ingest-seconds")) {
      ok = absl::SimpleAtod(*v, &f->ingest_seconds) && f->ingest_seconds >= 0;
    } else if (auto v = value("profile-query")) {
      ok = absl::SimpleAtoi(*v, &f->profile_query) && f->profile_query >= 0;
    } else if (auto v = value("profile-seconds")) {
      ok = absl::SimpleAtod(*v, &f->profile_seconds) && f->profile_seconds > 0;
    } else if (auto v = value("ingest-rate")) {
      ok = absl::SimpleAtoi(*v, &f->ingest_rate) && f->ingest_rate > 0;
    } else if (auto v = value("max-staleness-ms")) {
      ok = absl::SimpleAtoi(*v, &f->max_staleness_ms) && f->max_staleness_ms >= 0;
    } else if (auto v = value("map-files")) {
      ok = *v == "0" || *v == "1";
      f->map_files = *v == "1";
    } else if (auto v = value("dir")) {
      f->dir = *v;
      ok = !f->dir.empty();
    }
    if (!ok) {
      std::fprintf(stderr, "bad argument %s\n", arg.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: analytics_bench [--events=N] [--actors=N] [--seed=N] [--reps=N] "
                 "[--ingest-reps=N] [--ingest-seconds=S] [--clickhouse-reps=N] "
                 "[--clickhouse-timeout-s=S] [--ingest-rate=N] "
                 "[--max-staleness-ms=N] "
                 "[--dir=DIR] [--map-files=0|1] "
                 "[--profile-query=I [--profile-seconds=S]]\n");
    return 2;
  }
  std::string dir = flags.dir + "/analytics_bench.XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const double load_at_start = LoadAverage();
  ProductGeneratorOptions data;
  data.seed = flags.seed;
  data.events = flags.events;
  data.actors = flags.actors;

  // ---- Load ----
  std::fprintf(stderr, "loading %lld events of %lld actors into %s\n",
               static_cast<long long>(flags.events), static_cast<long long>(flags.actors),
               dir.c_str());
  ProductGenerator generator(data);
  absl::Duration generate_time, append_time, merge_time;
  int64_t stored = 0, duplicates = 0, batches = 0, merges = 0;
  {
    std::unique_ptr<SegmentStore> store = OpenStore(dir, flags.map_files);
    std::vector<an::Event> batch;
    while (true) {
      batch.clear();
      absl::Time t = absl::Now();
      if (generator.Next(kBatch, &batch) == 0) break;
      generate_time += absl::Now() - t;
      t = absl::Now();
      absl::StatusOr<cohort::analytics::store::AppendResult> r = store->Append(std::move(batch));
      if (!r.ok()) Die("append", r.status());
      append_time += absl::Now() - t;
      stored += r->stored;
      duplicates += r->duplicates;
      if (++batches % kMergeEveryBatches == 0) {
        t = absl::Now();
        absl::StatusOr<int> m = store->Merge();
        if (!m.ok()) Die("merge", m.status());
        merge_time += absl::Now() - t;
        merges += *m;
      }
      if (batches % 100 == 0) {
        std::fprintf(stderr, "  %lld events, %.0f s\n", static_cast<long long>(stored),
                     absl::ToDoubleSeconds(append_time + merge_time + generate_time));
      }
    }
  }
  const double load_s = absl::ToDoubleSeconds(append_time + merge_time);
  const uint64_t disk = DiskBytes(dir);
  const double hwm_after_load = ProcStatusMb("VmHWM:");

  // ---- Reopen: a true cold start ----
  cohort::analytics::store::OpenReport open_report;
  absl::Time t = absl::Now();
  std::unique_ptr<SegmentStore> store = OpenStore(dir, flags.map_files, &open_report);
  const double open_ms = Ms(absl::Now() - t);
  const uint64_t store_memory = store->memory_bytes();
  const uint64_t store_mapped = store->mapped_bytes();
  const double rss_after_open = ProcStatusMb("VmRSS:");
  const double anon_after_open = ProcStatusMb("RssAnon:");
  const double file_after_open = ProcStatusMb("RssFile:");

  const std::vector<NamedQuery> queries = Queries(data);
  if (flags.profile_query >= 0) {
    if (flags.profile_query >= static_cast<int>(queries.size())) {
      std::fprintf(stderr, "--profile-query: 0..%zu\n", queries.size() - 1);
      return 2;
    }
    const NamedQuery& q = queries[flags.profile_query];
    EmbeddedEngine engine(*store);
    TimeQuery(engine, q);
    std::fprintf(stderr, "profiling %s (pid %d)\n", q.name.c_str(), ::getpid());
    std::vector<double> ms;
    const absl::Time until = absl::Now() + absl::Seconds(flags.profile_seconds);
    while (absl::Now() < until) ms.push_back(TimeQuery(engine, q));
    const Percentiles p = Summarize(ms);
    std::fprintf(stderr, "%zu runs, median %.1f ms, p95 %.1f ms\n", ms.size(), p.median, p.p95);
    store.reset();
    std::filesystem::remove_all(dir);
    return 0;
  }
  struct Row {
    double cold = 0;
    Percentiles warm, ingest;
    int ingest_versions = 0;
  };
  std::vector<Row> rows(queries.size());
  std::vector<an::Result> embedded_results(queries.size());
  // The first query after the open: the actor view is built from the freshly loaded segments.
  double first_query_ms = 0;
  {
    EmbeddedEngine engine(*store);
    first_query_ms = TimeQuery(engine, queries[0]);
  }
  // The actor view alone (the shared part of every cold query).
  std::vector<double> view_ms;
  double view_mb = 0;  // deviceToUser
  for (an::IdentityMerge identity : {an::IdentityMerge::kDeviceToUser, an::IdentityMerge::kNone}) {
    const cohort::analytics::store::Snapshot snapshot = store->GetSnapshot(data.project);
    t = absl::Now();
    const cohort::analytics::store::ActorView view =
        cohort::analytics::store::ActorView::Build(snapshot.segments, identity);
    view_ms.push_back(Ms(absl::Now() - t));
    if (view_ms.size() == 1) view_mb = static_cast<double>(view.memory_bytes()) / 1e6;
    if (view.actor_count() == 0) {
      std::fprintf(stderr, "no actors\n");
      return 1;
    }
  }

  // ---- Cold and warm ----
  for (size_t i = 0; i < queries.size(); ++i) {
    std::fprintf(stderr, "query %s\n", queries[i].name.c_str());
    EmbeddedEngine engine(*store);
    rows[i].cold = TimeQuery(engine, queries[i]);
    std::vector<double> warm;
    for (int r = 0; r < flags.reps; ++r) {
      warm.push_back(TimeQuery(engine, queries[i], nullptr, &embedded_results[i]));
    }
    rows[i].warm = Summarize(warm);
  }
  const double hwm_after_queries = ProcStatusMb("VmHWM:");

  // ---- Warm with ingest running ----
  std::fprintf(stderr, "queries with ingest at %lld events/s\n",
               static_cast<long long>(flags.ingest_rate));
  double ingest_rate = 0, append_p50 = 0, append_max = 0;
  std::vector<double> ingest_merge_ms;
  int64_t ingest_appended = 0, background_builds = 0, extensions = 0, compactions = 0,
          query_waits = 0, query_builds = 0;
  {
    EmbeddedEngine engine(*store, {.max_staleness = absl::Milliseconds(flags.max_staleness_ms)});
    for (const NamedQuery& q : queries) TimeQuery(engine, q);  // warm the view first
    BackgroundIngest ingest(
        flags,
        [&](std::vector<an::Event> events) { return store->Append(std::move(events)).status(); },
        [&] { return store->Merge().status(); });
    ingest.WaitForFirstAppend();
    std::vector<std::vector<double>> ms(queries.size());
    std::vector<uint64_t> last_version(queries.size(), 0);
    const absl::Time until = absl::Now() + absl::Seconds(flags.ingest_seconds);
    for (int round = 0; round < flags.ingest_reps || absl::Now() < until; ++round) {
      for (size_t i = 0; i < queries.size(); ++i) {
        uint64_t version = 0;
        ms[i].push_back(TimeQuery(engine, queries[i], &version));
        if (version != last_version[i]) ++rows[i].ingest_versions;
        last_version[i] = version;
      }
    }
    for (size_t i = 0; i < queries.size(); ++i) rows[i].ingest = Summarize(ms[i]);
    ingest.Stop();
    ingest_rate = ingest.rate();
    ingest_appended = ingest.appended();
    append_p50 = ingest.append_p50_ms();
    append_max = ingest.append_max_ms();
    ingest_merge_ms = ingest.merge_ms();
    background_builds = engine.background_builds();
    extensions = engine.extensions();
    compactions = engine.compactions();
    query_waits = engine.query_waits();
    query_builds = engine.query_builds();
  }
  const double hwm_end = ProcStatusMb("VmHWM:");
  // One append's catching up: the view of the events now built whole, against that view
  // extended by one more append of kBatch events (ActorView::Extend).
  std::vector<double> whole_ms, extend_ms;
  std::fprintf(stderr, "one append caught up: whole build against extension\n");
  {
    ProductGeneratorOptions o;
    o.seed = flags.seed + 2;
    o.actors = std::max<int64_t>(flags.actors / 10, 1000);
    o.events = 2 * static_cast<int64_t>(kBatch);
    o.id_prefix = "extend-";
    ProductGenerator extra(o);
    for (an::IdentityMerge identity :
         {an::IdentityMerge::kDeviceToUser, an::IdentityMerge::kNone}) {
      const cohort::analytics::store::Snapshot before = store->GetSnapshot(data.project);
      t = absl::Now();
      const cohort::analytics::store::ActorView whole =
          cohort::analytics::store::ActorView::Build(before.segments, identity);
      whole_ms.push_back(Ms(absl::Now() - t));
      std::vector<an::Event> batch;
      extra.Next(kBatch, &batch);
      if (absl::Status a = store->Append(std::move(batch)).status(); !a.ok()) Die("append", a);
      const cohort::analytics::store::Snapshot after = store->GetSnapshot(data.project);
      t = absl::Now();
      const cohort::analytics::store::ActorView extended =
          cohort::analytics::store::ActorView::Extend(whole, {after.appends.back().segment});
      extend_ms.push_back(Ms(absl::Now() - t));
      if (extended.event_count() <= whole.event_count()) {
        std::fprintf(stderr, "the extension added no events\n");
        return 1;
      }
    }
  }
  const double anon_end = ProcStatusMb("RssAnon:");
  const uint64_t store_memory_end = store->memory_bytes();
  const double file_end = ProcStatusMb("RssFile:");
  store.reset();
  std::filesystem::remove_all(dir);
  const double load_after_embedded = LoadAverage();

  // ---- Report ----
  const cohort::bench::ProductGeneratorStats& gs = generator.stats();
  std::printf("## Analytics engine: embedded store (bench/analytics_bench.cc)\n\n");
  std::printf(
      "`analytics_bench --events=%lld --actors=%lld --seed=%llu --reps=%d --ingest-reps=%d "
      "--ingest-seconds=%g --clickhouse-reps=%d --clickhouse-timeout-s=%g --ingest-rate=%lld "
      "--map-files=%d` (store under "
      "%s); load average %.1f at the start, %.1f after the embedded part.\n\n",
      static_cast<long long>(flags.events), static_cast<long long>(flags.actors),
      static_cast<unsigned long long>(flags.seed), flags.reps, flags.ingest_reps,
      flags.ingest_seconds, flags.clickhouse_reps, flags.clickhouse_timeout_s,
      static_cast<long long>(flags.ingest_rate), flags.map_files ? 1 : 0, flags.dir.c_str(),
      load_at_start, load_after_embedded);
  std::printf(
      "Data: %lld events sent (%lld resends, %lld anonymous, %lld with a session_id, %lld out of "
      "order by up to %.1f min), %lld stored, %lld dropped as duplicates.\n\n",
      static_cast<long long>(gs.emitted), static_cast<long long>(gs.resends),
      static_cast<long long>(gs.anonymous), static_cast<long long>(gs.sessioned),
      static_cast<long long>(gs.late), static_cast<double>(gs.max_lag_ms) / 60000.0,
      static_cast<long long>(stored), static_cast<long long>(duplicates));
  std::printf("| load | value |\n|---|---:|\n");
  std::printf("| load time (Append + Merge), s | %.1f |\n", load_s);
  std::printf("| of which Merge, s (%lld merges) | %.1f |\n", static_cast<long long>(merges),
              absl::ToDoubleSeconds(merge_time));
  std::printf("| events/s (sent / load time) | %.0f |\n", static_cast<double>(gs.emitted) / load_s);
  std::printf("| generating the events (not in the load time), s | %.1f |\n",
              absl::ToDoubleSeconds(generate_time));
  std::printf("| bytes on disk per stored event | %.1f |\n",
              static_cast<double>(disk) / static_cast<double>(stored));
  std::printf("| segments after load (reopen) | %lld |\n",
              static_cast<long long>(open_report.segments));
  std::printf("| reopen from disk, ms | %.0f |\n", open_ms);
  std::printf("| store memory_bytes() after reopen, MB | %.1f |\n",
              static_cast<double>(store_memory) / 1e6);
  std::printf("| store memory per stored event, bytes | %.1f |\n",
              static_cast<double>(store_memory) / static_cast<double>(stored));
  std::printf("| store mapped_bytes() (segment files, page cache) after reopen, MB | %.1f |\n",
              static_cast<double>(store_mapped) / 1e6);
  std::printf("| RSS after reopen (anonymous / file-backed), MB | %.0f (%.0f / %.0f) |\n",
              rss_after_open, anon_after_open, file_after_open);
  std::printf(
      "| peak RSS (VmHWM) after load / after queries / at the end, MB | %.0f / %.0f / "
      "%.0f |\n",
      hwm_after_load, hwm_after_queries, hwm_end);
  std::printf("| RSS at the end, anonymous / file-backed, MB | %.0f / %.0f |\n", anon_end,
              file_end);
  std::printf(
      "| store memory_bytes() at the end (dedup filter built), MB / bytes per stored event | "
      "%.1f / %.1f |\n",
      static_cast<double>(store_memory_end) / 1e6,
      static_cast<double>(store_memory_end) / static_cast<double>(stored));
  std::printf("| first query after reopen (DAU UTC, actor view built), ms | %.0f |\n",
              first_query_ms);
  std::printf("| actor view alone, deviceToUser / none, ms | %.0f / %.0f |\n", view_ms[0],
              view_ms[1]);
  std::printf(
      "| actor view memory_bytes() (deviceToUser), MB / bytes per stored event | %.1f / "
      "%.1f |\n\n",
      view_mb, view_mb * 1e6 / static_cast<double>(std::max<int64_t>(stored, 1)));
  std::printf(
      "| query | cold ms | warm median ms | warm p95 ms | with ingest median ms | with ingest p95 "
      "ms | data versions seen |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < queries.size(); ++i) {
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %d |\n", queries[i].name.c_str(),
                rows[i].cold, rows[i].warm.median, rows[i].warm.p95, rows[i].ingest.median,
                rows[i].ingest.p95, rows[i].ingest_versions);
  }
  std::printf(
      "\nIngest during the last columns: %lld events appended at %.0f events/s (asked %lld), "
      "Append p50 %.1f ms, max %.1f ms; %zu merges",
      static_cast<long long>(ingest_appended), ingest_rate,
      static_cast<long long>(flags.ingest_rate), append_p50, append_max, ingest_merge_ms.size());
  for (size_t i = 0; i < ingest_merge_ms.size(); ++i) {
    std::printf("%s%.1f s", i == 0 ? " (" : ", ", ingest_merge_ms[i] / 1000.0);
  }
  std::printf(
      "%s; engine max_staleness %lld ms: %lld actor views made in the background, %lld by "
      "queries (%lld queries waited for the background), %lld of them by extension, %lld "
      "compactions.\n",
      ingest_merge_ms.empty() ? "" : ")", static_cast<long long>(flags.max_staleness_ms),
      static_cast<long long>(background_builds), static_cast<long long>(query_builds),
      static_cast<long long>(query_waits), static_cast<long long>(extensions),
      static_cast<long long>(compactions));
  std::printf(
      "\nCatching up one append of %zu events after the ingest (%lld events in the view): the "
      "actor view built whole %.0f / %.0f ms, extended (ActorView::Extend) %.0f / %.0f ms "
      "(deviceToUser / none).\n",
      kBatch, static_cast<long long>(stored + ingest_appended), whole_ms[0], whole_ms[1],
      extend_ms[0], extend_ms[1]);
  std::fflush(stdout);
  if (flags.clickhouse_reps == 0) return 0;

  const ClickHouseReport clickhouse = RunClickHouse(flags, data, queries, embedded_results);
  const double load_at_end = LoadAverage();

  std::printf(
      "\nClickHouse %s (Debian's clickhouse-server as a child process, on the same machine, "
      "after the embedded part, load average %.1f at its end; started in %.1f s): MergeTree "
      "PARTITION BY month ORDER BY "
      "(project, group_is_user, group_id, time_ms, insert_id), max_threads %s; every copy "
      "inserted, deduplicated at query time (first arrival per group and insert_id). %lld rows "
      "appended through ClickHouseWriter in %.1f s (%.0f rows/s, batches of %zu), %.1f "
      "bytes on disk per row.\n\n",
      clickhouse.version.c_str(), load_at_end, clickhouse.start_s, clickhouse.max_threads.c_str(),
      static_cast<long long>(clickhouse.rows), clickhouse.load_s,
      static_cast<double>(clickhouse.rows) / clickhouse.load_s, kBatch,
      static_cast<double>(clickhouse.bytes_on_disk) / static_cast<double>(clickhouse.rows));
  std::printf(
      "| query | ClickHouse cold ms | warm median ms | warm p95 ms | with inserts median ms | "
      "with inserts p95 ms | same answer as embedded | embedded warm median ms |\n"
      "|---|---:|---:|---:|---:|---:|---|---:|\n");
  for (size_t i = 0; i < queries.size(); ++i) {
    const ClickHouseRow& row = clickhouse.rows_by_query[i];
    if (!row.supported) {
      std::printf("| %s | not answered by the ClickHouse backend | | | | | | %.1f |\n",
                  queries[i].name.c_str(), rows[i].warm.median);
      continue;
    }
    if (!row.cold_failure.empty()) {
      std::printf("| %s | %s | | | | | | %.1f |\n", queries[i].name.c_str(),
                  row.cold_failure.c_str(), rows[i].warm.median);
      continue;
    }
    const std::string with_inserts =
        row.ingest_failure.empty()
            ? absl::StrFormat("%.1f | %.1f", row.ingest.median, row.ingest.p95)
            : absl::StrCat(row.ingest_failure, " | ");
    std::printf("| %s | %.1f | %.1f | %.1f | %s | %s | %.1f |\n", queries[i].name.c_str(), row.cold,
                row.warm.median, row.warm.p95, with_inserts.c_str(), row.equal ? "yes" : "**no**",
                rows[i].warm.median);
  }
  std::printf(
      "\nInserts during the with-inserts columns: %.0f events/s (asked %lld), insert p50 "
      "%.1f ms, max %.1f ms.\n",
      clickhouse.ingest_rate, static_cast<long long>(flags.ingest_rate), clickhouse.insert_p50,
      clickhouse.insert_max);
  return 0;
}
