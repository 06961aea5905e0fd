// The HTTP/1.1 server the ingest and query listeners are built on (Boost.Beast over Asio, plain
// or TLS). It owns the limits and overload behaviour of cohort-ingest: request size (after gzip
// decoding, enforced while decoding), header/body/idle timeouts, a cap on open connections and on
// request bytes in flight across the server. Every limit is answered with JSON, never a reset:
//
//   over the connection cap        503, Connection: close (at once, the request is not read)
//   over the in-flight byte cap    503, Connection: close
//   body over the route's limit    413, Connection: close (the body is not read)
//   header or body read too slow   408, Connection: close
//   unknown Content-Encoding       415;  malformed request 400;  header too large 431
//   no route                       404;  path known, method not 405 with Allow
//
// Every non-2xx body is {"code": <status>, "error": "..."} unless the route supplies its own
// formatter. Handlers are asynchronous: a handler gets the Request and a Responder and may answer
// later from any thread; the connection stays alive until it does, and an abandoned Responder
// answers 500. One request per connection is processed at a time (pipelined requests wait).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "config/ingest_config.h"
#include "ingest/http/message.h"
#include "ingest/http/responder.h"

namespace cohort::ingest::http {

// Called on an I/O thread: must not block. Answer through `responder`, now or later.
using Handler = std::function<void(Request request, Responder responder)>;

// Makes the body of a non-2xx answer the server produces for a route (413, 408, 415, 503, ...).
using ErrorFormatter = std::function<Response(int status, std::string_view message)>;

// Cross-origin access for browser SDKs. Preflight (OPTIONS) is answered by the server for every
// path with a CORS route; real responses of those routes carry Access-Control-Allow-Origin.
struct Cors {
  std::string allow_origin = "*";
  std::vector<std::string> allow_headers = {"Content-Type", "Content-Encoding", "Authorization",
                                            "Accept", "Cross-Origin-Resource-Policy"};
  absl::Duration max_age = absl::Hours(24);
};

struct Route {
  std::string name;     // for metrics; empty: "<method> <path>"
  std::string method;   // e.g. "POST"; exact, case-sensitive
  std::string path;     // exact path, or the prefix when `prefix` is set
  bool prefix = false;  // matches every path that starts with `path` (the longest prefix wins)
  Handler handler;
  // Body limit after decoding, and also on the bytes received (compressed or not).
  int64_t max_request_bytes = config::Limits{}.max_request_bytes;
  std::optional<Cors> cors;        // unset: no CORS headers, OPTIONS is 405
  ErrorFormatter error_formatter;  // unset: JsonError
};

// Rejections the server makes itself, counted by reason.
enum class Rejection {
  kConnectionLimit,      // 503
  kInFlightBytes,        // 503
  kBodyTooLarge,         // 413 (declared, received or decoded)
  kHeaderTooLarge,       // 431
  kTimeout,              // 408
  kBadRequest,           // 400: unparsable HTTP or corrupt gzip
  kUnsupportedEncoding,  // 415
  kNotFound,             // 404
  kMethodNotAllowed,     // 405
  kHandlerDropped,       // 500: the Responder was destroyed unanswered
};
std::string_view RejectionName(Rejection rejection);

// A consistent-enough snapshot of the server's counters (each value is read atomically, the set
// is not). Counters are cumulative since Start.
struct HttpServerStats {
  // (route name, status) -> responses sent. Requests that matched no route count under "".
  std::map<std::pair<std::string, int>, uint64_t> responses;
  std::map<Rejection, uint64_t> rejections;
  uint64_t connections_accepted = 0;
  int64_t open_connections = 0;  // including those being turned away over the cap
  int64_t in_flight_bytes = 0;   // request bytes received and not yet answered
  uint64_t request_bytes = 0;    // bodies as received
  uint64_t response_bytes = 0;   // bodies sent
  int64_t tls_reloads = 0;
  int64_t tls_reload_failures = 0;
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal
  uint16_t port = 0;                  // 0: any free port; see HttpServer::port()
  int io_threads = 2;
  // A connection's first request: from the accept (TLS handshake included) to the end of its
  // header; later requests: from their first byte to the end of the header.
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration body_timeout = absl::Seconds(30);   // end of header to end of body
  absl::Duration idle_timeout = absl::Seconds(60);   // keep-alive, between requests
  absl::Duration write_timeout = absl::Seconds(30);  // sending one response
  // After an error answer with Connection: close the server reads and discards what the client
  // still sends, for at most this long and linger_max_bytes, so the answer is not lost to a
  // reset (closing a socket with unread input makes the kernel send RST).
  absl::Duration linger_timeout = absl::Seconds(2);
  int64_t linger_max_bytes = 1 << 20;
  int64_t max_header_bytes = 16 * 1024;
  int64_t max_connections = config::Limits{}.max_connections;
  // Connections over max_connections being answered 503 at once; past it they are closed
  // unanswered (the only unanswered case, so memory stays bounded under a connection flood).
  int64_t max_rejecting_connections = 256;
  int64_t max_in_flight_bytes = int64_t{256} << 20;
  std::optional<config::Tls> tls;  // set: serve TLS only
  absl::Duration tls_check_interval = absl::Seconds(10);
  Clock* clock = &RealClock::Get();  // for the TLS reload check; must outlive the server
  // Called on an I/O thread as each response starts to be written: the route name (as in
  // HttpServerStats), the status, and the time since the request's header was parsed (zero for
  // answers to requests that never got that far). For latency histograms; must not block.
  std::function<void(const std::string& route, int status, absl::Duration latency)> on_response;
};

// The options of a listener of `config` on `port`: the listen address, the connection cap, TLS
// (config.tls) and the timeouts' defaults. Routes take config.limits.max_request_bytes themselves.
HttpServerOptions ListenerOptions(const config::IngestConfig& config, uint16_t port);

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Stops at once if still running (in-flight requests are cut off). Responders still held
  // elsewhere stay safe to complete or drop: their answers go nowhere.
  ~HttpServer();

  // Before Start. kInvalidArgument for an empty method/path, a missing handler, a non-positive
  // limit or a route that duplicates another (same method, path and prefix flag).
  [[nodiscard]] absl::Status AddRoute(Route route);

  // Binds, listens and starts the I/O threads. kInvalidArgument for bad options, kUnavailable
  // when the address cannot be bound, kInvalidArgument/kNotFound from loading TLS files.
  [[nodiscard]] absl::Status Start();

  // The bound port (after Start).
  uint16_t port() const;

  // Graceful shutdown: stops accepting, closes idle keep-alive connections, lets requests in
  // progress finish (their answers carry Connection: close), then stops the threads. Past
  // `deadline` (on options.clock) the remaining connections are closed. kDeadlineExceeded when
  // that happened, OK otherwise. Flip readiness before calling. Idempotent. Blocks: never call it
  // (or the destructor) from a handler or an I/O thread.
  absl::Status Drain(absl::Time deadline);

  // Rereads the TLS files now (see TlsContextProvider::Reload). kFailedPrecondition without TLS.
  absl::Status ReloadTls();

  HttpServerStats Stats() const;

  // Implementation, shared with connections that may outlive this object.
  struct Core;

 private:
  void Stop();

  std::shared_ptr<Core> core_;
};

}  // namespace cohort::ingest::http
