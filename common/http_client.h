// A small blocking HTTP/1.1 client for code that POSTs to a service (the Amplitude destination,
// the ClickHouse store): http:// and https:// (system CA store or a given CA file, hostname
// verification, SNI), connect and request timeouts, keep-alive connections reused across calls.
// Behind an interface so a destination can be tested against anything that speaks HTTP; tests use a
// real local server over loopback.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header named `name` (case-insensitive).
  std::optional<std::string> Header(std::string_view name) const;
};

// Thread-safe: several threads may Post at once (each uses its own connection).
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // POSTs `body` to `url` (http[s]://host[:port]/path) with `headers` (Host, Content-Length and
  // Connection are set by the client). Errors: kInvalidArgument (bad URL), kDeadlineExceeded
  // (connect or request timeout), kUnavailable (resolve, connect, TLS or I/O errors; the request
  // may or may not have reached the server). Any HTTP status is an OK result.
  [[nodiscard]] virtual absl::StatusOr<HttpResponse> Post(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
      std::string body) = 0;
};

struct HttpClientOptions {
  absl::Duration connect_timeout = absl::Seconds(10);  // TCP connect and TLS handshake
  absl::Duration request_timeout = absl::Seconds(30);  // writing the request, reading the answer
  std::string ca_file;                                 // empty: the system CA store
  int max_idle_connections = 8;                        // kept per client
  uint64_t max_response_bytes = 1 << 20;
};

// Errors: kInvalidArgument when the TLS context cannot be set up (e.g. an unreadable ca_file).
[[nodiscard]] absl::StatusOr<std::unique_ptr<HttpClient>> MakeHttpClient(HttpClientOptions options);

}  // namespace cohort
