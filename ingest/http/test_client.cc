// The tests' HTTP client (test_client.h).
#include "ingest/http/test_client.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include <cstdlib>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"

namespace cohort::ingest::http::testing {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct TestConnection::Impl {
  asio::io_context ioc;
  asio::ssl::context ssl_context{asio::ssl::context::tls_client};
  tcp::socket socket{ioc};
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
  boost::beast::flat_buffer buffer;

  // Runs the io_context until `done` or the timeout; cancels what is pending on timeout.
  bool RunUntil(const bool& done, absl::Duration timeout) {
    ioc.restart();
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      ioc.run_one_until(deadline);
    }
    if (!done) {
      error_code ignored;
      socket.cancel(ignored);
      ioc.restart();
      ioc.run_for(std::chrono::seconds(1));
      return false;
    }
    return true;
  }

  template <typename Fn>
  void WithStream(Fn&& fn) {
    if (tls) {
      fn(*tls);
    } else {
      fn(socket);
    }
  }
};

std::optional<std::string> TestResponse::FindHeader(std::string_view name) const {
  for (const Header& header : headers) {
    if (absl::EqualsIgnoreCase(header.first, std::string(name))) return header.second;
  }
  return std::nullopt;
}

TestConnection::TestConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TestConnection::~TestConnection() = default;

absl::StatusOr<std::unique_ptr<TestConnection>> TestConnection::Connect(
    uint16_t port, std::optional<TlsClientOptions> tls, absl::Duration timeout) {
  auto impl = std::make_unique<Impl>();
  error_code ec;
  impl->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  if (tls) {
    SSL_CTX* native = impl->ssl_context.native_handle();
    if (tls->min_version != 0) SSL_CTX_set_min_proto_version(native, tls->min_version);
    if (tls->max_version != 0) SSL_CTX_set_max_proto_version(native, tls->max_version);
    impl->ssl_context.set_verify_mode(asio::ssl::verify_none);
    impl->tls.emplace(impl->socket, impl->ssl_context);
    bool done = false;
    impl->tls->async_handshake(asio::ssl::stream_base::client, [&](error_code e) {
      ec = e;
      done = true;
    });
    if (!impl->RunUntil(done, timeout)) return absl::UnavailableError("TLS handshake timed out");
    if (ec) return absl::UnavailableError(absl::StrCat("TLS handshake: ", ec.message()));
  }
  return std::unique_ptr<TestConnection>(new TestConnection(std::move(impl)));
}

absl::Status TestConnection::Send(std::string_view bytes, absl::Duration timeout) {
  bool done = false;
  error_code ec;
  impl_->WithStream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), [&](error_code e, size_t) {
      ec = e;
      done = true;
    });
  });
  if (!impl_->RunUntil(done, timeout)) return absl::DeadlineExceededError("send timed out");
  if (ec) return absl::UnavailableError(absl::StrCat("send: ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<TestResponse> TestConnection::Read(absl::Duration timeout) {
  beast_http::response_parser<beast_http::string_body> parser;
  parser.body_limit(64 << 20);
  bool done = false;
  error_code ec;
  impl_->WithStream([&](auto& stream) {
    beast_http::async_read(stream, impl_->buffer, parser, [&](error_code e, size_t) {
      ec = e;
      done = true;
    });
  });
  if (!impl_->RunUntil(done, timeout)) return absl::DeadlineExceededError("read timed out");
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
  auto message = parser.release();
  TestResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  response.keep_alive = message.keep_alive();
  return response;
}

absl::Status TestConnection::WaitForClose(absl::Duration timeout) {
  if (impl_->buffer.size() > 0) return absl::DataLossError("unread response bytes");
  std::array<char, 1024> scratch;
  bool done = false;
  error_code ec;
  size_t received = 0;
  // Below TLS: the server's close_notify is followed by the TCP FIN.
  std::function<void()> read_more = [&] {
    impl_->socket.async_read_some(asio::buffer(scratch), [&](error_code e, size_t n) {
      received += n;
      if (!e && impl_->tls) {  // TLS records (close_notify) may precede the FIN
        read_more();
        return;
      }
      ec = e;
      done = true;
    });
  };
  read_more();
  if (!impl_->RunUntil(done, timeout)) return absl::DeadlineExceededError("still open");
  if (ec == asio::error::eof) return absl::OkStatus();
  if (ec == asio::error::connection_reset) return absl::AbortedError("connection reset");
  if (!ec) return absl::DataLossError(absl::StrCat(received, " bytes instead of a close"));
  return absl::UnknownError(ec.message());
}

std::string TestConnection::PeerCertificatePem() const {
  if (!impl_->tls) return "";
  X509* cert = SSL_get_peer_certificate(impl_->tls->native_handle());
  if (cert == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

std::string MakeRequest(std::string_view method, std::string_view path, std::string_view body,
                        const std::vector<Header>& headers) {
  std::string request =
      absl::StrCat(std::string(method), " ", std::string(path), " HTTP/1.1\r\nHost: localhost\r\n");
  bool has_length = false;
  for (const Header& header : headers) {
    absl::StrAppend(&request, header.first, ": ", header.second, "\r\n");
    has_length = has_length || absl::EqualsIgnoreCase(header.first, "Content-Length") ||
                 absl::EqualsIgnoreCase(header.first, "Transfer-Encoding");
  }
  if (!has_length) absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n");
  absl::StrAppend(&request, "\r\n", std::string(body));
  return request;
}

absl::StatusOr<TestResponse> RoundTrip(uint16_t port, std::string_view request) {
  absl::StatusOr<std::unique_ptr<TestConnection>> connection = TestConnection::Connect(port);
  if (!connection.ok()) return connection.status();
  if (absl::Status status = (*connection)->Send(request); !status.ok()) return status;
  return (*connection)->Read();
}

std::string Gzip(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace cohort::ingest::http::testing

namespace cohort::ingest::http::testing {

absl::Status GenerateSelfSignedCertificate(std::string_view common_name,
                                           const std::string& cert_path,
                                           const std::string& key_path,
                                           std::string_view subject_alt_name) {
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2",
      " -subj '/CN=", std::string(common_name), "'",
      subject_alt_name.empty()
          ? ""
          : absl::StrCat(" -addext 'subjectAltName=", std::string(subject_alt_name), "'"),
      " -keyout '", key_path, "' -out '", cert_path, "' >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("openssl failed: ", command));
  }
  return absl::OkStatus();
}

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/cohort_http_XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return "";
  return pattern;
}

}  // namespace cohort::ingest::http::testing
