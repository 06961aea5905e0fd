// The operator's HTTP endpoints for Prometheus and the kubelet:
//   GET /metrics  Registry::Render(), as "text/plain; version=0.0.4; charset=utf-8"
//   GET /healthz  200 "ok" while the liveness check returns OK, else 503 with its message
//   GET /readyz   200 "ok" while the readiness check returns OK (e.g. caches synced), else 503
//                 with its message (the reason) as the body
// Anything else is 404; other methods than GET and HEAD on a known path are 405. The query string
// is ignored. The operator runs two servers as controller-runtime does: metrics on
// 127.0.0.1:8080 and probes on :8081.
//
// HTTP/1.1 with keep-alive, on one I/O thread of its own (Boost.Beast); requests are answered one
// at a time. Untrusted input is bounded and never fatal: a request larger than max_request_bytes
// or one that does not parse gets a 400 (which a client still sending may not see) and the
// connection is closed; a connection idle for idle_timeout, or past max_connections, is closed.
// The timeouts are real time (they guard sockets, not logic).
//
// The checks and the registry's Render() run on the I/O thread: they must be quick, must not
// block, and must not call Stop(). A check that throws counts as failing. The registry must
// outlive the server.
//
// Lifecycle: construct, Start() once, Stop() (the destructor stops too). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "operator/runtime_metrics.h"

namespace cohort::op {

class HealthServer {
 public:
  // Returns OK when healthy (ready); otherwise the status message is sent as the reason.
  using Check = std::function<absl::Status()>;

  struct Options {
    // "host:port". An empty host (":8081") means every IPv4 interface; IPv6 literals go in
    // brackets ("[::1]:8080"); a host name is resolved once, at Start(), to its first IPv4
    // address if it has one. Port 0 picks a free port (see port()).
    std::string bind_address = "127.0.0.1:8080";
    // Serves /metrics from it when set (borrowed; must outlive the server). Null: /metrics is 404.
    const Registry* registry = nullptr;
    // Serves /healthz and /readyz. False: both are 404.
    bool serve_probes = true;
    // Null: always OK (the process answers, so it is alive; it has nothing to wait for).
    Check liveness;
    Check readiness;
    // The most a request's line and headers may take, and separately its body.
    size_t max_request_bytes = 16 * 1024;
    int max_connections = 64;
    // A connection that sends no complete request for this long is closed.
    absl::Duration idle_timeout = absl::Seconds(30);
  };

  explicit HealthServer(Options options);
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;
  ~HealthServer();

  // Binds, listens and starts the I/O thread. InvalidArgument for a malformed bind_address or
  // options; Unavailable if the address cannot be resolved or bound (e.g. in use);
  // FailedPrecondition if called twice or after Stop(); ResourceExhausted if no thread could be
  // started. On error nothing is left listening and Start() may be called again.
  [[nodiscard]] absl::Status Start();

  // Stops listening, closes every open connection (a request being answered is cut off) and
  // joins the I/O thread; prompt whatever clients do. Idempotent. Not restartable: a Start()
  // after Stop() fails.
  void Stop();

  // The port bound by Start() (the chosen one for port 0); 0 before a successful Start().
  uint16_t port() const;

 private:
  class Impl;

  const Options options_;
  mutable absl::Mutex mu_;
  std::unique_ptr<Impl> impl_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint16_t port_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::op
