#include "operator/health_server.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "spdlog/spdlog.h"

namespace cohort::op {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextContentType[] = "text/plain; charset=utf-8";

// Capped, so that a huge (or infinite) timeout cannot overflow the timer's time point.
std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(std::min(d, absl::Hours(24 * 365))));
}

std::string_view ToStd(beast::string_view s) { return std::string_view(s.data(), s.size()); }

struct HostPort {
  std::string host;  // Brackets of an IPv6 literal removed; empty: every interface.
  std::string port;
};

absl::StatusOr<HostPort> SplitBindAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("bind address \"", address, "\" is not host:port"));
  }
  HostPort hp{address.substr(0, colon), address.substr(colon + 1)};
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  } else if (hp.host.find_first_of("[]:") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bind address \"", address, "\": write an IPv6 address in brackets, as [::1]:8080"));
  }
  uint32_t port = 0;
  if (hp.port.empty() || hp.port.size() > 5 ||
      !std::all_of(hp.port.begin(), hp.port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(hp.port, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bind address \"", address, "\": invalid port"));
  }
  return hp;
}

}  // namespace

class HealthServer::Impl {
 public:
  explicit Impl(const Options& options) : options_(options), acceptor_(ioc_), retry_(ioc_) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { Stop(); }

  // Opens, binds and listens. Before the thread starts.
  absl::Status Listen();
  uint16_t port() const;
  absl::Status StartThread();
  // Closes everything on the I/O thread and joins it. Idempotent.
  void Stop();

  // --- I/O thread only from here on.
  const Options& options() const { return options_; }
  bool stopping() const { return stopping_; }
  http::response<http::string_body> Handle(const http::request<http::string_body>& request);

  class Session;

 private:
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  const Options& options_;
  // Open connections, registered by their constructor and removed by their destructor. Declared
  // before ioc_: destroying ioc_ destroys the handlers that still own sessions.
  absl::flat_hash_set<Session*> sessions_;
  bool stopping_ = false;
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;  // Backs off after an accept error (e.g. out of descriptors).
  std::thread thread_;
};

// One connection: read a request, answer it, repeat while keep-alive. Owned by the handlers of
// its pending operation (shared_from_this), so it ends when the last one completes without
// starting another.
class HealthServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)), buffer_(server.options().max_request_bytes) {
    server_.sessions_.insert(this);
  }
  ~Session() { server_.sessions_.erase(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() { Read(); }

  // Cuts the connection; the pending operation completes with an error and the session ends.
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(server_.options().max_request_bytes);
    parser_->body_limit(server_.options().max_request_bytes);
    stream_.expires_after(ToChrono(server_.options().idle_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (server_.stopping()) return;
    if (ec == http::error::end_of_stream) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    if (ec) {
      // A request that does not parse or is too large gets an answer; a timeout or a network
      // error just ends the connection.
      if (ec.category() != http::make_error_code(http::error::bad_method).category() ||
          ec == http::error::partial_message) {
        return;
      }
      http::response<http::string_body> response{http::status::bad_request, 11};
      response.set(http::field::content_type, kTextContentType);
      response.body() = "bad request\n";
      response.keep_alive(false);
      response.prepare_payload();
      Write(std::move(response), /*close=*/true);
      return;
    }
    const http::request<http::string_body>& request = parser_->get();
    http::response<http::string_body> response = server_.Handle(request);
    const bool close = !response.keep_alive();
    Write(std::move(response), close);
  }

  void Write(http::response<http::string_body> response, bool close) {
    response_ = std::move(response);
    stream_.expires_after(ToChrono(server_.options().idle_timeout));
    http::async_write(stream_, response_,
                      [self = shared_from_this(), close](beast::error_code ec, size_t) {
                        self->OnWrite(ec, close);
                      });
  }

  void OnWrite(beast::error_code ec, bool close) {
    if (ec || server_.stopping()) return;
    if (close) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    Read();
  }

  Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;  // Its maximum size bounds what a client can make us hold.
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

absl::Status HealthServer::Impl::Listen() {
  absl::StatusOr<HostPort> hp = SplitBindAddress(options_.bind_address);
  if (!hp.ok()) return hp.status();
  beast::error_code ec;
  tcp::endpoint endpoint;
  if (hp->host.empty()) {
    endpoint = tcp::endpoint(asio::ip::address_v4::any(), 0);
  } else if (asio::ip::address address = asio::ip::make_address(hp->host, ec); !ec) {
    endpoint = tcp::endpoint(address, 0);
  } else {
    tcp::resolver resolver(ioc_);
    const auto results = resolver.resolve(hp->host, hp->port, tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return absl::UnavailableError(
          absl::StrCat("cannot resolve \"", hp->host, "\": ", ec ? ec.message() : "no address"));
    }
    // The first IPv4 address if there is one ("localhost" means 127.0.0.1 whatever gai.conf
    // says), else the first address.
    endpoint = results.begin()->endpoint();
    for (const auto& result : results) {
      if (result.endpoint().address().is_v4()) {
        endpoint = result.endpoint();
        break;
      }
    }
  }
  uint32_t port = 0;
  (void)absl::SimpleAtoi(hp->port, &port);  // Checked by SplitBindAddress.
  endpoint.port(static_cast<uint16_t>(port));

  const auto fail = [&](absl::string_view what) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return absl::UnavailableError(
        absl::StrCat(what, " ", options_.bind_address, ": ", ec.message()));
  };
  if (acceptor_.open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("set up");
  if (acceptor_.bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  return absl::OkStatus();
}

uint16_t HealthServer::Impl::port() const {
  beast::error_code ec;
  const tcp::endpoint endpoint = acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

absl::Status HealthServer::Impl::StartThread() {
  Accept();
  try {
    thread_ = std::thread([this] {
      while (true) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          // A handler threw (e.g. out of memory); its connection is gone, the server goes on.
          spdlog::error("health server {}: {}", options_.bind_address, e.what());
        }
      }
    });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("health server thread: ", e.what()));
  }
  return absl::OkStatus();
}

void HealthServer::Impl::Stop() {
  if (!thread_.joinable()) return;
  asio::post(ioc_, [this] {
    stopping_ = true;
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
    for (Session* session : sessions_) session->Close();
  });
  // With the acceptor, timers and connections closed, run() returns as soon as their handlers
  // have seen the cancellation.
  thread_.join();
}

void HealthServer::Impl::Accept() {
  acceptor_.async_accept(
      ioc_, [this](beast::error_code ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
}

void HealthServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    spdlog::warn("health server {}: accept: {}", options_.bind_address, ec.message());
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !stopping_) Accept();
    });
    return;
  }
  if (sessions_.size() >= static_cast<size_t>(options_.max_connections)) {
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    std::make_shared<Session>(*this, std::move(socket))->Start();
  }
  Accept();
}

http::response<http::string_body> HealthServer::Impl::Handle(
    const http::request<http::string_body>& request) {
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, kTextContentType);
  response.set(http::field::cache_control, "no-store");

  std::string_view path = ToStd(request.target());
  path = path.substr(0, path.find('?'));
  const bool metrics = path == "/metrics" && options_.registry != nullptr;
  const bool healthz = path == "/healthz" && options_.serve_probes;
  const bool readyz = path == "/readyz" && options_.serve_probes;
  const bool head = request.method() == http::verb::head;

  if (!metrics && !healthz && !readyz) {
    response.result(http::status::not_found);
    response.body() = "404 page not found\n";
  } else if (request.method() != http::verb::get && !head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.body() = "method not allowed\n";
  } else if (metrics) {
    try {
      response.body() = options_.registry->Render();
      response.set(http::field::content_type, kMetricsContentType);
    } catch (const std::exception& e) {
      spdlog::error("health server {}: rendering metrics: {}", options_.bind_address, e.what());
      response.result(http::status::internal_server_error);
      response.body() = "cannot render metrics\n";
    }
  } else {
    const Check& check = healthz ? options_.liveness : options_.readiness;
    absl::Status status;
    if (check) {
      try {
        status = check();
      } catch (...) {
        // The exception's text is not sent: it is not ours to publish.
        status = absl::InternalError("the check threw an exception");
      }
    }
    if (status.ok()) {
      response.body() = "ok";
    } else {
      response.result(http::status::service_unavailable);
      response.body() = status.message().empty() ? absl::StatusCodeToString(status.code())
                                                 : std::string(status.message());
    }
  }
  response.prepare_payload();
  if (head) {
    // The length of the body a GET would get, without the body.
    const size_t length = response.body().size();
    response.body().clear();
    response.content_length(length);
  }
  return response;
}

HealthServer::HealthServer(Options options) : options_(std::move(options)) {}

HealthServer::~HealthServer() { Stop(); }

absl::Status HealthServer::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopped_) {
    return absl::FailedPreconditionError("health server already started or stopped");
  }
  if (options_.max_request_bytes < 256 || options_.max_connections < 1 ||
      options_.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "health server needs max_request_bytes >= 256, max_connections >= 1 and a positive "
        "idle_timeout");
  }
  try {
    auto impl = std::make_unique<Impl>(options_);
    if (absl::Status status = impl->Listen(); !status.ok()) return status;
    // Read before the I/O thread shares the acceptor.
    const uint16_t port = impl->port();
    if (absl::Status status = impl->StartThread(); !status.ok()) return status;
    port_ = port;
    impl_ = std::move(impl);
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("health server: ", e.what()));
  }
  started_ = true;
  return absl::OkStatus();
}

void HealthServer::Stop() {
  std::unique_ptr<Impl> impl;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    impl = std::move(impl_);
  }
  if (impl) impl->Stop();
}

uint16_t HealthServer::port() const {
  absl::MutexLock lock(&mu_);
  return port_;
}

}  // namespace cohort::op
