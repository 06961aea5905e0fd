// HttpTransport over cpprestsdk (the design card's HTTP client for talking to Kubernetes), with the
// TLS material and credentials of a RestConfig.
//
// cpprestsdk runs every request on a process-wide thread pool whose default size is large; the
// first transport created sizes it (`pool_threads`) and later ones share it. Its per-client
// timeout is an idle timeout (reset by each chunk), so this transport enforces per-request
// deadlines itself and gives streams a long idle timeout: a quiet watch is ended by the caller's
// Read deadline, never by the library.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "operator/http_transport.h"
#include "operator/kube_config.h"

namespace cohort::op {

struct CpprestTransportOptions {
  size_t pool_threads = 4;  // cpprestsdk's process-wide pool; only the first transport sets it
  std::string user_agent = "cohort-operator";
  // Idle timeout of streaming responses; must exceed the longest server-side watch timeout.
  absl::Duration stream_idle_timeout = absl::Minutes(15);
  // How long Open() waits for a streaming response's status and headers (a watch answers at once;
  // a server that does not is hung).
  absl::Duration stream_header_timeout = absl::Minutes(1);
};

// Builds a transport for `config`. Errors: kInvalidArgument for a bad server URL or PEM data that
// does not parse (naming which, never its content); kUnimplemented for tls-server-name.
[[nodiscard]] absl::StatusOr<std::unique_ptr<HttpTransport>> NewCpprestTransport(
    const RestConfig& config, const CpprestTransportOptions& options = {});

}  // namespace cohort::op
