#include "common/http_client.h"

#include <exception>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"

namespace cohort {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;
  std::string Key() const { return absl::StrCat(tls ? "https" : "http", "://", host, ":", port); }
};

absl::StatusOr<Url> ParseUrl(std::string_view url) {
  Url u;
  if (url.substr(0, 7) == "http://") {
    url.remove_prefix(7);
  } else if (url.substr(0, 8) == "https://") {
    url.remove_prefix(8);
    u.tls = true;
  } else {
    return absl::InvalidArgumentError("URL scheme must be http or https");
  }
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("URL needs a host (and no user info)");
  }
  std::string_view host = authority, port;
  if (authority.front() == '[') {  // IPv6 literal
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("bad IPv6 host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return absl::InvalidArgumentError("bad URL authority");
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  uint32_t port_number = 0;
  if (!port.empty() &&
      (!absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &port_number) ||
       port_number == 0 || port_number > 65535)) {
    return absl::InvalidArgumentError("bad URL port");
  }
  u.host = std::string(host);
  u.port = port.empty() ? (u.tls ? "443" : "80") : std::string(port);
  return u;
}

absl::Status FromError(const beast::error_code& ec, std::string_view what) {
  const std::string message = absl::StrCat(std::string(what), ": ", ec.message());
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(message);
  return absl::UnavailableError(message);
}

// One connection with its own io_context: asynchronous operations run to completion on the
// calling thread, which gives timeouts on every step (beast's synchronous calls have none).
struct Connection {
  explicit Connection(Url u) : url(std::move(u)) {}
  Url url;
  asio::io_context ioc;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Runs the operation started by `start` to completion.
  beast::error_code Run(const std::function<void(std::function<void(beast::error_code)>)>& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }
};

class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient(HttpClientOptions options, std::unique_ptr<asio::ssl::context> ssl)
      : options_(std::move(options)), ssl_(std::move(ssl)) {}

  absl::StatusOr<HttpResponse> Post(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::string body) override {
    absl::StatusOr<Url> u = ParseUrl(url);
    if (!u.ok()) return u.status();
    try {
      std::unique_ptr<Connection> conn = TakeIdle(u->Key());
      const bool reused = conn != nullptr;
      if (conn == nullptr) {
        absl::StatusOr<std::unique_ptr<Connection>> fresh = Connect(*u);
        if (!fresh.ok()) return fresh.status();
        conn = *std::move(fresh);
      }
      conn->url.target = u->target;
      bool keep_alive = false;
      absl::StatusOr<HttpResponse> response = Exchange(*conn, headers, body, keep_alive);
      if (!response.ok() && reused && !absl::IsDeadlineExceeded(response.status())) {
        // A kept-alive connection the server closed meanwhile: once more on a new one (the
        // requests sinks send are idempotent by insert_id). Not after a timeout: the server
        // is slow, not gone, and the caller's backoff applies.
        absl::StatusOr<std::unique_ptr<Connection>> fresh = Connect(*u);
        if (!fresh.ok()) return fresh.status();
        conn = *std::move(fresh);
        conn->url.target = u->target;
        response = Exchange(*conn, headers, body, keep_alive);
      }
      if (response.ok() && keep_alive) PutIdle(std::move(conn));
      return response;
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("HTTP client: ", e.what()));
    }
  }

 private:
  absl::StatusOr<std::unique_ptr<Connection>> Connect(const Url& u) {
    auto conn = std::make_unique<Connection>(u);
    tcp::resolver resolver(conn->ioc);
    beast::error_code ec;
    // Resolution has no timeout of its own here (getaddrinfo); the system resolver's applies.
    tcp::resolver::results_type endpoints = resolver.resolve(u.host, u.port, ec);
    if (ec) return FromError(ec, absl::StrCat("resolving ", u.host));
    if (u.tls) {
      conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(conn->ioc, *ssl_);
      if (!SSL_set_tlsext_host_name(conn->tls->native_handle(), u.host.c_str())) {
        return absl::UnavailableError("TLS: cannot set SNI");
      }
      conn->tls->set_verify_mode(asio::ssl::verify_peer);
      conn->tls->set_verify_callback(asio::ssl::host_name_verification(u.host));
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(conn->ioc);
    }
    beast::tcp_stream& stream = conn->lowest();
    stream.expires_after(absl::ToChronoMilliseconds(options_.connect_timeout));
    ec = conn->Run([&](auto done) {
      stream.async_connect(endpoints,
                           [done](beast::error_code e, const tcp::endpoint&) { done(e); });
    });
    if (ec) return FromError(ec, absl::StrCat("connecting to ", u.Key()));
    if (u.tls) {
      stream.expires_after(absl::ToChronoMilliseconds(options_.connect_timeout));
      ec = conn->Run(
          [&](auto done) { conn->tls->async_handshake(asio::ssl::stream_base::client, done); });
      if (ec) return FromError(ec, absl::StrCat("TLS handshake with ", u.Key()));
    }
    return conn;
  }

  absl::StatusOr<HttpResponse> Exchange(
      Connection& conn, const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body, bool& keep_alive) {
    http::request<http::string_body> req{http::verb::post, conn.url.target, 11};
    const bool default_port = conn.url.port == (conn.url.tls ? "443" : "80");
    req.set(http::field::host,
            default_port ? conn.url.host : absl::StrCat(conn.url.host, ":", conn.url.port));
    for (const auto& [name, value] : headers) req.set(name, value);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    conn.lowest().expires_after(absl::ToChronoMilliseconds(options_.request_timeout));
    beast::error_code ec = conn.Run([&](auto done) {
      const auto on_write = [done](beast::error_code e, size_t) { done(e); };
      if (conn.tls) {
        http::async_write(*conn.tls, req, on_write);
      } else {
        http::async_write(*conn.plain, req, on_write);
      }
    });
    if (ec) return FromError(ec, "sending the request");
    ec = conn.Run([&](auto done) {
      const auto on_read = [done](beast::error_code e, size_t) { done(e); };
      if (conn.tls) {
        http::async_read(*conn.tls, conn.buffer, parser, on_read);
      } else {
        http::async_read(*conn.plain, conn.buffer, parser, on_read);
      }
    });
    if (ec) return FromError(ec, "reading the response");
    http::response<http::string_body> res = parser.release();
    keep_alive = res.keep_alive();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(res.body());
    return out;
  }

  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    absl::MutexLock lock(&mu_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->url.Key() == key) {
        std::unique_ptr<Connection> conn = std::move(*it);
        idle_.erase(it);
        return conn;
      }
    }
    return nullptr;
  }

  void PutIdle(std::unique_ptr<Connection> conn) {
    absl::MutexLock lock(&mu_);
    if (static_cast<int>(idle_.size()) >= options_.max_idle_connections) idle_.erase(idle_.begin());
    idle_.push_back(std::move(conn));
  }

  const HttpClientOptions options_;
  const std::unique_ptr<asio::ssl::context> ssl_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, absl::string_view(name.data(), name.size()))) return v;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<HttpClient>> MakeHttpClient(HttpClientOptions options) {
  try {
    auto ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (options.ca_file.empty()) {
      ssl->set_default_verify_paths(ec);
    } else {
      ssl->load_verify_file(options.ca_file, ec);
    }
    if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS CA store: ", ec.message()));
    return std::unique_ptr<HttpClient>(new BeastHttpClient(std::move(options), std::move(ssl)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("TLS context: ", e.what()));
  }
}

}  // namespace cohort
