// The HTTP exchange the Kubernetes client needs, behind a small interface: one-shot requests and
// streaming responses (watches). The client's logic (URLs, rate limits, retries, error typing) is
// tested against a fake transport; the cpprestsdk implementation (cpprest_transport.h) is tested
// against the real API server.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::op {

struct HttpRequest {
  std::string method;          // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string path_and_query;  // "/api/v1/namespaces/x/configmaps?limit=500", already escaped
  std::vector<std::pair<std::string, std::string>>
      headers;  // besides auth, which the transport adds
  std::string body;
};

struct HttpResponse {
  int status = 0;
  absl::flat_hash_map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The header's value, or "" if absent. `name` in lower case.
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// The body of a streaming response, read as it arrives. Read() is called by one thread at a time;
// Cancel() may be called from any thread, also while Read() blocks.
class HttpStream {
 public:
  virtual ~HttpStream() = default;

  // The response status and headers (body empty), known when the stream was opened.
  virtual const HttpResponse& response() const = 0;

  // Blocks until bytes arrive (returns them), the body ends (returns "", OK), the connection
  // fails (kUnavailable), Cancel() is called (kCancelled) or `timeout` passes with nothing read
  // (kDeadlineExceeded; the stream stays usable, a later Read continues).
  [[nodiscard]] virtual absl::StatusOr<std::string> Read(absl::Duration timeout) = 0;

  // Aborts the stream: a blocked or later Read returns kCancelled. Idempotent.
  virtual void Cancel() = 0;
};

// Thread-safe: any number of threads may send at once. Errors are transport failures only
// (connect, TLS, timeout) as kUnavailable or kDeadlineExceeded; any HTTP status is a response.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // A one-shot request; the whole body is read. `timeout` bounds the whole exchange.
  [[nodiscard]] virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request,
                                                          absl::Duration timeout) = 0;

  // A request whose response body is streamed (a watch). Returns once the status and headers are
  // in; the stream must not outlive the transport.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<HttpStream>> Open(
      const HttpRequest& request) = 0;
};

}  // namespace cohort::op
