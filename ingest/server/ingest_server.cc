// Wiring and start/stop order of cohort-ingest (ingest_server.h).
#include "ingest/server/ingest_server.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <system_error>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_client.h"
#include "analytics/clickhouse/clickhouse_event_store.h"
#include "analytics/engine/result_cache.h"
#include "analytics/store/embedded_event_store.h"
#include "common/http_client.h"
#include "common/process_metrics.h"
#include "config/secret_files.h"
#include "ingest/admission/actor_rate_limiter.h"
#include "ingest/admission/dedup_window.h"
#include "ingest/http/client_address.h"
#include "ingest/http/http_server.h"
#include "ingest/mapping/rule_set.h"
#include "ingest/server/amplitude_endpoint.h"
#include "ingest/server/durable_writer.h"
#include "ingest/server/event_intake.h"
#include "ingest/server/ingest_metrics.h"
#include "ingest/server/langfuse_endpoint.h"
#include "ingest/server/native_endpoint.h"
#include "ingest/server/query_endpoint.h"
#include "ingest/server/secret_watch.h"
#include "ingest/sinks/amplitude_sink.h"
#include "ingest/sinks/dead_letter.h"
#include "ingest/sinks/file_sink.h"
#include "ingest/sinks/sink_runner.h"
#include "ingest/sinks/store_sink.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cohort::ingest {

struct IngestServer::Parts {
  config::IngestConfig config;
  IngestServerOptions options;
  Registry registry;
  std::unique_ptr<IngestMetrics> metrics;
  std::vector<CollectHookHandle> hooks;
  std::atomic<bool> ready{false};
  // Set (release) once the WAL and the sinks exist; /healthz, served from the start, reads them
  // only after seeing it (acquire).
  std::atomic<bool> parts_started{false};
  mutable absl::Mutex reason_mu;
  std::string not_ready_reason ABSL_GUARDED_BY(reason_mu) = "starting";

  void SetNotReadyReason(std::string reason) {
    absl::MutexLock lock(&reason_mu);
    not_ready_reason = std::move(reason);
  }
  std::string NotReadyReason() const {
    absl::MutexLock lock(&reason_mu);
    return not_ready_reason;
  }

  // Declared in start order; Shutdown() tears them down explicitly in the order of the header.
  std::unique_ptr<http::HttpServer> metrics_server;
  std::unique_ptr<SecretWatch<config::ApiKeySet>> api_keys;
  std::unique_ptr<SecretWatch<config::DifyKeyPair>> dify_keys;
  std::unique_ptr<SecretWatch<config::QueryKeySet>> query_keys;
  std::unique_ptr<mapping::RuleSet> rules;
  std::unique_ptr<wal::Wal> wal;
  // storage: clickhouse — the HTTP client and ClickHouse client the store talks through.
  std::unique_ptr<HttpClient> clickhouse_http;
  std::unique_ptr<analytics::clickhouse::ClickHouseClient> clickhouse;
  // The event store (embedded or ClickHouse); fed by the "store" sink, outlives the sinks.
  std::unique_ptr<analytics::EventStore> store;
  // Sinks: read the log from their own positions; stopped after the writer, before the log.
  struct SinkParts {
    std::string name;
    std::unique_ptr<sinks::Sink> sink;
    sinks::AmplitudeSink* amplitude = nullptr;  // when `sink` is an Amplitude destination
    std::unique_ptr<sinks::SinkRunner> runner;
  };
  std::unique_ptr<HttpClient> http_client;
  std::unique_ptr<sinks::DeadLetterFile> dead_letter;
  std::vector<SinkParts> sinks;
  std::unique_ptr<DurableWriter> writer;
  std::unique_ptr<ActorRateLimiter> limiter;
  std::unique_ptr<DedupWindow> dedup;
  std::unique_ptr<EventIntake> intake;
  std::unique_ptr<AmplitudeEndpoint> amplitude;
  std::unique_ptr<NativeEndpoint> native;
  std::unique_ptr<LangfuseEndpoint> langfuse;
  std::unique_ptr<http::HttpServer> ingest_server;
  // The query API (auth.queryKeysFile set): its own listener and threads.
  std::unique_ptr<analytics::ResultCache> result_cache;
  std::unique_ptr<QueryEndpoint> query;
  std::unique_ptr<http::HttpServer> query_server;

  absl::Mutex watch_mu;
  bool stop_watch ABSL_GUARDED_BY(watch_mu) = false;
  std::thread watcher;

  absl::Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;
  absl::Status shutdown_status ABSL_GUARDED_BY(shutdown_mu);

  absl::Status StartMetricsListener();
  absl::Status LoadSecrets();
  absl::Status OpenWal();
  absl::Status StartSinks();
  absl::Status OpenClickHouse(const config::ClickHouseStorage& storage);
  absl::Status StartIngestListener();
  absl::Status StartQueryListener();
  void WatchSecrets();
  absl::Status Shutdown(absl::Time deadline);
  nlohmann::json Health() const;
};

namespace {

http::Response TextResponse(int status, std::string body, std::string content_type) {
  http::Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

// The WAL's disk cap under the policy of docs/ingest-config.md.
uint64_t WalCap(const config::IngestConfig& config, const IngestServerOptions& options) {
  if (options.wal_max_bytes > 0) return options.wal_max_bytes;
  if (const auto* embedded = std::get_if<config::EmbeddedStorage>(&config.storage)) {
    return static_cast<uint64_t>(embedded->size_bytes) / 2;
  }
  return uint64_t{1} << 50;  // ClickHouse: bounded by the free-space reserve alone
}

void RegisterWalMetrics(Registry& registry, wal::Wal& wal, std::vector<CollectHookHandle>& hooks) {
  Gauge& bytes = registry.AddGauge("cohort_wal_bytes",
                                   "Bytes of the write-ahead log counted against its disk cap.");
  Gauge& segments = registry.AddGauge("cohort_wal_segments", "Segments in the write-ahead log.");
  Counter& records = registry.AddCounter("cohort_wal_appended_records_total",
                                         "Records appended to the write-ahead log.");
  Counter& appended = registry.AddCounter("cohort_wal_appended_bytes_total",
                                          "Encoded bytes appended to the write-ahead log.");
  Counter& syncs = registry.AddCounter("cohort_wal_syncs_total",
                                       "fdatasyncs of log data (one per group commit).");
  Counter& sync_seconds =
      registry.AddCounter("cohort_wal_sync_seconds_total", "Time spent in those fdatasyncs.");
  Counter& refused = registry.AddCounter(
      "cohort_wal_refused_appends_total",
      "Appends refused by the disk cap or the free-space reserve (answered 503).");
  Counter& deleted = registry.AddCounter("cohort_wal_deleted_segments_total",
                                         "Sealed segments deleted once every sink was past them.");
  Gauge& quarantined =
      registry.AddGauge("cohort_wal_recovery_quarantined_segments",
                        "Segments recovery moved to quarantine/ at the last start.");
  Gauge& truncated = registry.AddGauge("cohort_wal_recovery_torn_tail",
                                       "1 when recovery truncated a torn tail at the last start.");
  quarantined.Set(static_cast<double>(wal.recovery().quarantined.size()));
  truncated.Set(wal.recovery().torn_tail ? 1 : 0);
  // Counters are pushed as deltas from the last render, so they never go down.
  // Hooks run one at a time (common/metrics.h), so `last` needs no lock.
  auto last = std::make_shared<wal::Wal::Stats>();
  hooks.push_back(registry.AddCollectHook([w = &wal, last, b = &bytes, seg = &segments,
                                           rec = &records, app = &appended, syn = &syncs,
                                           sec = &sync_seconds, ref = &refused, del = &deleted] {
    const wal::Wal::Stats s = w->stats();
    b->Set(static_cast<double>(s.total_bytes));
    seg->Set(static_cast<double>(s.segments));
    rec->Inc(static_cast<double>(s.appended_records - last->appended_records));
    app->Inc(static_cast<double>(s.appended_bytes - last->appended_bytes));
    syn->Inc(static_cast<double>(s.data_syncs - last->data_syncs));
    sec->Inc(absl::ToDoubleSeconds(s.sync_time - last->sync_time));
    ref->Inc(static_cast<double>(s.refused_appends - last->refused_appends));
    del->Inc(static_cast<double>(s.deleted_segments - last->deleted_segments));
    *last = s;
  }));
}

// The embedded store's memory: heap (what a memory limit must cover) and mapped segment files
// (page cache, reclaimed under pressure).
// The embedded engine's actor views: how they are made (analytics/store/embedded_engine.h).
void RegisterEngineMetrics(Registry& registry, const analytics::store::EmbeddedEngine& engine,
                           std::vector<CollectHookHandle>& hooks) {
  struct Series {
    Counter& counter;
    std::function<int64_t()> read;
    int64_t last = 0;
  };
  auto series = std::make_shared<std::vector<Series>>();
  series->push_back({registry.AddCounter("cohort_query_views_made_total",
                                         "Actor views made, in the background or by a query."),
                     [e = &engine] { return e->background_builds() + e->query_builds(); }});
  series->push_back(
      {registry.AddCounter("cohort_query_views_extended_total",
                           "Actor views made by extending the previous one with appended "
                           "segments rather than built whole."),
       [e = &engine] { return e->extensions(); }});
  series->push_back({registry.AddCounter("cohort_query_view_compactions_total",
                                         "Extended actor views built whole again (compacted)."),
                     [e = &engine] { return e->compactions(); }});
  series->push_back(
      {registry.AddCounter("cohort_query_view_waits_total",
                           "Queries that waited for the background view build (their answer would "
                           "have been older than the staleness bound)."),
       [e = &engine] { return e->query_waits(); }});
  // Hooks run one at a time (common/metrics.h).
  hooks.push_back(registry.AddCollectHook([series] {
    for (Series& s : *series) {
      const int64_t now = s.read();
      s.counter.Inc(static_cast<double>(now - s.last));
      s.last = now;
    }
  }));
}

void RegisterStoreMetrics(Registry& registry, const analytics::store::SegmentStore& store,
                          std::vector<CollectHookHandle>& hooks) {
  Gauge& heap = registry.AddGauge(
      "cohort_store_heap_bytes",
      "Heap held by the embedded store: segment dictionaries and the dedup filter.");
  Gauge& mapped = registry.AddGauge(
      "cohort_store_mapped_bytes",
      "Segment files the embedded store reads in place (page cache, reclaimable).");
  hooks.push_back(registry.AddCollectHook([s = &store, h = &heap, m = &mapped] {
    h->Set(static_cast<double>(s->memory_bytes()));
    m->Set(static_cast<double>(s->mapped_bytes()));
  }));
}

// The admission state: how full the dedup window and the rate limiter are, and whether the
// window forgets ids before their time (a sign max_entries is too small for the event rate).
void RegisterAdmissionMetrics(Registry& registry, const DedupWindow& dedup,
                              const ActorRateLimiter& limiter,
                              std::vector<CollectHookHandle>& hooks) {
  Gauge& entries = registry.AddGauge(
      "cohort_ingest_dedup_entries",
      "Slots of the dedup window in use (an expired id counts until its slot is reused).");
  Counter& early = registry.AddCounter(
      "cohort_ingest_dedup_evicted_early_total",
      "Ids the dedup window forgot before the window ended, to stay within its memory bound.");
  Gauge& actors = registry.AddGauge("cohort_ingest_rate_limited_actors",
                                    "Devices and users holding a rate-limit bucket.");
  auto last_early = std::make_shared<uint64_t>(0);  // hooks run one at a time (common/metrics.h)
  hooks.push_back(registry.AddCollectHook(
      [d = &dedup, l = &limiter, e = &entries, ev = &early, a = &actors, last_early] {
        const DedupWindowStats s = d->stats();
        e->Set(static_cast<double>(s.entries));
        ev->Inc(static_cast<double>(s.evicted_early - *last_early));
        *last_early = s.evicted_early;
        a->Set(static_cast<double>(l->stats().actors));
      }));
}

}  // namespace

absl::Status IngestServer::Parts::StartMetricsListener() {
  http::HttpServerOptions listener;
  listener.address = config.listeners.address;
  listener.port = static_cast<uint16_t>(config.listeners.metrics_port);
  listener.io_threads = 1;
  listener.max_connections = 64;
  listener.clock = options.clock;
  metrics_server = std::make_unique<http::HttpServer>(listener);
  auto get = [this](std::string path, http::Handler handler) {
    http::Route route;
    route.name = path;
    route.method = "GET";
    route.path = std::move(path);
    route.max_request_bytes = 1024;
    route.handler = std::move(handler);
    return metrics_server->AddRoute(std::move(route));
  };
  absl::Status status =
      get(std::string(config::kMetricsPath), [this](http::Request, http::Responder r) {
        r.Respond(TextResponse(200, registry.Render(), "text/plain; version=0.0.4; charset=utf-8"));
      });
  if (status.ok()) {
    status = get(std::string(config::kLivezPath), [](http::Request, http::Responder r) {
      r.Respond(http::JsonResponse(200, R"({"status":"ok"})"));
    });
  }
  if (status.ok()) {
    status = get(std::string(config::kReadyzPath), [this](http::Request, http::Responder r) {
      const bool ok = ready.load();
      nlohmann::json body = {{"status", ok ? "ok" : "not ready"}};
      if (!ok) body["reason"] = NotReadyReason();
      r.Respond(http::JsonResponse(ok ? 200 : 503, body.dump()));
    });
  }
  if (status.ok()) {
    status = get(std::string(config::kHealthzPath), [this](http::Request, http::Responder r) {
      r.Respond(http::JsonResponse(ready.load() ? 200 : 503, Health().dump()));
    });
  }
  if (!status.ok()) return status;
  return metrics_server->Start();
}

nlohmann::json IngestServer::Parts::Health() const {
  nlohmann::json health = {{"status", ready.load() ? "ok" : "not ready"}};
  if (!ready.load()) health["reason"] = NotReadyReason();
  if (!parts_started.load(std::memory_order_acquire)) return health;
  if (wal != nullptr) {
    const wal::Wal::Stats s = wal->stats();
    health["wal"] = {{"bytes", s.total_bytes},
                     {"segments", s.segments},
                     {"recovery", wal->recovery().ToString()}};
  }
  for (const SinkParts& sink : sinks) {
    nlohmann::json entry = {{"name", sink.name}};
    if (sink.amplitude != nullptr) {
      const sinks::AmplitudeSink::Health h = sink.amplitude->health();
      entry["state"] = h.state;
      if (!h.detail.empty()) entry["detail"] = h.detail;
    }
    if (sink.runner != nullptr) {
      const sinks::SinkRunner::Stats st = sink.runner->stats();
      entry["delivered"] = st.delivered_events;
      entry["deadLettered"] = st.dead_lettered;
      entry["retries"] = st.retries;
    }
    health["sinks"].push_back(std::move(entry));
  }
  return health;
}

absl::Status IngestServer::Parts::LoadSecrets() {
  if (config.sources.amplitude.enabled || config.sources.native.enabled) {
    absl::StatusOr<std::unique_ptr<SecretWatch<config::ApiKeySet>>> keys =
        SecretWatch<config::ApiKeySet>::Create({config.auth.api_keys_file},
                                               [](const std::vector<std::string>& contents) {
                                                 return config::ApiKeySet::Parse(contents[0]);
                                               });
    if (!keys.ok()) {
      return absl::Status(keys.status().code(),
                          absl::StrCat("auth.apiKeysFile: ", keys.status().message()));
    }
    api_keys = *std::move(keys);
  }
  if (config.sources.dify.enabled) {
    const config::DifyKeyFiles files = config.auth.dify_keys.value_or(config::DifyKeyFiles{});
    absl::StatusOr<std::unique_ptr<SecretWatch<config::DifyKeyPair>>> keys =
        SecretWatch<config::DifyKeyPair>::Create({files.public_key_file, files.secret_key_file},
                                                 [](const std::vector<std::string>& contents) {
                                                   return config::DifyKeyPair::Parse(contents[0],
                                                                                     contents[1]);
                                                 });
    if (!keys.ok()) {
      return absl::Status(keys.status().code(),
                          absl::StrCat("auth.difyKeys: ", keys.status().message()));
    }
    dify_keys = *std::move(keys);
  }
  if (config.auth.query_keys_file.has_value()) {
    absl::StatusOr<std::unique_ptr<SecretWatch<config::QueryKeySet>>> keys =
        SecretWatch<config::QueryKeySet>::Create({*config.auth.query_keys_file},
                                                 [](const std::vector<std::string>& contents) {
                                                   return config::QueryKeySet::Parse(contents[0]);
                                                 });
    if (!keys.ok()) {
      return absl::Status(keys.status().code(),
                          absl::StrCat("auth.queryKeysFile: ", keys.status().message()));
    }
    query_keys = *std::move(keys);
  }
  watcher = std::thread([this] { WatchSecrets(); });
  return absl::OkStatus();
}

void IngestServer::Parts::WatchSecrets() {
  for (;;) {
    {
      absl::MutexLock lock(&watch_mu);
      const absl::Time deadline = options.clock->Now() + options.secret_check_interval;
      options.clock->AwaitWithDeadline(watch_mu,
                                       absl::Condition(
                                           +[](bool* stop) { return *stop; }, &stop_watch),
                                       deadline);
      if (stop_watch) return;
    }
    if (query_keys != nullptr) {
      bool reloaded = false;
      absl::Status status = query_keys->Check(&reloaded);
      if (!status.ok()) {
        metrics->CountSecretReloadFailure("query-keys");
        spdlog::error("query keys not reloaded, the previous keys stay in service: {}",
                      std::string(status.message()));
      } else if (reloaded) {
        spdlog::info("query keys reloaded ({} keys)", query_keys->Get()->size());
      }
    }
    if (api_keys != nullptr) {
      bool reloaded = false;
      absl::Status status = api_keys->Check(&reloaded);
      if (!status.ok()) {
        metrics->CountSecretReloadFailure("api-keys");
        spdlog::error("api keys not reloaded, the previous keys stay in service: {}",
                      std::string(status.message()));
      } else if (reloaded) {
        spdlog::info("api keys reloaded ({} keys)", api_keys->Get()->size());
      }
    }
    if (dify_keys != nullptr) {
      bool reloaded = false;
      absl::Status status = dify_keys->Check(&reloaded);
      if (!status.ok()) {
        metrics->CountSecretReloadFailure("dify-keys");
        spdlog::error("Dify key pair not reloaded, the previous pair stays in service: {}",
                      std::string(status.message()));
      } else if (reloaded) {
        spdlog::info("Dify key pair reloaded");
      }
    }
  }
}

absl::Status IngestServer::Parts::OpenWal() {
  // In a pod the data directory is the volume's mount point; locally it may not exist yet.
  std::error_code ec;
  std::filesystem::create_directories(config.paths.data_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create paths.dataDir ", config.paths.data_dir, ": ", ec.message()));
  }
  wal::WalOptions wal_options;
  wal_options.dir = config::WalDir(config.paths);
  wal_options.env = options.env;
  wal_options.clock = options.clock;
  wal_options.max_total_bytes = WalCap(config, options);
  wal_options.min_free_bytes = options.wal_min_free_bytes;
  wal_options.on_fatal = options.on_wal_fatal;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<wal::Wal>> opened = wal::Wal::Open(std::move(wal_options));
  if (!opened.ok()) return opened.status();
  wal = *std::move(opened);
  const wal::RecoveryReport& report = wal->recovery();
  if (report.clean()) {
    spdlog::info("write-ahead log recovered in {}: {}", absl::FormatDuration(absl::Now() - start),
                 report.ToString());
  } else {
    spdlog::warn("write-ahead log recovered in {} with repairs: {}",
                 absl::FormatDuration(absl::Now() - start), report.ToString());
  }
  RegisterWalMetrics(registry, *wal, hooks);
  return absl::OkStatus();
}

absl::Status IngestServer::Parts::OpenClickHouse(const config::ClickHouseStorage& storage) {
  analytics::clickhouse::ClickHouseClientOptions client;
  client.url = storage.url;
  // No default database: the store's SQL names its tables in full, and MigrateSchema creates
  // the database, which a connection to it could not.
  // Through a Distributed table an insert is acknowledged only once every shard has the rows.
  if (!storage.cluster.empty()) client.settings.emplace_back("insert_distributed_sync", "1");
  if (storage.credentials) {
    // Read once at start; a rotated password takes a restart (the Deployment's config hash
    // changes with the Secret's reference, not its content).
    for (auto [file, into] : {std::pair{&storage.credentials->username_file, &client.user},
                              std::pair{&storage.credentials->password_file, &client.password}}) {
      std::ifstream in(*file);
      if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", *file));
      std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      *into = std::string(absl::StripTrailingAsciiWhitespace(value));
    }
  }
  HttpClientOptions http_options;
  http_options.ca_file = options.destination_ca_file;
  http_options.max_response_bytes = uint64_t{256} << 20;  // query answers
  http_options.request_timeout = absl::Minutes(5);
  absl::StatusOr<std::unique_ptr<HttpClient>> http = MakeHttpClient(http_options);
  if (!http.ok()) return http.status();
  clickhouse_http = *std::move(http);
  client.http = clickhouse_http.get();
  client.clock = options.clock;
  absl::StatusOr<std::unique_ptr<analytics::clickhouse::ClickHouseClient>> made =
      analytics::clickhouse::ClickHouseClient::Create(std::move(client));
  if (!made.ok()) return made.status();
  clickhouse = *std::move(made);
  analytics::clickhouse::ClickHouseEventStoreOptions store_options;
  store_options.schema = {.database = storage.database, .cluster = storage.cluster};
  store_options.max_batch_rows = static_cast<size_t>(storage.batch_size);
  store_options.clock = options.clock;
  absl::StatusOr<std::unique_ptr<analytics::clickhouse::ClickHouseEventStore>> created =
      analytics::clickhouse::ClickHouseEventStore::Create(*clickhouse, std::move(store_options));
  if (!created.ok()) return created.status();
  store = *std::move(created);
  return absl::OkStatus();
}

absl::Status IngestServer::Parts::StartSinks() {
  const std::string dead_letter_dir = config.paths.data_dir + "/dead-letter";
  std::error_code ec;
  std::filesystem::create_directories(dead_letter_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", dead_letter_dir, ": ", ec.message()));
  }
  absl::StatusOr<std::unique_ptr<sinks::JsonLinesFile>> letters = sinks::JsonLinesFile::Open(
      {.path = dead_letter_dir + "/dead-letter.jsonl", .env = options.env, .max_bytes = 0});
  if (!letters.ok()) return letters.status();
  dead_letter = std::make_unique<sinks::DeadLetterFile>(*std::move(letters));

  if (!options.jsonl_sink_path.empty()) {
    absl::StatusOr<std::unique_ptr<sinks::FileSink>> file = sinks::FileSink::Open(
        {.path = options.jsonl_sink_path, .env = options.env, .max_bytes = 0});
    if (!file.ok()) return file.status();
    SinkParts part;
    part.name = "jsonl-file";
    part.sink = *std::move(file);
    sinks::SinkRunnerOptions runner;
    runner.name = part.name;
    runner.max_batch_events = 1000;
    runner.flush_interval = absl::Seconds(1);
    runner.clock = options.clock;
    runner.registry = &registry;
    runner.dead_letter = dead_letter.get();
    part.runner = std::make_unique<sinks::SinkRunner>(*wal, *part.sink, runner);
    sinks.push_back(std::move(part));
  }
  absl::Duration retention = absl::ZeroDuration();  // ClickHouse: none configured here
  int64_t store_batch = 10000;
  // Freshness: an acknowledged event is stored (and visible to queries) within ~0.2 s.
  absl::Duration store_flush = absl::Milliseconds(200);
  if (const auto* embedded = std::get_if<config::EmbeddedStorage>(&config.storage)) {
    analytics::store::SegmentStoreOptions store_options;
    store_options.dir = config::StoreDir(config.paths);
    store_options.env = options.env;
    analytics::store::OpenReport report;
    absl::Time start = absl::Now();
    absl::StatusOr<std::unique_ptr<analytics::store::EmbeddedEventStore>> opened =
        analytics::store::EmbeddedEventStore::Open(
            store_options, &report,
            // Queries under live ingest are answered from the previous actor view for at most
            // 0.5 s while the new one is built in the background: with the sink's 0.2 s flush,
            // an acknowledged event is still visible within 1 s (docs/metrics.md, Freshness).
            {.max_staleness = absl::Milliseconds(500),
             .keep_warm = absl::Minutes(5),
             .builder_nice = 10,
             .clock = options.clock});
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("event store: ", opened.status().message()));
    }
    RegisterStoreMetrics(registry, (*opened)->segments(), hooks);
    RegisterEngineMetrics(registry, (*opened)->engine(), hooks);
    store = *std::move(opened);
    spdlog::info("event store: {} events in {} segments loaded in {}", report.events,
                 report.segments, absl::FormatDuration(absl::Now() - start));
    for (const std::string& file : report.quarantined) {
      spdlog::error(
          "event store: {} failed its checksums and was renamed *.bad; its events are "
          "not in query results",
          file);
    }
    retention = embedded->retention;
  } else {
    const auto& clickhouse_config = std::get<config::ClickHouseStorage>(config.storage);
    if (absl::Status s = OpenClickHouse(clickhouse_config); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("storage.clickhouse: ", s.message()));
    }
    store_batch = clickhouse_config.batch_size;
    store_flush = clickhouse_config.flush_interval;
    spdlog::info("event store: ClickHouse at {}, database {}{}", clickhouse_config.url,
                 clickhouse_config.database,
                 clickhouse_config.cluster.empty()
                     ? ""
                     : absl::StrCat(", cluster ", clickhouse_config.cluster));
  }
  {
    SinkParts part;
    part.name = "store";
    part.sink = std::make_unique<sinks::StoreSink>(sinks::StoreSinkOptions{
        .store = store.get(), .dead_letter = dead_letter.get(), .retention = retention});
    sinks::SinkRunnerOptions runner;
    runner.name = part.name;
    runner.max_batch_events = store_batch;
    runner.flush_interval = store_flush;
    runner.clock = options.clock;
    runner.registry = &registry;
    runner.dead_letter = dead_letter.get();
    part.runner = std::make_unique<sinks::SinkRunner>(*wal, *part.sink, runner);
    sinks.push_back(std::move(part));
  }
  for (const config::Destination& destination : config.destinations) {
    if (!destination.amplitude.has_value()) continue;
    if (http_client == nullptr) {
      HttpClientOptions client;
      client.ca_file = options.destination_ca_file;
      absl::StatusOr<std::unique_ptr<HttpClient>> made = MakeHttpClient(client);
      if (!made.ok()) return made.status();
      http_client = *std::move(made);
    }
    sinks::AmplitudeSinkOptions amp;
    amp.name = destination.name;
    amp.destination = *destination.amplitude;
    amp.client = http_client.get();
    amp.dead_letter = dead_letter.get();
    amp.registry = &registry;
    absl::StatusOr<std::unique_ptr<sinks::AmplitudeSink>> sink =
        sinks::AmplitudeSink::Create(std::move(amp));
    if (!sink.ok()) {
      return absl::Status(sink.status().code(), absl::StrCat("destinations[", destination.name,
                                                             "]: ", sink.status().message()));
    }
    SinkParts part;
    // WAL sink names are [a-z0-9][a-z0-9._-]{0,62}; destination names are DNS labels.
    part.name = absl::StrCat("amplitude.", destination.name).substr(0, 63);
    part.amplitude = sink->get();
    part.sink = *std::move(sink);
    sinks::SinkRunnerOptions runner;
    runner.name = part.name;
    runner.max_batch_events = destination.amplitude->batch_size;
    runner.flush_interval = destination.amplitude->flush_interval;
    runner.concurrency = 2;
    runner.clock = options.clock;
    runner.registry = &registry;
    runner.dead_letter = dead_letter.get();
    part.runner = std::make_unique<sinks::SinkRunner>(*wal, *part.sink, runner);
    sinks.push_back(std::move(part));
  }
  for (SinkParts& part : sinks) {
    if (absl::Status started = part.runner->Start(); !started.ok()) {
      return absl::Status(started.code(),
                          absl::StrCat("sink ", part.name, ": ", started.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status IngestServer::Parts::StartIngestListener() {
  writer = std::make_unique<DurableWriter>(*wal,
                                           DurableWriterOptions{.threads = options.writer_threads});
  ActorRateLimiterOptions limits;
  limits.events_per_second = static_cast<double>(config.limits.events_per_second_per_device);
  limits.user_events_per_second = static_cast<double>(config.limits.events_per_second_per_user);
  absl::StatusOr<std::unique_ptr<ActorRateLimiter>> limiter_or =
      ActorRateLimiter::Create(limits, *options.clock);
  if (!limiter_or.ok()) return limiter_or.status();
  limiter = *std::move(limiter_or);
  dedup = std::make_unique<DedupWindow>(DedupWindowOptions{.window = config.limits.dedup_window},
                                        *options.clock);
  RegisterAdmissionMetrics(registry, *dedup, *limiter, hooks);
  absl::StatusOr<mapping::RuleSet> compiled = mapping::RuleSet::Compile(config.mapping);
  if (!compiled.ok()) return compiled.status();
  rules = std::make_unique<mapping::RuleSet>(*std::move(compiled));
  EventMapper mapper;
  if (rules->size() > 0) {
    mapper = [r = rules.get()](Event& e) { return r->Apply(e); };
  }
  intake = std::make_unique<EventIntake>(EventIntakeOptions{.mapper = std::move(mapper),
                                                            .limiter = limiter.get(),
                                                            .dedup = dedup.get(),
                                                            .writer = writer.get(),
                                                            .metrics = metrics.get()});

  http::HttpServerOptions listener =
      http::ListenerOptions(config, static_cast<uint16_t>(config.listeners.ingest_port));
  listener.io_threads = options.io_threads;
  listener.clock = options.clock;
  IngestMetrics* m = metrics.get();
  listener.on_response = [m](const std::string& route, int status, absl::Duration latency) {
    m->ObserveResponse(route, status, latency);
  };
  ingest_server = std::make_unique<http::HttpServer>(listener);

  absl::StatusOr<std::vector<http::Cidr>> proxies =
      http::ParseCidrs(config.identity.trusted_proxies);
  if (!proxies.ok()) return proxies.status();
  if (config.sources.amplitude.enabled) {
    AmplitudeEndpointOptions amp;
    SecretWatch<config::ApiKeySet>* keys = api_keys.get();
    amp.keys = [keys] { return keys->Get(); };
    amp.parser.default_min_id_length = config.identity.min_id_length;
    amp.parser.max_events_per_request = config.limits.max_events_per_request;
    amp.trusted_proxies = *proxies;
    amp.truncate_ip = config.identity.truncate_ip;
    amp.intake = intake.get();
    amp.metrics = metrics.get();
    amp.clock = options.clock;
    amplitude = std::make_unique<AmplitudeEndpoint>(std::move(amp));
    for (amplitude::Endpoint e : {amplitude::Endpoint::kHttpApi, amplitude::Endpoint::kBatch}) {
      absl::Status added =
          ingest_server->AddRoute(amplitude->MakeRoute(e, config.limits.max_request_bytes));
      if (!added.ok()) return added;
    }
  }
  if (config.sources.native.enabled) {
    NativeEndpointOptions opts;
    SecretWatch<config::ApiKeySet>* keys = api_keys.get();
    opts.keys = [keys] { return keys->Get(); };
    opts.parser.max_events_per_request = config.limits.max_events_per_request;
    opts.intake = intake.get();
    opts.metrics = metrics.get();
    opts.clock = options.clock;
    native = std::make_unique<NativeEndpoint>(std::move(opts));
    if (absl::Status added =
            ingest_server->AddRoute(native->MakeRoute(config.limits.max_request_bytes));
        !added.ok()) {
      return added;
    }
  }
  if (config.sources.dify.enabled) {
    LangfuseEndpointOptions opts;
    opts.path_prefix = config.sources.dify.path_prefix;
    SecretWatch<config::DifyKeyPair>* keys = dify_keys.get();
    opts.keys = [keys] { return keys->Get(); };
    opts.assembler.capture_content = config.sources.dify.capture_content;
    opts.limits.max_items = config.limits.max_events_per_request;
    opts.intake = intake.get();
    opts.clock = options.clock;
    langfuse = std::make_unique<LangfuseEndpoint>(std::move(opts), registry);
    for (http::Route& route : langfuse->MakeRoutes(
             std::min<int64_t>(config.limits.max_request_bytes, kLangfuseMaxRequestBytes))) {
      if (absl::Status added = ingest_server->AddRoute(std::move(route)); !added.ok()) {
        return added;
      }
    }
  }
  return ingest_server->Start();
}

absl::Status IngestServer::Parts::Shutdown(absl::Time deadline) {
  absl::MutexLock lock(&shutdown_mu);
  if (shut_down) return shutdown_status;
  shut_down = true;
  SetNotReadyReason("shutting down");
  ready.store(false);
  absl::Status result;
  if (query_server != nullptr) (void)query_server->Drain(options.clock->Now());
  query.reset();  // waits for a running query
  if (ingest_server != nullptr) {
    absl::Status drained = ingest_server->Drain(deadline);
    if (!drained.ok()) {
      spdlog::warn("ingest listener: {}", std::string(drained.message()));
      result = drained;
    }
  }
  writer.reset();  // finishes the queued appends; their answers go nowhere if cut off
  // Sinks get what is left of the deadline; what they have not acknowledged is delivered again
  // after the restart.
  for (SinkParts& sink : sinks) {
    if (sink.runner == nullptr) continue;
    absl::Status stopped = sink.runner->Stop(deadline);
    if (!stopped.ok()) {
      spdlog::warn("sink {}: {}", sink.name, std::string(stopped.message()));
      if (result.ok()) result = stopped;
    }
  }
  {
    absl::MutexLock watch_lock(&watch_mu);
    stop_watch = true;
  }
  if (watcher.joinable()) watcher.join();
  if (wal != nullptr) wal->Close();
  if (metrics_server != nullptr) (void)metrics_server->Drain(options.clock->Now());
  shutdown_status = result;
  return result;
}

IngestServer::IngestServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

IngestServer::~IngestServer() {
  if (parts_ != nullptr) (void)parts_->Shutdown(parts_->options.clock->Now());
}

absl::StatusOr<std::unique_ptr<IngestServer>> IngestServer::Start(config::IngestConfig config,
                                                                  IngestServerOptions options) {
  if (absl::Status valid = config::ValidateIngestConfig(config); !valid.ok()) return valid;
  auto parts = std::make_unique<Parts>();
  parts->config = std::move(config);
  parts->options = std::move(options);
  parts->metrics = std::make_unique<IngestMetrics>(parts->registry);
  parts->hooks.push_back(RegisterProcessMetrics(parts->registry));
  Gauge& ready_gauge =
      parts->registry.AddGauge("cohort_ingest_ready", "1 while /readyz answers 200.");
  Parts* p = parts.get();
  parts->hooks.push_back(
      parts->registry.AddCollectHook([p, &ready_gauge] { ready_gauge.Set(p->ready.load()); }));
  // From here on the destructor of `server` runs Shutdown on any error.
  std::unique_ptr<IngestServer> server(new IngestServer(std::move(parts)));
  if (absl::Status s = p->StartMetricsListener(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("metrics listener: ", s.message()));
  }
  p->SetNotReadyReason("reading secrets");
  if (absl::Status s = p->LoadSecrets(); !s.ok()) return s;
  p->SetNotReadyReason("recovering the write-ahead log");
  if (absl::Status s = p->OpenWal(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("write-ahead log: ", s.message()));
  }
  p->SetNotReadyReason("starting the sinks");
  if (absl::Status s = p->StartSinks(); !s.ok()) return s;
  p->parts_started.store(true, std::memory_order_release);
  p->SetNotReadyReason("starting the ingest listener");
  if (absl::Status s = p->StartIngestListener(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("ingest listener: ", s.message()));
  }
  if (absl::Status s = p->StartQueryListener(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("query listener: ", s.message()));
  }
  p->ready.store(true);
  spdlog::info("cohort-ingest ready: ingest on {}:{}, metrics on {}:{}, query on {}",
               p->config.listeners.address, server->ingest_port(), p->config.listeners.address,
               server->metrics_port(),
               p->query_server != nullptr ? absl::StrCat(server->query_port()) : "(off)");
  return server;
}

absl::Status IngestServer::Parts::StartQueryListener() {
  if (query_keys == nullptr) return absl::OkStatus();
  result_cache = std::make_unique<analytics::ResultCache>(int64_t{64} << 20);
  SecretWatch<config::QueryKeySet>* keys = query_keys.get();
  query =
      std::make_unique<QueryEndpoint>(QueryEndpointOptions{.keys = [keys] { return keys->Get(); },
                                                           .store = store.get(),
                                                           .cache = result_cache.get(),
                                                           .clock = options.clock});
  http::HttpServerOptions listener =
      http::ListenerOptions(config, static_cast<uint16_t>(config.listeners.query_port));
  listener.io_threads = 1;
  listener.clock = options.clock;
  IngestMetrics* m = metrics.get();
  listener.on_response = [m](const std::string& route, int status, absl::Duration latency) {
    m->ObserveResponse(route, status, latency);
  };
  query_server = std::make_unique<http::HttpServer>(listener);
  for (http::Route& route : query->MakeRoutes()) {
    if (absl::Status added = query_server->AddRoute(std::move(route)); !added.ok()) return added;
  }
  return query_server->Start();
}

uint16_t IngestServer::query_port() const {
  return parts_->query_server != nullptr ? parts_->query_server->port() : 0;
}

uint16_t IngestServer::ingest_port() const {
  return parts_->ingest_server != nullptr ? parts_->ingest_server->port() : 0;
}
uint16_t IngestServer::metrics_port() const {
  return parts_->metrics_server != nullptr ? parts_->metrics_server->port() : 0;
}
bool IngestServer::ready() const { return parts_->ready.load(); }
absl::Status IngestServer::Shutdown(absl::Time deadline) { return parts_->Shutdown(deadline); }
const config::IngestConfig& IngestServer::config() const { return parts_->config; }
Registry& IngestServer::registry() { return parts_->registry; }
wal::Wal& IngestServer::wal() { return *parts_->wal; }

}  // namespace cohort::ingest
