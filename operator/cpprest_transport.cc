#include "operator/cpprest_transport.h"

#include <cpprest/http_client.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pplx/threadpool.h>

#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "operator/api_error.h"

namespace cohort::op {
namespace {

namespace http = web::http;

// Owns an OpenSSL BIO over PEM bytes.
struct Bio {
  explicit Bio(const std::string& pem)
      : bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))) {}
  ~Bio() { BIO_free(bio); }
  BIO* bio;
};

// Checks the PEM material once, up front, so a bad kubeconfig fails at start-up with a clear
// error rather than as a TLS failure on the first request.
absl::Status ValidatePem(const RestConfig& config) {
  if (!config.ca_pem.empty()) {
    Bio b(config.ca_pem);
    X509* x = PEM_read_bio_X509(b.bio, nullptr, nullptr, nullptr);
    if (x == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "certificate authority from ", config.ca_path.empty() ? "inline data" : config.ca_path,
          " is not a PEM certificate"));
    }
    X509_free(x);
  }
  if (!config.client_cert_pem.empty()) {
    Bio b(config.client_cert_pem);
    X509* x = PEM_read_bio_X509(b.bio, nullptr, nullptr, nullptr);
    if (x == nullptr)
      return absl::InvalidArgumentError("client certificate is not a PEM certificate");
    X509_free(x);
    Bio k(config.client_key_pem);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(k.bio, nullptr, nullptr, nullptr);
    if (key == nullptr) return absl::InvalidArgumentError("client key is not a PEM private key");
    EVP_PKEY_free(key);
  }
  ERR_clear_error();
  return absl::OkStatus();
}

// Installs CA, client certificate and key into cpprestsdk's Asio SSL context. Native OpenSSL calls:
// Boost 1.74's use_certificate_chain fails spuriously with OpenSSL 3.
void ConfigureSsl(const RestConfig& config, SSL_CTX* ctx) {
  if (!config.ca_pem.empty()) {
    // Only the configured CA, as client-go does: cpprestsdk has already loaded the system bundle
    // into this context, which would also trust every public CA and costs about 0.5 MB of heap
    // per connection (12 of the operator's 19 MB at start). Replacing the store frees it.
    X509_STORE* store = X509_STORE_new();
    Bio b(config.ca_pem);
    while (X509* x = PEM_read_bio_X509(b.bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, x);
      X509_free(x);
    }
    SSL_CTX_set_cert_store(ctx, store);  // takes ownership, frees the previous store
  } else {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  if (!config.client_cert_pem.empty()) {
    Bio b(config.client_cert_pem);
    if (X509* leaf = PEM_read_bio_X509(b.bio, nullptr, nullptr, nullptr)) {
      SSL_CTX_use_certificate(ctx, leaf);
      X509_free(leaf);
      while (X509* extra = PEM_read_bio_X509(b.bio, nullptr, nullptr, nullptr)) {
        SSL_CTX_add_extra_chain_cert(ctx, extra);  // takes ownership
      }
    }
    Bio k(config.client_key_pem);
    if (EVP_PKEY* key = PEM_read_bio_PrivateKey(k.bio, nullptr, nullptr, nullptr)) {
      SSL_CTX_use_PrivateKey(ctx, key);
      EVP_PKEY_free(key);
    }
  }
  ERR_clear_error();
}

// Completion of a pplx task, observable with a deadline (pplx has no timed wait).
struct Completion {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;

  bool WaitUntil(absl::Time deadline) {
    absl::MutexLock lock(&mu);
    return mu.AwaitWithDeadline(absl::Condition(&done), deadline);
  }
  void Set() {
    absl::MutexLock lock(&mu);
    done = true;
  }
};

template <typename T>
std::shared_ptr<Completion> Observe(const pplx::task<T>& task) {
  auto c = std::make_shared<Completion>();
  task.then([c](pplx::task<T> done) {
    // Observe a failure here: pplx traps (SIGTRAP) when a task's exception is never observed,
    // and a task we gave up on (timeout, cancel) is never get() by anyone else.
    try {
      done.wait();
    } catch (...) {
    }
    c->Set();
  });
  return c;
}

absl::Status TransportError(const std::string& what, const std::exception& e) {
  return FromTransportError(TransportFailure::kConnection, absl::StrCat(what, ": ", e.what()));
}

HttpResponse ToResponse(const http::http_response& r) {
  HttpResponse out;
  out.status = r.status_code();
  for (const auto& [name, value] : r.headers()) out.headers[absl::AsciiStrToLower(name)] = value;
  return out;
}

class CpprestStream final : public HttpStream {
 public:
  CpprestStream(HttpResponse response, http::http_response raw,
                pplx::cancellation_token_source cancel)
      : response_(std::move(response)),
        raw_(std::move(raw)),
        cancel_(std::move(cancel)),
        buf_(raw_.body().streambuf()) {}

  // The pending read's continuation holds only shared state, and the stream buffer is itself
  // reference-counted, so dropping the stream with a read in flight is safe.
  ~CpprestStream() override { Cancel(); }

  const HttpResponse& response() const override { return response_; }

  absl::StatusOr<std::string> Read(absl::Duration timeout) override {
    if (cancelled()) return absl::CancelledError("stream cancelled");
    std::shared_ptr<Completion> done;
    {
      absl::MutexLock lock(&mu_);
      if (!pending_) {
        pending_ = buf_.bumpc();  // completes as soon as one byte is in (getn waits to fill)
        pending_done_ = Observe(*pending_);
      }
      done = pending_done_;
    }
    if (!done->WaitUntil(absl::Now() + timeout)) {
      if (cancelled()) return absl::CancelledError("stream cancelled");
      return absl::DeadlineExceededError("no bytes within the read timeout");
    }
    // Cancel() also marks the pending read done; then the task itself may still be running.
    if (cancelled()) return absl::CancelledError("stream cancelled");
    pplx::task<int> task = [&] {
      absl::MutexLock lock(&mu_);
      pplx::task<int> t = *std::move(pending_);
      pending_.reset();
      pending_done_.reset();
      return t;
    }();
    int c;
    try {
      c = task.get();
    } catch (const std::exception& e) {
      if (cancelled()) return absl::CancelledError("stream cancelled");
      return TransportError("reading stream", e);
    }
    if (cancelled()) return absl::CancelledError("stream cancelled");
    if (c == std::char_traits<char>::eof()) return std::string();
    std::string out(1, static_cast<char>(c));
    const size_t avail = buf_.in_avail();
    if (avail > 0) {
      out.resize(1 + avail);
      try {
        const size_t n = buf_.getn(reinterpret_cast<unsigned char*>(out.data() + 1), avail).get();
        out.resize(1 + n);
      } catch (const std::exception& e) {
        return TransportError("reading stream", e);
      }
    }
    return out;
  }

  void Cancel() override {
    std::shared_ptr<Completion> pending_done;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      cancelled_ = true;
      pending_done = pending_done_;
    }
    cancel_.cancel();
    try {
      buf_.close(std::ios_base::in).wait();
    } catch (...) {
      // Closing an already failed buffer throws; the stream is finished either way.
    }
    if (pending_done) pending_done->Set();  // wakes a Read blocked on it
  }

 private:
  bool cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  const HttpResponse response_;
  http::http_response raw_;
  pplx::cancellation_token_source cancel_;
  concurrency::streams::streambuf<uint8_t> buf_;
  absl::Mutex mu_;
  // The read in flight, kept across Read timeouts.
  std::optional<pplx::task<int>> pending_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Completion> pending_done_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

class CpprestTransport final : public HttpTransport {
 public:
  CpprestTransport(const RestConfig& config, const CpprestTransportOptions& options)
      : config_(config),
        options_(options),
        client_(utility::conversions::to_string_t(config.server), MakeConfig(absl::Minutes(10))),
        stream_client_(utility::conversions::to_string_t(config.server),
                       MakeConfig(options.stream_idle_timeout)) {}

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Duration timeout) override {
    absl::StatusOr<http::http_request> req = Build(request);
    if (!req.ok()) return req.status();
    pplx::cancellation_token_source cancel;
    const absl::Time deadline = absl::Now() + timeout;
    try {
      pplx::task<std::pair<HttpResponse, std::vector<unsigned char>>> task =
          client_.request(*req, cancel.get_token()).then([](http::http_response r) {
            HttpResponse out = ToResponse(r);
            return r.extract_vector().then([out](std::vector<unsigned char> body) mutable {
              return std::make_pair(std::move(out), std::move(body));
            });
          });
      if (!Observe(task)->WaitUntil(deadline)) {
        cancel.cancel();
        try {
          task.wait();
        } catch (...) {
          // The cancellation surfaces as an exception; the deadline is what we report.
        }
        return FromTransportError(TransportFailure::kTimeout,
                                  absl::StrCat(request.method, " ", PathOnly(request),
                                               " timed out after ", absl::FormatDuration(timeout)));
      }
      auto [response, body] = task.get();
      response.body.assign(body.begin(), body.end());
      return response;
    } catch (const std::exception& e) {
      return TransportError(absl::StrCat(request.method, " ", PathOnly(request)), e);
    }
  }

  absl::StatusOr<std::unique_ptr<HttpStream>> Open(const HttpRequest& request) override {
    absl::StatusOr<http::http_request> req = Build(request);
    if (!req.ok()) return req.status();
    pplx::cancellation_token_source cancel;
    try {
      pplx::task<http::http_response> task = stream_client_.request(*req, cancel.get_token());
      if (!Observe(task)->WaitUntil(absl::Now() + options_.stream_header_timeout)) {
        cancel.cancel();
        return FromTransportError(
            TransportFailure::kTimeout,
            absl::StrCat(request.method, " ", PathOnly(request), ": no response headers"));
      }
      http::http_response raw = task.get();
      HttpResponse head = ToResponse(raw);
      return std::unique_ptr<HttpStream>(
          new CpprestStream(std::move(head), std::move(raw), std::move(cancel)));
    } catch (const std::exception& e) {
      return TransportError(absl::StrCat(request.method, " ", PathOnly(request)), e);
    }
  }

 private:
  http::client::http_client_config MakeConfig(absl::Duration idle_timeout) const {
    http::client::http_client_config c;
    c.set_timeout(std::chrono::seconds(absl::ToInt64Seconds(idle_timeout)));
    c.set_validate_certificates(!config_.insecure_skip_tls_verify);
    RestConfig tls = config_;
    c.set_ssl_context_callback(
        [tls](boost::asio::ssl::context& ctx) { ConfigureSsl(tls, ctx.native_handle()); });
    return c;
  }

  static std::string PathOnly(const HttpRequest& r) {
    return r.path_and_query.substr(0, r.path_and_query.find('?'));
  }

  absl::StatusOr<http::http_request> Build(const HttpRequest& request) const {
    http::http_request req(utility::conversions::to_string_t(request.method));
    req.set_request_uri(utility::conversions::to_string_t(request.path_and_query));
    req.headers().add(http::header_names::user_agent, options_.user_agent);
    for (const auto& [name, value] : request.headers) req.headers().add(name, value);
    if (!req.headers().has(http::header_names::accept)) {
      req.headers().add(http::header_names::accept, "application/json");
    }
    if (config_.token != nullptr) {
      absl::StatusOr<std::string> token = config_.token->Token();
      if (!token.ok()) return token.status();
      req.headers().add(http::header_names::authorization, "Bearer " + *token);
    }
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      std::string content_type = "application/json";
      for (const auto& [name, value] : request.headers) {
        if (absl::EqualsIgnoreCase(name, "content-type")) content_type = value;
      }
      req.set_body(request.body, content_type);
    }
    return req;
  }

  const RestConfig config_;
  const CpprestTransportOptions options_;
  http::client::http_client client_;
  http::client::http_client stream_client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpTransport>> NewCpprestTransport(
    const RestConfig& config, const CpprestTransportOptions& options) {
  if (!absl::StartsWith(config.server, "https://") && !absl::StartsWith(config.server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("server URL must start with https:// or http://: ", config.server));
  }
  if (!config.tls_server_name.empty()) {
    return absl::UnimplementedError("tls-server-name is not supported by this client");
  }
  if (absl::Status s = ValidatePem(config); !s.ok()) return s;
  static std::once_flag pool_sized;
  std::call_once(pool_sized,
                 [&] { crossplat::threadpool::initialize_with_threads(options.pool_threads); });
  try {
    return std::unique_ptr<HttpTransport>(new CpprestTransport(config, options));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("server URL ", config.server, ": ", e.what()));
  }
}

}  // namespace cohort::op
