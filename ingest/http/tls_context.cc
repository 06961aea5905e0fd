// TLS server contexts and their reloading (tls_context.h).
#include "ingest/http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest::http {
namespace {

namespace ssl = boost::asio::ssl;

// A PEM file is a few KB; anything far larger is not a certificate.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string what = absl::StrCat("cannot read ", path, ": ", std::strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(what) : absl::NotFoundError(what);
  }
  std::string text(static_cast<size_t>(kMaxPemBytes) + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is larger than 1 MiB"));
  }
  return text;
}

std::string OpenSslError(const boost::system::error_code& ec) {
  std::string message = ec.message();
  ERR_clear_error();
  return message;
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(const std::string& cert_pem,
                                                                   const std::string& key_pem,
                                                                   config::TlsVersion min_version) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  const int min_proto = min_version == config::TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(native, min_proto) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot set the minimum TLS version");
  }
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(cert_pem), ec);
  if (ec) return absl::InvalidArgumentError("TLS certificate: " + OpenSslError(ec));
  context->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError("TLS private key: " + OpenSslError(ec));
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("TLS private key does not match the certificate");
  }
  return context;
}

TlsContextProvider::TlsContextProvider(const config::Tls& tls, Clock& clock,
                                       absl::Duration check_interval)
    : tls_(tls), clock_(clock), check_interval_(check_interval) {}

absl::StatusOr<std::unique_ptr<TlsContextProvider>> TlsContextProvider::Create(
    const config::Tls& tls, Clock& clock, absl::Duration check_interval) {
  std::unique_ptr<TlsContextProvider> provider(new TlsContextProvider(tls, clock, check_interval));
  absl::MutexLock lock(&provider->mu_);
  if (absl::Status status = provider->ReloadLocked(); !status.ok()) return status;
  return provider;
}

std::shared_ptr<ssl::context> TlsContextProvider::Current() {
  // A failed reload was logged and counted; the old context stays.
  MaybeReload().IgnoreError();
  absl::MutexLock lock(&mu_);
  return context_;
}

absl::Status TlsContextProvider::MaybeReload() {
  absl::MutexLock lock(&mu_);
  if (clock_.Now() < next_check_) return absl::OkStatus();
  return ReloadLocked();
}

absl::Status TlsContextProvider::Reload() {
  absl::MutexLock lock(&mu_);
  return ReloadLocked();
}

absl::Status TlsContextProvider::ReloadLocked() {
  next_check_ = clock_.Now() + check_interval_;
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<std::string> cert = ReadSmallFile(tls_.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadSmallFile(tls_.key_file);
    if (!key.ok()) return key.status();
    if (context_ != nullptr && *cert == cert_pem_ && *key == key_pem_) return absl::OkStatus();
    absl::StatusOr<std::shared_ptr<ssl::context>> context =
        MakeServerTlsContext(*cert, *key, tls_.min_version);
    if (!context.ok()) return context.status();
    const bool first_load = context_ == nullptr;
    context_ = *std::move(context);
    cert_pem_ = *std::move(cert);
    key_pem_ = *std::move(key);
    if (!first_load) {
      ++reloads_;
      spdlog::info("http: TLS certificate reloaded from {}", tls_.cert_file);
    }
    return absl::OkStatus();
  }();
  if (!status.ok() && context_ != nullptr) {
    ++reload_failures_;
    spdlog::error("http: TLS reload failed, keeping the previous certificate: {}",
                  status.ToString());
  }
  return status;
}

int64_t TlsContextProvider::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

int64_t TlsContextProvider::reload_failures() const {
  absl::MutexLock lock(&mu_);
  return reload_failures_;
}

}  // namespace cohort::ingest::http
