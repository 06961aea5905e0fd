// The server's TLS identity: an OpenSSL server context built from a certificate chain and key in
// PEM files (a mounted kubernetes.io/tls Secret, config::Tls), rebuilt when the files change.
// A connection takes the current context when it is accepted and keeps it for its life, so a
// reload never disturbs a handshake in progress.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/ssl/context.hpp"
#include "common/clock.h"
#include "config/ingest_config.h"

namespace cohort::ingest::http {

// Builds a server context from PEM text: the chain (leaf first), the matching private key, and
// the minimum protocol version (TLS 1.3 unless config allows 1.2; older versions never).
// kInvalidArgument when the PEM does not parse or the key does not match the certificate.
[[nodiscard]] absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_pem, const std::string& key_pem, config::TlsVersion min_version);

// Thread-safe. `clock` must outlive the object.
class TlsContextProvider {
 public:
  // Loads the files once. Errors: kNotFound / kPermissionDenied when a file cannot be read,
  // kInvalidArgument as MakeServerTlsContext.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TlsContextProvider>> Create(
      const config::Tls& tls, Clock& clock, absl::Duration check_interval);

  // The context for a new connection. Never null. Calls MaybeReload first, so files that changed
  // are picked up by the first connection after the check interval.
  std::shared_ptr<boost::asio::ssl::context> Current();

  // When `check_interval` has passed since the last check: rereads both files and, if their bytes
  // changed, rebuilds the context. Returns the outcome of that check (OK when nothing was due).
  absl::Status MaybeReload();

  // Rereads the files now. On any error the previous context stays in use and the error is
  // returned (and counted in reload_failures()); OK when the files are unchanged or reloaded.
  absl::Status Reload();

  int64_t reloads() const;          // successful rebuilds after the first load
  int64_t reload_failures() const;  // rereads that kept the old context

 private:
  TlsContextProvider(const config::Tls& tls, Clock& clock, absl::Duration check_interval);
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const config::Tls tls_;
  Clock& clock_;
  const absl::Duration check_interval_;
  mutable absl::Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_ ABSL_GUARDED_BY(mu_);
  std::string cert_pem_ ABSL_GUARDED_BY(mu_);
  std::string key_pem_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
  int64_t reloads_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reload_failures_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::ingest::http
