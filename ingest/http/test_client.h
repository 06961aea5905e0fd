// A small blocking HTTP/1.1 client over loopback for the server's tests: raw bytes in (so tests
// can send partial, slow, pipelined or malformed requests), parsed responses out, every wait
// bounded by a deadline. Plain TCP or TLS. Not thread-safe; one connection per object.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/http/message.h"

namespace cohort::ingest::http::testing {

struct TestResponse {
  int status = 0;
  std::vector<Header> headers;
  std::string body;
  bool keep_alive = true;

  std::optional<std::string> FindHeader(std::string_view name) const;
};

struct TlsClientOptions {
  int min_version = 0;  // OpenSSL TLS1_x_VERSION; 0: library default
  int max_version = 0;
};

class TestConnection {
 public:
  // kUnavailable when the connection or the TLS handshake fails.
  static absl::StatusOr<std::unique_ptr<TestConnection>> Connect(
      uint16_t port, std::optional<TlsClientOptions> tls = std::nullopt,
      absl::Duration timeout = absl::Seconds(10));
  ~TestConnection();

  absl::Status Send(std::string_view bytes, absl::Duration timeout = absl::Seconds(10));
  // Reads one response. kDeadlineExceeded on timeout; kUnavailable when the connection ends.
  absl::StatusOr<TestResponse> Read(absl::Duration timeout = absl::Seconds(10));
  // Waits for the server to close. OK on an orderly close (EOF), kAborted on a reset,
  // kDeadlineExceeded when it stays open, kDataLoss when bytes arrive instead.
  absl::Status WaitForClose(absl::Duration timeout = absl::Seconds(10));
  // The PEM of the certificate the server presented (TLS only; empty otherwise).
  std::string PeerCertificatePem() const;

  struct Impl;

 private:
  explicit TestConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "METHOD path HTTP/1.1" with Host, the given headers, Content-Length and the body.
std::string MakeRequest(std::string_view method, std::string_view path, std::string_view body = "",
                        const std::vector<Header>& headers = {});

// Sends one request on a new connection and reads the answer.
absl::StatusOr<TestResponse> RoundTrip(uint16_t port, std::string_view request);

// gzip-compresses `data` (for request bodies).
std::string Gzip(std::string_view data);

}  // namespace cohort::ingest::http::testing

namespace cohort::ingest::http::testing {

// Writes a fresh self-signed EC certificate for `common_name` and its key as PEM files (with the
// openssl CLI); `subject_alt_name`, when given, is its subjectAltName (e.g. "IP:127.0.0.1", which
// clients that verify the peer need). kInternal when openssl fails.
absl::Status GenerateSelfSignedCertificate(std::string_view common_name,
                                           const std::string& cert_path,
                                           const std::string& key_path,
                                           std::string_view subject_alt_name = "");

// A new empty directory under the test's temporary directory.
std::string MakeTempDir();

}  // namespace cohort::ingest::http::testing
