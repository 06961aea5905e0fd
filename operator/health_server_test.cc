#include "operator/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/buffer.hpp"
#include "boost/beast/http.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operator/runtime_metrics.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/wait.h"

namespace cohort::op {
namespace {

namespace http = boost::beast::http;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::Duration kIoTimeout = absl::Seconds(20);

struct Response {
  int status = 0;
  std::string content_type;
  std::string content_length;
  std::string connection;
  std::string body;
};

// A tiny HTTP client over a raw loopback socket, parsing answers with Beast's parser. Every wait
// is bounded by kIoTimeout so a broken server fails the test instead of hanging it.
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: errno ", errno));
    auto connection = std::unique_ptr<Connection>(new Connection(fd));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(absl::StrCat("connect: errno ", errno));
    }
    return connection;
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // False if the server closed the connection meanwhile.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(n);
    }
    return true;
  }

  // One response; an error if the connection ends first or the parser rejects it. `head`: the
  // request was a HEAD, so the response has no body whatever its Content-Length says.
  absl::StatusOr<Response> ReadResponse(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.skip(head);
    size_t used = 0;
    while (!parser.is_done()) {
      boost::beast::error_code ec;
      if (used < buffered_.size()) {
        used +=
            parser.put(boost::asio::buffer(buffered_.data() + used, buffered_.size() - used), ec);
      } else {
        ec = http::error::need_more;
      }
      if (ec == http::error::need_more) {
        if (absl::Status s = ReadMore(); !s.ok()) return s;
        continue;
      }
      if (ec) return absl::DataLossError("bad response: " + ec.message());
    }
    buffered_.erase(0, used);
    const auto& message = parser.get();
    Response response;
    response.status = static_cast<int>(message.result_int());
    response.content_type = std::string(message[http::field::content_type]);
    response.content_length = std::string(message[http::field::content_length]);
    response.connection = std::string(message[http::field::connection]);
    response.body = message.body();
    return response;
  }

  // Whether the server closes the connection (EOF or reset) within kIoTimeout; bytes that
  // arrive meanwhile are kept.
  bool WaitForClose() {
    while (true) {
      absl::Status s = ReadMore();
      if (absl::IsDeadlineExceeded(s)) return false;
      if (!s.ok()) return true;
    }
  }

  const std::string& buffered() const { return buffered_; }

 private:
  explicit Connection(int fd) : fd_(fd) {}

  // Appends what arrives next. Unavailable when the peer closed or reset the connection.
  absl::Status ReadMore() {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kIoTimeout)));
    if (ready == 0) return absl::DeadlineExceededError("no answer from the server");
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return absl::UnavailableError(n == 0 ? "closed" : "reset");
    buffered_.append(buf, n);
    return absl::OkStatus();
  }

  const int fd_;
  std::string buffered_;
};

std::string Request(const std::string& method, const std::string& target, bool close = true) {
  return absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      close ? "Connection: close\r\n" : "", "\r\n");
}

absl::StatusOr<Response> Fetch(uint16_t port, const std::string& target,
                               const std::string& method = "GET") {
  absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(port);
  if (!c.ok()) return c.status();
  if (!(*c)->Send(Request(method, target))) return absl::UnavailableError("send failed");
  return (*c)->ReadResponse(method == "HEAD");
}

std::unique_ptr<HealthServer> StartServer(HealthServer::Options options) {
  options.bind_address = "127.0.0.1:0";
  auto server = std::make_unique<HealthServer>(std::move(options));
  const absl::Status status = server->Start();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_NE(server->port(), 0);
  return server;
}

TEST(HealthServerTest, ServesTheRegistryAsPrometheusText) {
  Registry registry;
  registry.AddCounter("requests_total", "Requests.").Inc(3);
  registry.AddGaugeFamily("odd", "Odd \"labels\".", {"v"}).WithLabels({"a\"b\\c\nd"}).Set(1);
  WorkQueueMetricsPtr queue_metrics = NewWorkQueueMetrics(registry, "demo");
  ControllerMetricsPtr controller_metrics = NewControllerMetrics(registry, "demo");
  HealthServer::Options options;
  options.registry = &registry;
  auto server = StartServer(std::move(options));

  absl::StatusOr<Response> r = Fetch(server->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->content_type, StartsWith("text/plain; version=0.0.4"));
  EXPECT_EQ(r->body, registry.Render());
  EXPECT_THAT(r->body, HasSubstr("\nrequests_total 3\n"));
  absl::StatusOr<std::vector<cohort::testing::MetricSample>> samples =
      cohort::testing::ParsePrometheusText(r->body);
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_GT(samples->size(), 50u);  // The workqueue and controller series, histograms included.
  EXPECT_EQ(*cohort::testing::FindSample(*samples, "odd", {{"v", "a\"b\\c\nd"}}), 1);

  // A scrape sees updates.
  registry.AddCounter("requests_total", "Requests.").Inc();
  r = Fetch(server->port(), "/metrics?ignored=1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->body, HasSubstr("\nrequests_total 4\n"));
}

TEST(HealthServerTest, HealthzIsOkWhileAlive) {
  absl::Mutex mu;
  absl::Status liveness;
  HealthServer::Options options;
  options.liveness = [&] {
    absl::MutexLock lock(&mu);
    return liveness;
  };
  auto server = StartServer(std::move(options));

  absl::StatusOr<Response> r = Fetch(server->port(), "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");

  r = Fetch(server->port(), "/healthz", "HEAD");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_length, "2");
  EXPECT_EQ(r->body, "");

  {
    absl::MutexLock lock(&mu);
    liveness = absl::InternalError("the main loop stopped");
  }
  r = Fetch(server->port(), "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "the main loop stopped");

  // Without checks, both probes are OK.
  auto plain = StartServer({});
  for (const char* path : {"/healthz", "/readyz"}) {
    r = Fetch(plain->port(), path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200) << path;
  }
}

TEST(HealthServerTest, ReadyzFollowsTheReadinessCheck) {
  absl::Mutex mu;
  absl::Status readiness = absl::UnavailableError("caches not synced: configmaps");
  bool throw_instead = false;
  HealthServer::Options options;
  options.readiness = [&]() -> absl::Status {
    absl::MutexLock lock(&mu);
    if (throw_instead) throw std::runtime_error("secret detail");
    return readiness;
  };
  auto server = StartServer(std::move(options));

  absl::StatusOr<Response> r = Fetch(server->port(), "/readyz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "caches not synced: configmaps");

  {
    absl::MutexLock lock(&mu);
    readiness = absl::OkStatus();
  }
  r = Fetch(server->port(), "/readyz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");

  {
    absl::MutexLock lock(&mu);
    throw_instead = true;
  }
  r = Fetch(server->port(), "/readyz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_THAT(r->body, Not(HasSubstr("secret detail")));
}

TEST(HealthServerTest, UnknownPathsAre404AndOtherMethods405) {
  Registry registry;
  HealthServer::Options metrics_only;
  metrics_only.registry = &registry;
  metrics_only.serve_probes = false;
  auto metrics = StartServer(std::move(metrics_only));
  auto probes = StartServer({});

  const std::vector<std::pair<uint16_t, std::string>> not_found = {
      {probes->port(), "/"},          {probes->port(), "/nope"},
      {probes->port(), "/metrics"},   {probes->port(), "/healthz/extra"},
      {metrics->port(), "/healthz"},  {metrics->port(), "/readyz"},
      {metrics->port(), "/metricsx"},
  };
  for (const auto& [port, path] : not_found) {
    absl::StatusOr<Response> r = Fetch(port, path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 404) << path;
  }
  absl::StatusOr<Response> r = Fetch(metrics->port(), "/metrics", "POST");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 405);
  r = Fetch(probes->port(), "/readyz?verbose", "GET");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

TEST(HealthServerTest, KeepAliveAndPipelinedRequests) {
  auto server = StartServer({});
  absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(server->port());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->Send(Request("GET", "/healthz", /*close=*/false)));
  absl::StatusOr<Response> r = (*c)->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  // Two at once on the same connection, answered in order.
  ASSERT_TRUE((*c)->Send(Request("GET", "/nope", false) + Request("GET", "/readyz", true)));
  r = (*c)->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  r = (*c)->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->connection, "close");
  EXPECT_TRUE((*c)->WaitForClose());
}

TEST(HealthServerTest, MalformedRequestsAreRejectedWithoutCrashing) {
  Registry registry;
  registry.AddCounter("c_total", "C.").Inc();
  HealthServer::Options options;
  options.registry = &registry;
  options.max_request_bytes = 4096;
  // A random input that happens to parse leaves a keep-alive connection: close it soon.
  options.idle_timeout = absl::Seconds(1);
  auto server = StartServer(std::move(options));

  // Each of these is read whole by the server, which answers 400 and closes.
  for (const std::string& garbage :
       {std::string("\x01\x02\x03 / HTTP/1.1\r\n\r\n"), std::string("GET / HTTX/1.1\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n\r\n")}) {
    absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(server->port());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Send(garbage));
    absl::StatusOr<Response> r = (*c)->ReadResponse();
    ASSERT_TRUE(r.ok()) << r.status() << " for " << absl::CEscape(garbage);
    EXPECT_EQ(r->status, 400) << absl::CEscape(garbage);
    EXPECT_TRUE((*c)->WaitForClose());
  }

  // Too large (headers beyond max_request_bytes) and random bytes: the server may answer 400 or
  // cut the connection, but must close it and go on serving.
  std::vector<std::string> inputs = {
      "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n"};
  std::mt19937 random(42);
  for (int i = 0; i < 40; ++i) {
    std::string bytes(1 + random() % 600, '\0');
    for (char& ch : bytes) ch = static_cast<char>(random());
    // Half of them start like a real request, to get past the request line.
    if (i % 2 == 0) bytes = "GET /metrics HTTP/1.1\r\n" + bytes + "\r\n\r\n";
    inputs.push_back(std::move(bytes));
  }
  for (const std::string& input : inputs) {
    absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(server->port());
    ASSERT_TRUE(c.ok()) << c.status();
    (*c)->Send(input);  // The server may close before reading it all.
    EXPECT_TRUE((*c)->WaitForClose()) << absl::CEscape(input.substr(0, 100));
    const std::string& answer = (*c)->buffered();
    if (!answer.empty()) {
      EXPECT_THAT(answer, StartsWith("HTTP/1.1 ")) << absl::CEscape(answer.substr(0, 100));
    }
  }

  absl::StatusOr<Response> r = Fetch(server->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("c_total 1"));
}

TEST(HealthServerTest, StopIsPromptWithConnectionsOpen) {
  HealthServer::Options options;
  options.idle_timeout = absl::Hours(1);  // Stop must not wait for idle connections to time out.
  auto server = StartServer(std::move(options));
  const uint16_t port = server->port();

  // A connection between requests (answered once, so the server surely holds it), one with half
  // a request, one that sent nothing.
  absl::StatusOr<std::unique_ptr<Connection>> idle = Connection::Open(port);
  ASSERT_TRUE(idle.ok()) << idle.status();
  ASSERT_TRUE((*idle)->Send(Request("GET", "/healthz", /*close=*/false)));
  ASSERT_TRUE((*idle)->ReadResponse().ok());
  absl::StatusOr<std::unique_ptr<Connection>> partial = Connection::Open(port);
  ASSERT_TRUE(partial.ok()) << partial.status();
  ASSERT_TRUE((*partial)->Send("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  absl::StatusOr<std::unique_ptr<Connection>> silent = Connection::Open(port);
  ASSERT_TRUE(silent.ok()) << silent.status();

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server->Stop();
    stopped.store(true);
  });
  const absl::Status waited = testing::WaitFor(
      "Stop() to return", absl::Seconds(30), [&] { return stopped.load(); }, absl::Milliseconds(5));
  if (!waited.ok()) {
    ADD_FAILURE() << waited;
    stopper.detach();  // Leaks the hung Stop(); the test has failed already.
    return;
  }
  stopper.join();
  EXPECT_TRUE((*idle)->WaitForClose());
  EXPECT_TRUE((*partial)->WaitForClose());
  EXPECT_TRUE((*silent)->WaitForClose());
  EXPECT_FALSE(Connection::Open(port).ok()) << "still listening after Stop()";
  server->Stop();  // Idempotent.
  EXPECT_TRUE(absl::IsFailedPrecondition(server->Start()));
}

TEST(HealthServerTest, ClosesIdleConnectionsAndLimitsConnections) {
  HealthServer::Options options;
  options.max_connections = 1;
  options.idle_timeout = absl::Milliseconds(300);
  auto server = StartServer(std::move(options));

  // An idle connection is closed after idle_timeout.
  absl::StatusOr<std::unique_ptr<Connection>> idle = Connection::Open(server->port());
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_TRUE((*idle)->WaitForClose());
  idle->reset();

  // With one connection held, the next is closed unanswered; once it is gone, service resumes.
  std::unique_ptr<Connection> held;
  ASSERT_TRUE(testing::WaitFor("the idle connection to be released", absl::Seconds(30), [&] {
                auto c = Connection::Open(server->port());
                if (!c.ok() || !(*c)->Send(Request("GET", "/healthz", false))) return false;
                if (!(*c)->ReadResponse().ok()) return false;
                held = std::move(*c);
                return true;
              }).ok());
  {
    absl::StatusOr<std::unique_ptr<Connection>> extra = Connection::Open(server->port());
    ASSERT_TRUE(extra.ok()) << extra.status();
    (*extra)->Send(Request("GET", "/healthz"));
    EXPECT_TRUE((*extra)->WaitForClose());
    EXPECT_EQ((*extra)->buffered(), "");
  }
  held.reset();
  EXPECT_TRUE(testing::WaitFor("a connection to be served again", absl::Seconds(30), [&] {
                absl::StatusOr<Response> r = Fetch(server->port(), "/healthz");
                return r.ok() && r->status == 200;
              }).ok());
}

TEST(HealthServerTest, StartReportsBadAddressesAndBusyPorts) {
  for (const char* address :
       {"nope", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:8o80", "::1:8080", "[::1:8080"}) {
    HealthServer::Options options;
    options.bind_address = address;
    HealthServer server(std::move(options));
    const absl::Status status = server.Start();
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << address << ": " << status;
    EXPECT_EQ(server.port(), 0);
  }

  auto first = StartServer({});
  HealthServer::Options busy;
  busy.bind_address = absl::StrCat("127.0.0.1:", first->port());
  HealthServer second(std::move(busy));
  EXPECT_TRUE(absl::IsUnavailable(second.Start()));

  HealthServer::Options unresolvable;
  unresolvable.bind_address = "no-such-host.invalid:0";
  EXPECT_TRUE(absl::IsUnavailable(HealthServer(std::move(unresolvable)).Start()));

  EXPECT_TRUE(absl::IsFailedPrecondition(first->Start()));

  // Host names and "every interface" work too.
  for (const char* address : {"localhost:0", ":0"}) {
    HealthServer::Options options;
    options.bind_address = address;
    HealthServer server(std::move(options));
    ASSERT_TRUE(server.Start().ok()) << address;
    absl::StatusOr<Response> r = Fetch(server.port(), "/healthz");
    ASSERT_TRUE(r.ok()) << address << ": " << r.status();
    EXPECT_EQ(r->status, 200);
  }
}

}  // namespace
}  // namespace cohort::op
