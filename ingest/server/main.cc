// cohort-ingest: the event ingest server every AnalyticsPipeline runs (ingest_server.h), started
// from the configuration the operator renders into the pod (/etc/cohort/config/config.yaml) or
// from any file with --config for local use.
//
// Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 when the server cannot start
// (bad config, unreadable secrets, WAL recovery failure, port in use), 2 for bad flags. A second
// signal exits at once (nothing acknowledged is lost: the WAL is fdatasynced before every 2xx).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/flag_set.h"
#include "common/heap_trimmer.h"
#include "common/logging.h"
#include "config/ingest_config.h"
#include "ingest/server/ingest_server.h"
#include "ingest/server/secret_watch.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest {
namespace {

constexpr char kDescription[] =
    "The cohort-ingest event server: the Amplitude HTTP API, Dify's Langfuse-compatible tracing "
    "API and a native envelope, stored durably in a write-ahead log and forwarded to sinks.";

void FlushLogs() {
  if (auto logger = spdlog::default_logger()) logger->flush();
}

int Main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask and the signals reach sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  LimitMallocArenas(2);
  signal(SIGPIPE, SIG_IGN);
  // Debian's Abseil is built with Mutex deadlock detection on, which records a lock graph on
  // every Lock (≈1 % of the ingest's CPU); tests keep it, the server does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  std::string config_path(config::kConfigFilePath);
  std::string log_format = "text";
  std::string log_level = "info";
  // The pod's terminationGracePeriodSeconds is 60: drain, then give sinks the rest.
  absl::Duration shutdown_timeout = absl::Seconds(50);
  int io_threads = 2;
  int writer_threads = 2;
  std::string ready_file;
  std::string jsonl_sink;
  std::string destination_ca_file;
  FlagSet flags("cohort-ingest");
  flags.Add("config", &config_path,
            "The ingest configuration file (YAML or JSON; docs/ingest-config.md).");
  flags.Add("log-format", &log_format, "text or json.");
  flags.Add("log-level", &log_level, "trace, debug, info, warn, error or critical.");
  flags.Add("shutdown-timeout", &shutdown_timeout,
            "How long a graceful shutdown may take before requests in flight are cut off.");
  flags.Add("io-threads", &io_threads, "I/O threads of the ingest listener.");
  flags.Add("writer-threads", &writer_threads,
            "Write-ahead-log writer threads; each appends everything queued with one fdatasync.");
  flags.Add("ready-file", &ready_file,
            "Once ready, write {\"ingestPort\":N,\"metricsPort\":N,\"queryPort\":N,\"pid\":N} here "
            "(for tests "
            "and local runs that configure port 0).");
  flags.Add("jsonl-sink", &jsonl_sink,
            "Also write every stored event to this JSON-lines file (local runs; at least once).");
  flags.Add("destination-ca-file", &destination_ca_file,
            "PEM CA bundle the Amplitude destinations trust (default: the system's).");
  absl::StatusOr<std::vector<std::string>> positional = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    fputs(flags.Usage(kDescription).c_str(), stdout);
    return 0;
  }
  if (!positional.ok()) {
    fprintf(stderr, "cohort-ingest: %s\n", std::string(positional.status().message()).c_str());
    return 2;
  }
  if (!positional->empty()) {
    fprintf(stderr, "cohort-ingest: unexpected argument \"%s\" (see --help)\n",
            positional->front().c_str());
    return 2;
  }
  if (io_threads < 1 || writer_threads < 1) {
    fprintf(stderr, "cohort-ingest: --io-threads and --writer-threads must be >= 1\n");
    return 2;
  }
  absl::StatusOr<LogFormat> format = ParseLogFormat(log_format);
  if (!format.ok()) {
    fprintf(stderr, "cohort-ingest: --log-format: %s\n",
            std::string(format.status().message()).c_str());
    return 2;
  }
  if (absl::Status s = ConfigureLogging(*format, log_level); !s.ok()) {
    fprintf(stderr, "cohort-ingest: --log-level: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto fail = [](std::string_view what, const absl::Status& s) {
    spdlog::critical("{}: {}", what, s.ToString());
    FlushLogs();
    return 1;
  };

  absl::StatusOr<std::string> text = ReadSmallFile(config_path, config::kMaxConfigBytes);
  if (!text.ok()) return fail("reading the configuration", text.status());
  absl::StatusOr<config::IngestConfig> config = config::ParseIngestConfig(*text);
  if (!config.ok()) {
    return fail(absl::StrCat("configuration ", config_path), config.status());
  }

  HeapTrimmer trimmer(absl::Seconds(30), RealClock::Get());
  IngestServerOptions options;
  options.io_threads = io_threads;
  options.writer_threads = writer_threads;
  options.jsonl_sink_path = jsonl_sink;
  options.destination_ca_file = destination_ca_file;
  absl::StatusOr<std::unique_ptr<IngestServer>> server =
      IngestServer::Start(*std::move(config), options);
  if (!server.ok()) return fail("starting", server.status());
  if (!ready_file.empty()) {
    const std::string text = absl::StrCat(
        R"({"ingestPort":)", (*server)->ingest_port(), R"(,"queryPort":)", (*server)->query_port(),
        R"(,"metricsPort":)", (*server)->metrics_port(), R"(,"pid":)", getpid(), "}\n");
    const std::string tmp = ready_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    const bool written = f != nullptr && std::fputs(text.c_str(), f) >= 0;
    if (f != nullptr) std::fclose(f);
    if (!written || std::rename(tmp.c_str(), ready_file.c_str()) != 0) {
      return fail("--ready-file", absl::InternalError(absl::StrCat("cannot write ", ready_file)));
    }
  }

  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  spdlog::info("received {}: shutting down (within {}; again to exit at once)",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", absl::FormatDuration(shutdown_timeout));
  // A second signal during the drain exits at once.
  std::thread([set]() mutable {
    int again = 0;
    while (sigwait(&set, &again) != 0) {
    }
    spdlog::error("received a second signal: exiting at once");
    FlushLogs();
    std::_Exit(1);
  }).detach();
  absl::Status shutdown = (*server)->Shutdown(absl::Now() + shutdown_timeout);
  if (!shutdown.ok()) spdlog::warn("shutdown: {}", std::string(shutdown.message()));
  server->reset();
  spdlog::info("cohort-ingest stopped");
  FlushLogs();
  return 0;
}

}  // namespace
}  // namespace cohort::ingest

int main(int argc, char** argv) { return cohort::ingest::Main(argc, argv); }
