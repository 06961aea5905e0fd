// The Beast HTTP server (http_server.h).
//
// Every connection is a Session on its own strand; all of its state is touched only there. A
// Session walks: [TLS handshake] -> idle (wait for the first byte) -> header -> body -> handler
// (waiting for the Responder) -> writing -> idle again, or -> closing (linger) -> closed. One
// steady_timer per Session bounds each phase; on expiry it cancels the socket's operations and
// the phase's completion handler sees `timed_out_` and answers 408. Core is shared by the server
// object, the Sessions and (through Sessions) the Responders, so whichever is last frees it.
#include "ingest/http/http_server.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <limits>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "ingest/http/gzip.h"
#include "ingest/http/tls_context.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest::http {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string_view RejectionName(Rejection rejection) {
  switch (rejection) {
    case Rejection::kConnectionLimit:
      return "connection_limit";
    case Rejection::kInFlightBytes:
      return "in_flight_bytes";
    case Rejection::kBodyTooLarge:
      return "body_too_large";
    case Rejection::kHeaderTooLarge:
      return "header_too_large";
    case Rejection::kTimeout:
      return "timeout";
    case Rejection::kBadRequest:
      return "bad_request";
    case Rejection::kUnsupportedEncoding:
      return "unsupported_encoding";
    case Rejection::kNotFound:
      return "not_found";
    case Rejection::kMethodNotAllowed:
      return "method_not_allowed";
    case Rejection::kHandlerDropped:
      return "handler_dropped";
  }
  return "unknown";
}

namespace {

constexpr int kRejectionCount = static_cast<int>(Rejection::kHandlerDropped) + 1;

// The server's side of one connection, as Core and Responders see it.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Each posts to the session's strand.
  virtual void PostResponse(Response response) = 0;
  virtual void PostDrain() = 0;
  virtual void PostForceClose() = 0;
};

// Debian's Abseil has its own string_view type.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

}  // namespace

struct HttpServer::Core : std::enable_shared_from_this<HttpServer::Core> {
  explicit Core(HttpServerOptions options_in)
      : options(std::move(options_in)), accept_strand(asio::make_strand(ioc)) {}

  // Immutable after Start.
  const HttpServerOptions options;
  std::vector<Route> routes;
  std::unique_ptr<TlsContextProvider> tls;

  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> accept_strand;
  std::optional<tcp::acceptor> acceptor;  // on accept_strand after Start
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  uint16_t bound_port = 0;

  std::atomic<bool> draining{false};

  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;  // nothing more is posted to ioc
  absl::flat_hash_map<uint64_t, std::weak_ptr<SessionBase>> sessions ABSL_GUARDED_BY(mu);
  uint64_t next_session_id ABSL_GUARDED_BY(mu) = 1;
  int64_t rejecting ABSL_GUARDED_BY(mu) = 0;  // sessions over the connection cap

  // Counters.
  std::atomic<int64_t> in_flight_bytes{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> request_bytes{0};
  std::atomic<uint64_t> response_bytes{0};
  std::array<std::atomic<uint64_t>, kRejectionCount> rejections{};
  mutable absl::Mutex stats_mu;
  std::map<std::pair<std::string, int>, uint64_t> responses ABSL_GUARDED_BY(stats_mu);

  // Runs `fn` on `executor` unless the server has stopped (then `fn` is dropped).
  template <typename Executor, typename Fn>
  void PostIfRunning(const Executor& executor, Fn&& fn) {
    absl::MutexLock lock(&mu);
    if (!stopped) asio::post(executor, std::forward<Fn>(fn));
  }

  bool TryReserve(int64_t bytes) {
    int64_t current = in_flight_bytes.load();
    do {
      if (bytes > options.max_in_flight_bytes - current) return false;
    } while (!in_flight_bytes.compare_exchange_weak(current, current + bytes));
    return true;
  }
  void Release(int64_t bytes) { in_flight_bytes.fetch_sub(bytes); }

  void CountRejection(Rejection rejection) {
    rejections[static_cast<int>(rejection)].fetch_add(1, std::memory_order_relaxed);
  }
  void CountResponse(const std::string& route, int status, size_t body_bytes) {
    response_bytes.fetch_add(body_bytes, std::memory_order_relaxed);
    absl::MutexLock lock(&stats_mu);
    ++responses[{route, status}];
  }

  // Registers a new connection; nullopt when it must be closed at once (draining, stopped, or
  // too many connections being turned away). `*rejecting_out` says it is over the cap.
  std::optional<uint64_t> Register(bool* rejecting_out) {
    absl::MutexLock lock(&mu);
    if (stopped || draining.load()) return std::nullopt;
    const int64_t serving = static_cast<int64_t>(sessions.size()) - rejecting;
    *rejecting_out = serving >= options.max_connections;
    if (*rejecting_out) {
      if (rejecting >= options.max_rejecting_connections) return std::nullopt;
      ++rejecting;
    }
    const uint64_t id = next_session_id++;
    sessions.emplace(id, std::weak_ptr<SessionBase>());
    return id;
  }
  // Makes a registered session visible to Drain and Stop. False when one of them has begun
  // (it may have enumerated the sessions before this one was attached): the caller closes it
  // instead of starting it. Checked under `mu`, which Drain and Stop take to enumerate after
  // setting `draining`, so a session is either enumerated or refused here, never missed.
  bool Attach(uint64_t id, std::weak_ptr<SessionBase> session) {
    absl::MutexLock lock(&mu);
    auto it = sessions.find(id);
    if (it != sessions.end()) it->second = std::move(session);
    return !draining.load();
  }
  void Unregister(uint64_t id, bool rejecting_session) {
    absl::MutexLock lock(&mu);
    if (sessions.erase(id) > 0 && rejecting_session) --rejecting;
  }
  std::vector<std::shared_ptr<SessionBase>> LiveSessions() {
    absl::MutexLock lock(&mu);
    std::vector<std::shared_ptr<SessionBase>> live;
    for (const auto& [id, weak] : sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    return live;
  }

  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);
};

namespace {

using Core = HttpServer::Core;

// What the route table says about a path and method.
struct RouteMatch {
  const Route* route = nullptr;      // the route for this method, if any
  std::vector<std::string> methods;  // every method served at this path
  const Cors* cors = nullptr;        // CORS of a route at this path, if any has it
};

RouteMatch FindRoute(const std::vector<Route>& routes, std::string_view path,
                     std::string_view method) {
  RouteMatch match;
  // Exact paths win over prefixes; among prefixes the longest wins.
  const Route* best = nullptr;
  for (const Route& route : routes) {
    if (!route.prefix && route.path == path) {
      best = &route;
      break;
    }
    if (route.prefix && absl::StartsWith(AsAbsl(path), route.path) &&
        (best == nullptr || route.path.size() > best->path.size())) {
      best = &route;
    }
  }
  if (best == nullptr) return match;
  for (const Route& route : routes) {
    if (route.prefix != best->prefix || route.path != best->path) continue;
    match.methods.push_back(route.method);
    if (route.method == method) match.route = &route;
    if (route.cors && match.cors == nullptr) match.cors = &*route.cors;
  }
  return match;
}

template <typename Stream>
tcp::socket& LowestSocket(Stream& stream) {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    return stream;
  } else {
    return stream.next_layer();
  }
}

template <typename Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // For plain connections.
  Session(std::shared_ptr<Core> core, uint64_t id, bool rejecting,
          tcp::socket socket) requires std::is_same_v<Stream, tcp::socket>
      : core_(std::move(core)),
        id_(id),
        rejecting_(rejecting),
        stream_(std::move(socket)),
        timer_(stream_.get_executor()) {}
  // For TLS connections: `context` is kept alive as long as the stream.
  Session(
      std::shared_ptr<Core> core, uint64_t id, bool rejecting, tcp::socket socket,
      std::shared_ptr<asio::ssl::context> context) requires(!std::is_same_v<Stream, tcp::socket>)
      : core_(std::move(core)),
        id_(id),
        rejecting_(rejecting),
        tls_context_(std::move(context)),
        stream_(std::move(socket), *tls_context_),
        timer_(stream_.get_executor()) {}

  ~Session() override { core_->Unregister(id_, rejecting_); }

  void Start() {
    error_code ec;
    const tcp::endpoint peer = LowestSocket(stream_).remote_endpoint(ec);
    if (ec) {
      Close();
      return;
    }
    peer_address_ = peer.address();
    peer_port_ = peer.port();
    first_header_deadline_ =
        std::chrono::steady_clock::now() + ToChrono(core_->options.header_timeout);
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      ArmTimer(FirstHeaderTimeLeft());
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = this->shared_from_this()](error_code ec) { self->OnHandshake(ec); });
    } else {
      ReadRequest();
    }
  }

  void PostResponse(Response response) override {
    core_->PostIfRunning(stream_.get_executor(), [self = this->shared_from_this(),
                                                  response = std::move(response)]() mutable {
      self->OnHandlerResponse(std::move(response));
    });
  }
  void PostDrain() override {
    core_->PostIfRunning(stream_.get_executor(), [self = this->shared_from_this()] {
      // Idle keep-alive connections go now; the others finish their request first.
      if (self->phase_ == Phase::kIdle) self->Close();
    });
  }
  void PostForceClose() override {
    core_->PostIfRunning(stream_.get_executor(),
                         [self = this->shared_from_this()] { self->Close(); });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;
  enum class Phase { kHandshake, kIdle, kHeader, kBody, kHandler, kWriting, kClosing, kClosed };

  // --- timers -----------------------------------------------------------------------------

  void ArmTimer(absl::Duration timeout) {
    const uint64_t generation = ++timer_generation_;
    timed_out_ = false;
    timer_.expires_after(ToChrono(timeout));
    timer_.async_wait([self = this->shared_from_this(), generation](error_code ec) {
      if (ec || generation != self->timer_generation_ || self->phase_ == Phase::kClosed) return;
      self->timed_out_ = true;
      error_code ignored;
      LowestSocket(self->stream_).cancel(ignored);
    });
  }
  void CancelTimer() {
    ++timer_generation_;
    timer_.cancel();
  }
  // The first request has header_timeout from the connection's start to the end of its header,
  // handshake and wait for the first byte included (later ones: from their first byte).
  absl::Duration FirstHeaderTimeLeft() const {
    const auto left = first_header_deadline_ - std::chrono::steady_clock::now();
    return std::max(absl::ZeroDuration(), absl::FromChrono(left));
  }

  // --- reading ----------------------------------------------------------------------------

  void OnHandshake(error_code ec) {
    CancelTimer();
    if (ec) {
      // No HTTP is possible without a handshake; the client sees the TLS alert.
      Close();
      return;
    }
    ReadRequest();
  }

  void ReadRequest() {
    route_ = nullptr;
    route_name_.clear();
    keep_alive_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(core_->options.max_header_bytes));
    // The route's limit is applied once the route is known. (Not boost::none: Beast 1.74 compares
    // the Content-Length with the empty optional and reports body_limit.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (rejecting_) {
      // Over the connection cap: answer at once, without reading the request; the linger after
      // the answer absorbs whatever the client sends meanwhile.
      Reject(503, Rejection::kConnectionLimit, "too many connections, retry later", true);
      return;
    }
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    // Wait for the first byte: a timeout here is an idle keep-alive connection (closed
    // silently) unless no request came at all (408, as for a slow header).
    phase_ = Phase::kIdle;
    if (core_->draining.load()) {
      Close();
      return;
    }
    ArmTimer(first_request_ ? FirstHeaderTimeLeft() : core_->options.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(4096),
        [self = this->shared_from_this()](error_code ec, size_t n) { self->OnIdleRead(ec, n); });
  }

  void OnIdleRead(error_code ec, size_t n) {
    CancelTimer();
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      if (timed_out_ && first_request_) {
        Reject(408, Rejection::kTimeout, "request header not received in time", true);
      } else {
        Close();
      }
      return;
    }
    buffer_.commit(n);
    ReadHeader();
  }

  void ReadHeader() {
    phase_ = Phase::kHeader;
    ArmTimer(first_request_ ? FirstHeaderTimeLeft() : core_->options.header_timeout);
    beast_http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    CancelTimer();
    if (phase_ == Phase::kClosed) return;
    first_request_ = false;
    if (ec) {
      if (timed_out_) {
        Reject(408, Rejection::kTimeout, "request header not received in time", true);
      } else if (ec == beast_http::error::header_limit) {
        Reject(431, Rejection::kHeaderTooLarge, "request header too large", true);
      } else if (ec == beast_http::error::end_of_stream || ec == asio::error::eof ||
                 ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
        Close();
      } else {
        Reject(400, Rejection::kBadRequest, absl::StrCat("malformed request: ", ec.message()),
               true);
      }
      return;
    }
    HandleHeader();
  }

  void HandleHeader() {
    request_start_ = std::chrono::steady_clock::now();
    const auto& header = parser_->get();
    keep_alive_ = header.keep_alive();
    const bool body_follows =
        parser_->chunked() || (parser_->content_length() && *parser_->content_length() > 0);
    const std::string_view target(header.target().data(), header.target().size());
    const size_t question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view method(header.method_string().data(), header.method_string().size());
    const RouteMatch match = FindRoute(core_->routes, path, method);
    if (match.route == nullptr && method == "OPTIONS" && match.cors != nullptr) {
      AnswerPreflight(match, body_follows);
      return;
    }
    if (match.route == nullptr) {
      if (match.methods.empty()) {
        Reject(404, Rejection::kNotFound, absl::StrCat("no such path: ", std::string(path)),
               body_follows);
      } else {
        Response response = JsonError(
            405, absl::StrCat("method ", std::string(method),
                              " not allowed; allowed: ", absl::StrJoin(match.methods, ", ")));
        response.headers.emplace_back("Allow", absl::StrJoin(match.methods, ", "));
        core_->CountRejection(Rejection::kMethodNotAllowed);
        response.close = body_follows;
        WriteResponse(std::move(response));
      }
      return;
    }
    route_ = match.route;
    route_name_ =
        route_->name.empty() ? absl::StrCat(route_->method, " ", route_->path) : route_->name;
    const auto encoding_it = header.find(beast_http::field::content_encoding);
    if (encoding_it != header.end()) {
      const std::string encoding = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
          absl::string_view(encoding_it->value().data(), encoding_it->value().size())));
      if (encoding == "gzip" || encoding == "x-gzip") {
        gzip_ = true;
      } else if (encoding.empty() || encoding == "identity") {
        gzip_ = false;
      } else {
        Reject(415, Rejection::kUnsupportedEncoding,
               absl::StrCat("unsupported Content-Encoding: ", encoding), body_follows);
        return;
      }
    } else {
      gzip_ = false;
    }
    declared_length_ = parser_->content_length().has_value();
    const uint64_t max_bytes = static_cast<uint64_t>(route_->max_request_bytes);
    if (parser_->content_length() && *parser_->content_length() > max_bytes) {
      Reject(413, Rejection::kBodyTooLarge, "Payload too large", true);
      return;
    }
    if (parser_->content_length()) {
      const int64_t declared = static_cast<int64_t>(*parser_->content_length());
      if (!core_->TryReserve(declared)) {
        Reject(503, Rejection::kInFlightBytes, "server busy, retry later", true);
        return;
      }
      reserved_ += declared;
    }
    parser_->body_limit(max_bytes);
    const auto expect = header.find(beast_http::field::expect);
    if (expect != header.end() &&
        absl::EqualsIgnoreCase(absl::string_view(expect->value().data(), expect->value().size()),
                               "100-continue")) {
      continue_.emplace(beast_http::status::continue_, 11);
      phase_ = Phase::kBody;
      ArmTimer(core_->options.write_timeout);
      beast_http::async_write(stream_, *continue_,
                              [self = this->shared_from_this()](error_code ec, size_t) {
                                self->CancelTimer();
                                if (ec || self->phase_ == Phase::kClosed) {
                                  self->Close();
                                  return;
                                }
                                self->ReadBody();
                              });
      return;
    }
    ReadBody();
  }

  void AnswerPreflight(const RouteMatch& match, bool body_follows) {
    Response response;
    response.status = 204;
    response.content_type.clear();
    std::vector<std::string> methods = match.methods;
    methods.push_back("OPTIONS");
    response.headers = {
        {"Access-Control-Allow-Origin", match.cors->allow_origin},
        {"Access-Control-Allow-Methods", absl::StrJoin(methods, ", ")},
        {"Access-Control-Allow-Headers", absl::StrJoin(match.cors->allow_headers, ", ")},
        {"Access-Control-Max-Age", absl::StrCat(absl::ToInt64Seconds(match.cors->max_age))},
    };
    if (match.cors->allow_origin != "*") response.headers.emplace_back("Vary", "Origin");
    response.close = body_follows;
    WriteResponse(std::move(response));
  }

  void ReadBody() {
    phase_ = Phase::kBody;
    ArmTimer(core_->options.body_timeout);
    beast_http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(error_code ec) {
    CancelTimer();
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      if (timed_out_) {
        Reject(408, Rejection::kTimeout, "request body not received in time", true);
      } else if (ec == beast_http::error::body_limit) {
        Reject(413, Rejection::kBodyTooLarge, "Payload too large", true);
      } else if (ec == beast_http::error::partial_message || ec == asio::error::eof ||
                 ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
        Close();
      } else {
        Reject(400, Rejection::kBadRequest, absl::StrCat("malformed request: ", ec.message()),
               true);
      }
      return;
    }
    beast_http::request<beast_http::string_body> message = parser_->release();
    Request request;
    request.wire_body_bytes = message.body().size();
    core_->request_bytes.fetch_add(request.wire_body_bytes, std::memory_order_relaxed);
    if (!declared_length_) {  // chunked: known only now
      const int64_t received = static_cast<int64_t>(request.wire_body_bytes);
      if (!core_->TryReserve(received)) {
        Reject(503, Rejection::kInFlightBytes, "server busy, retry later", !keep_alive_);
        return;
      }
      reserved_ += received;
    }
    if (gzip_) {
      absl::StatusOr<std::string> decoded =
          GunzipBounded(message.body(), static_cast<size_t>(route_->max_request_bytes));
      if (!decoded.ok()) {
        if (absl::IsResourceExhausted(decoded.status())) {
          Reject(413, Rejection::kBodyTooLarge, "Payload too large", !keep_alive_);
        } else {
          Reject(400, Rejection::kBadRequest,
                 absl::StrCat("bad gzip body: ", decoded.status().message()), !keep_alive_);
        }
        return;
      }
      const int64_t decoded_size = static_cast<int64_t>(decoded->size());
      if (!core_->TryReserve(decoded_size)) {
        Reject(503, Rejection::kInFlightBytes, "server busy, retry later", !keep_alive_);
        return;
      }
      reserved_ += decoded_size;
      request.body = *std::move(decoded);
    } else {
      request.body = std::move(message.body());
    }
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    request.headers.reserve(static_cast<size_t>(std::distance(message.begin(), message.end())));
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.peer_address = peer_address_;
    request.peer_port = peer_port_;
    request.tls = kTls;
    phase_ = Phase::kHandler;
    Responder responder(std::make_shared<Exchange>(this->shared_from_this()));
    try {
      route_->handler(std::move(request), std::move(responder));
    } catch (const std::exception& e) {
      // The moved-in Responder was destroyed during unwinding and answered 500.
      spdlog::error("http: handler for {} threw: {}", route_name_, e.what());
    } catch (...) {
      spdlog::error("http: handler for {} threw a non-standard exception", route_name_);
    }
  }

  // --- writing ----------------------------------------------------------------------------

  // The Responder's target: forwards the answer to the session's strand.
  class Exchange final : public Responder::Target {
   public:
    explicit Exchange(std::shared_ptr<Session> session) : session_(std::move(session)) {}
    void Complete(Response response) override { session_->PostResponse(std::move(response)); }
    void Dropped() override {
      spdlog::error("http: the handler for {} dropped its Responder; answering 500",
                    session_->route_name_);
      session_->core_->CountRejection(Rejection::kHandlerDropped);
      Response response =
          session_->FormatError(session_->route_, 500, "the request handler did not answer");
      session_->PostResponse(std::move(response));
    }

   private:
    const std::shared_ptr<Session> session_;
  };

  static Response FormatError(const Route* route, int status, std::string_view message) {
    if (route != nullptr && route->error_formatter) return route->error_formatter(status, message);
    return JsonError(status, message);
  }

  void OnHandlerResponse(Response response) {
    if (phase_ != Phase::kHandler) return;  // closed meanwhile (forced stop)
    WriteResponse(std::move(response));
  }

  void Reject(int status, Rejection reason, std::string_view message, bool close) {
    core_->CountRejection(reason);
    Response response = FormatError(route_, status, message);
    response.close = response.close || close;
    WriteResponse(std::move(response));
  }

  void WriteResponse(Response response) {
    phase_ = Phase::kWriting;
    close_after_write_ = response.close || !keep_alive_ || core_->draining.load();
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(response.status));
    if (!response.content_type.empty()) {
      response_.set(beast_http::field::content_type, response.content_type);
    }
    for (const Header& header : response.headers) response_.set(header.first, header.second);
    if (route_ != nullptr && route_->cors) {
      response_.set(beast_http::field::access_control_allow_origin, route_->cors->allow_origin);
      if (route_->cors->allow_origin != "*") response_.set(beast_http::field::vary, "Origin");
    }
    response_.keep_alive(!close_after_write_);
    response_.body() = std::move(response.body);
    response_.prepare_payload();
    core_->CountResponse(route_name_, response.status, response_.body().size());
    if (core_->options.on_response) {
      const absl::Duration latency =
          request_start_.has_value()
              ? absl::FromChrono(std::chrono::steady_clock::now() - *request_start_)
              : absl::ZeroDuration();
      core_->options.on_response(route_name_, response.status, latency);
    }
    request_start_.reset();
    ArmTimer(core_->options.write_timeout);
    beast_http::async_write(
        stream_, response_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(error_code ec) {
    CancelTimer();
    ReleaseReserved();
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      Close();
    } else if (close_after_write_) {
      GracefulClose();
    } else {
      ReadRequest();
    }
  }

  void ReleaseReserved() {
    if (reserved_ > 0) core_->Release(reserved_);
    reserved_ = 0;
  }

  // --- closing ----------------------------------------------------------------------------

  // Sends close_notify (TLS), half-closes, then reads and discards what the client still sends
  // (bounded in time and bytes) so the kernel does not reset the connection over unread data.
  void GracefulClose() {
    phase_ = Phase::kClosing;
    ArmTimer(core_->options.linger_timeout);
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](error_code) {
        if (self->phase_ == Phase::kClosed) return;
        self->HalfCloseAndLinger();
      });
    } else {
      HalfCloseAndLinger();
    }
  }

  void HalfCloseAndLinger() {
    error_code ignored;
    LowestSocket(stream_).shutdown(tcp::socket::shutdown_send, ignored);
    Linger();
  }

  void Linger() {
    LowestSocket(stream_).async_read_some(
        asio::buffer(discard_), [self = this->shared_from_this()](error_code ec, size_t n) {
          if (self->phase_ == Phase::kClosed) return;
          self->lingered_bytes_ += static_cast<int64_t>(n);
          if (ec || self->lingered_bytes_ >= self->core_->options.linger_max_bytes) {
            self->Close();
          } else {
            self->Linger();
          }
        });
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    CancelTimer();
    ReleaseReserved();
    error_code ignored;
    LowestSocket(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    LowestSocket(stream_).close(ignored);
    // Counted as closed now, though a Responder may keep this object a while longer.
    core_->Unregister(id_, rejecting_);
  }

  const std::shared_ptr<Core> core_;  // first: destroyed last, after the socket
  const uint64_t id_;
  const bool rejecting_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // outlives stream_
  Stream stream_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  bool timed_out_ = false;
  Phase phase_ = Phase::kIdle;
  std::chrono::steady_clock::time_point first_header_deadline_;
  bool first_request_ = true;
  asio::ip::address peer_address_;
  uint16_t peer_port_ = 0;
  boost::beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::optional<beast_http::response<beast_http::empty_body>> continue_;
  beast_http::response<beast_http::string_body> response_;
  const Route* route_ = nullptr;
  std::string route_name_;
  // When the request's header was parsed; unset for answers to unparsable or unread requests.
  std::optional<std::chrono::steady_clock::time_point> request_start_;
  bool keep_alive_ = false;
  bool gzip_ = false;
  bool declared_length_ = false;  // Content-Length (else chunked)
  bool close_after_write_ = false;
  int64_t reserved_ = 0;  // in-flight bytes held for the request in progress
  int64_t lingered_bytes_ = 0;
  std::array<char, 4096> discard_;
};

using PlainSession = Session<tcp::socket>;
using TlsSession = Session<asio::ssl::stream<tcp::socket>>;

}  // namespace

void HttpServer::Core::Accept() {
  acceptor->async_accept(asio::make_strand(ioc),
                         [self = shared_from_this()](error_code ec, tcp::socket socket) {
                           self->OnAccept(ec, std::move(socket));
                         });
}

void HttpServer::Core::OnAccept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
  if (!ec) {
    connections_accepted.fetch_add(1, std::memory_order_relaxed);
    bool rejecting = false;
    const std::optional<uint64_t> id = Register(&rejecting);
    if (!id) {
      CountRejection(Rejection::kConnectionLimit);
      error_code ignored;
      socket.close(ignored);
    } else if (tls != nullptr) {
      auto session = std::make_shared<TlsSession>(shared_from_this(), *id, rejecting,
                                                  std::move(socket), tls->Current());
      // Not "Start, then close if draining": by then the session may be serving a request that
      // Drain must let finish (it once closed a request parked in its handler).
      if (Attach(*id, session)) {
        session->Start();
      } else {
        session->PostForceClose();
      }
    } else {
      auto session =
          std::make_shared<PlainSession>(shared_from_this(), *id, rejecting, std::move(socket));
      if (Attach(*id, session)) {
        session->Start();
      } else {
        session->PostForceClose();
      }
    }
  } else {
    // EMFILE and the like: keep accepting; the next attempt may succeed.
    spdlog::warn("http: accept failed: {}", ec.message());
  }
  Accept();
}

HttpServerOptions ListenerOptions(const config::IngestConfig& config, uint16_t port) {
  HttpServerOptions options;
  options.address = config.listeners.address;
  options.port = port;
  options.max_connections = config.limits.max_connections;
  options.tls = config.tls;
  return options;
}

HttpServer::HttpServer(HttpServerOptions options)
    : core_(std::make_shared<Core>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::AddRoute(Route route) {
  if (core_->acceptor) return absl::FailedPreconditionError("AddRoute after Start");
  if (route.method.empty() || route.path.empty() || route.path.front() != '/') {
    return absl::InvalidArgumentError("a route needs a method and a path starting with '/'");
  }
  if (!route.handler) {
    return absl::InvalidArgumentError(
        absl::StrCat("route ", route.method, " ", route.path, " has no handler"));
  }
  if (route.max_request_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("route ", route.method, " ", route.path, ": max_request_bytes must be > 0"));
  }
  for (const Route& other : core_->routes) {
    if (other.method == route.method && other.path == route.path && other.prefix == route.prefix) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate route ", route.method, " ", route.path));
    }
  }
  core_->routes.push_back(std::move(route));
  return absl::OkStatus();
}

absl::Status HttpServer::Start() {
  Core& core = *core_;
  const HttpServerOptions& options = core.options;
  if (core.acceptor) return absl::FailedPreconditionError("Start called twice");
  if (options.io_threads < 1 || options.max_connections < 1 || options.max_in_flight_bytes < 1 ||
      options.max_header_bytes < 1 || options.max_header_bytes > (int64_t{1} << 30) ||
      options.max_rejecting_connections < 0 || options.linger_max_bytes < 0 ||
      options.clock == nullptr) {
    return absl::InvalidArgumentError("HttpServerOptions out of range");
  }
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.address, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("bad listen address \"", options.address, "\""));
  }
  if (options.tls) {
    absl::StatusOr<std::unique_ptr<TlsContextProvider>> tls =
        TlsContextProvider::Create(*options.tls, *options.clock, options.tls_check_interval);
    if (!tls.ok()) return tls.status();
    core.tls = *std::move(tls);
  }
  tcp::acceptor acceptor(core.accept_strand);
  const tcp::endpoint endpoint(address, options.port);
  if (acceptor.open(endpoint.protocol(), ec) ||
      acceptor.set_option(asio::socket_base::reuse_address(true), ec) ||
      acceptor.bind(endpoint, ec) ||
      acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address, ":", options.port, ": ", ec.message()));
  }
  core.bound_port = acceptor.local_endpoint(ec).port();
  core.acceptor.emplace(std::move(acceptor));
  core.work.emplace(core.ioc.get_executor());
  asio::post(core.accept_strand, [core = core_] { core->Accept(); });
  for (int i = 0; i < options.io_threads; ++i) {
    core.threads.emplace_back([&core] { core.ioc.run(); });
  }
  return absl::OkStatus();
}

uint16_t HttpServer::port() const { return core_->bound_port; }

absl::Status HttpServer::Drain(absl::Time deadline) {
  Core& core = *core_;
  if (!core.acceptor || core.threads.empty()) return absl::OkStatus();
  core.draining.store(true);
  core.PostIfRunning(core.accept_strand, [&core] {
    error_code ignored;
    core.acceptor->close(ignored);
  });
  for (const auto& session : core.LiveSessions()) session->PostDrain();
  bool drained;
  {
    absl::MutexLock lock(&core.mu);
    drained = core.options.clock->AwaitWithDeadline(
        core.mu,
        absl::Condition(
            +[](Core* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu) { return c->sessions.empty(); },
            &core),
        deadline);
  }
  Stop();
  return drained ? absl::OkStatus()
                 : absl::DeadlineExceededError("connections still open at the drain deadline");
}

void HttpServer::Stop() {
  Core& core = *core_;
  if (!core.acceptor || core.threads.empty()) return;
  core.draining.store(true);
  core.PostIfRunning(core.accept_strand, [&core] {
    error_code ignored;
    core.acceptor->close(ignored);
  });
  for (const auto& session : core.LiveSessions()) session->PostForceClose();
  {
    // The I/O threads close the sockets promptly; the bound only guards against a wedged thread.
    absl::MutexLock lock(&core.mu);
    core.mu.AwaitWithTimeout(absl::Condition(
                                 +[](Core* c) { return c->sessions.empty(); }, &core),
                             absl::Seconds(10));
    core.stopped = true;
  }
  core.work.reset();
  core.ioc.stop();
  for (std::thread& thread : core.threads) thread.join();
  core.threads.clear();
  // Run what is left (completions of cancelled operations) so no handler keeps a Session, and
  // with it Core, alive in the queue.
  core.ioc.restart();
  while (core.ioc.poll() > 0) {
  }
  error_code ignored;
  core.acceptor->close(ignored);
}

absl::Status HttpServer::ReloadTls() {
  if (core_->tls == nullptr) return absl::FailedPreconditionError("TLS is not configured");
  return core_->tls->Reload();
}

HttpServerStats HttpServer::Stats() const {
  const Core& core = *core_;
  HttpServerStats stats;
  {
    absl::MutexLock lock(&core.stats_mu);
    stats.responses = core.responses;
  }
  for (int i = 0; i < kRejectionCount; ++i) {
    const uint64_t count = core.rejections[i].load(std::memory_order_relaxed);
    if (count > 0) stats.rejections[static_cast<Rejection>(i)] = count;
  }
  stats.connections_accepted = core.connections_accepted.load();
  {
    absl::MutexLock lock(&core_->mu);
    stats.open_connections = static_cast<int64_t>(core_->sessions.size());
  }
  stats.in_flight_bytes = core.in_flight_bytes.load();
  stats.request_bytes = core.request_bytes.load();
  stats.response_bytes = core.response_bytes.load();
  if (core.tls != nullptr) {
    stats.tls_reloads = core.tls->reloads();
    stats.tls_reload_failures = core.tls->reload_failures();
  }
  return stats;
}

}  // namespace cohort::ingest::http
