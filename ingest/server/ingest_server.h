// The cohort-ingest server: one IngestConfig turned into running listeners. It owns every part
// (the WAL, the write pool, rate limits, dedup window, endpoints, HTTP listeners, secret
// watchers, sinks) and the order they start and stop in:
//
//   Start:    the metrics listener (/livez 200 at once, /readyz 503) → the secret files read
//             (a missing or invalid key file fails the start) → WAL recovery → sinks (one
//             runner per destination, plus the JSON-lines file if asked) → endpoints → the
//             ingest listener → ready (/readyz 200).
//   Shutdown: not ready (/readyz 503, so endpoints stop sending new traffic) → the ingest
//             listener drains (stops accepting, answers requests in flight) → the write pool
//             finishes queued appends → sinks stop at their deadline (what they have not
//             acknowledged is delivered again after the restart) → the WAL closes → the metrics
//             listener stops.
//
// Nothing acknowledged is lost at any point: a 2xx is sent only after fdatasync, and a kill -9
// anywhere leaves a log that recovery reads back.
//
// Ports come from config.listeners (0 = any free port; ingest_port()/metrics_port() tell).
// The query listener belongs to the analytics engine (issue 6) and is not opened yet.
//
// Thread-safe after Start: ready(), ports and Shutdown may be called from any thread (Shutdown
// blocks; call it once, not from an I/O thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "config/ingest_config.h"
#include "ingest/wal/wal.h"

namespace cohort::ingest {

struct IngestServerOptions {
  Clock* clock = &RealClock::Get();
  Env* env = &PosixEnv();
  int io_threads = 2;      // per listener
  int writer_threads = 2;  // DurableWriterOptions::threads
  // How often the mounted secret files are reread (Kubernetes updates them in place).
  absl::Duration secret_check_interval = absl::Seconds(10);
  // The WAL's disk cap; 0 = the policy in docs/ingest-config.md (embedded: half the storage
  // size, the store has the rest; ClickHouse: only the free-space reserve).
  uint64_t wal_max_bytes = 0;
  uint64_t wal_min_free_bytes = 256 << 20;
  // Called on a failed fdatasync (must not return in production; tests pass a recorder).
  std::function<void(const absl::Status&)> on_wal_fatal = wal::LogAndAbort;
  // Set: a JSON-lines file sink writes every stored event to this file (local runs, the demo).
  std::string jsonl_sink_path;
  // The Amplitude destinations' HTTP client: its CA bundle (empty: the system's) and timeouts.
  std::string destination_ca_file;
};

class IngestServer {
 public:
  // Starts everything (see above) and returns once ready. Errors: kInvalidArgument (config),
  // the secret files' errors (naming the file, never its contents), WAL recovery errors,
  // kUnavailable when a port cannot be bound. On error everything started is stopped again.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<IngestServer>> Start(
      config::IngestConfig config, IngestServerOptions options = {});

  // Shuts down at once if Shutdown was not called.
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  uint16_t ingest_port() const;
  uint16_t metrics_port() const;
  // 0 while the query API is off (no auth.queryKeysFile, or not embedded storage).
  uint16_t query_port() const;
  bool ready() const;

  // The graceful stop above, finishing by `deadline` (on the clock). kDeadlineExceeded when
  // requests had to be cut off or sinks stopped before catching up (nothing acknowledged is lost
  // either way). Idempotent.
  absl::Status Shutdown(absl::Time deadline);

  const config::IngestConfig& config() const;
  Registry& registry();
  wal::Wal& wal();

  struct Parts;  // implementation

 private:
  explicit IngestServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace cohort::ingest
