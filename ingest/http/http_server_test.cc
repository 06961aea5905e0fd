// HttpServer over real loopback connections: routing, keep-alive, every limit and its JSON
// answer, gzip, CORS, asynchronous and abandoned responders, the connection cap, drain and TLS.
#include "ingest/http/http_server.h"

#include <openssl/ssl.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ingest/http/test_client.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::http {
namespace {

using testing::Gzip;
using testing::MakeRequest;
using testing::RoundTrip;
using testing::TestConnection;
using testing::TestResponse;

// Responders the "park" handler keeps until the test answers them.
class Parking {
 public:
  void Park(Request request, Responder responder) {
    absl::MutexLock lock(&mu_);
    requests_.push_back(std::move(request));
    responders_.push_back(std::move(responder));
  }
  // Waits until `n` requests have been parked (10 s at most).
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    wanted_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &Parking::Enough), absl::Seconds(10));
  }
  Responder Take(size_t i) {
    absl::MutexLock lock(&mu_);
    return std::move(responders_.at(i));
  }
  Request request(size_t i) {
    absl::MutexLock lock(&mu_);
    return requests_.at(i);
  }

 private:
  bool Enough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return responders_.size() >= wanted_; }

  absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<Responder> responders_ ABSL_GUARDED_BY(mu_);
  size_t wanted_ ABSL_GUARDED_BY(mu_) = 0;
};

nlohmann::json Json(const TestResponse& response) {
  return nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}

// Expects a JSON error body whose code equals the status.
void ExpectJsonError(const TestResponse& response, int status) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(response.FindHeader("Content-Type"), "application/json");
  const nlohmann::json body = Json(response);
  ASSERT_TRUE(body.is_object()) << response.body;
  EXPECT_EQ(body.value("code", 0), status) << response.body;
  EXPECT_TRUE(body.contains("error") && body["error"].is_string()) << response.body;
}

class HttpServerTest : public ::testing::Test {
 protected:
  // Starts a server with the standard routes and `options`.
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    Route echo;
    echo.method = "POST";
    echo.path = "/echo";
    echo.max_request_bytes = 1000;
    echo.handler = [](Request request, Responder responder) {
      nlohmann::json body = {{"path", request.path},
                             {"query", request.query},
                             {"body", request.body},
                             {"wire", request.wire_body_bytes},
                             {"peer", request.peer_address.to_string()},
                             {"tls", request.tls},
                             {"test_header", request.JoinedHeader("X-Test")}};
      responder.Respond(JsonResponse(200, body.dump()));
    };
    ASSERT_TRUE(server_->AddRoute(echo).ok());
    Route get;
    get.method = "GET";
    get.path = "/echo";
    get.handler = [](Request, Responder responder) {
      responder.Respond(JsonResponse(200, R"({"get":true})"));
    };
    ASSERT_TRUE(server_->AddRoute(get).ok());
    Route prefix;
    prefix.name = "langfuse";
    prefix.method = "POST";
    prefix.path = "/dify/";
    prefix.prefix = true;
    prefix.handler = [](Request request, Responder responder) {
      responder.Respond(JsonResponse(207, nlohmann::json({{"path", request.path}}).dump()));
    };
    ASSERT_TRUE(server_->AddRoute(prefix).ok());
    Route exact_under_prefix = prefix;
    exact_under_prefix.name = "health";
    exact_under_prefix.method = "GET";
    exact_under_prefix.path = "/dify/api/public/health";
    exact_under_prefix.prefix = false;
    exact_under_prefix.handler = [](Request, Responder responder) {
      responder.Respond(JsonResponse(200, R"({"status":"OK"})"));
    };
    ASSERT_TRUE(server_->AddRoute(exact_under_prefix).ok());
    Route park;
    park.method = "POST";
    park.path = "/park";
    park.handler = [this](Request request, Responder responder) {
      parking_.Park(std::move(request), std::move(responder));
    };
    ASSERT_TRUE(server_->AddRoute(park).ok());
    Route drop;
    drop.method = "POST";
    drop.path = "/drop";
    drop.handler = [](Request, Responder) {};  // a buggy handler
    ASSERT_TRUE(server_->AddRoute(drop).ok());
    Route thrower;
    thrower.method = "POST";
    thrower.path = "/throw";
    thrower.handler = [](Request, Responder) { throw std::runtime_error("boom"); };
    ASSERT_TRUE(server_->AddRoute(thrower).ok());
    Route cors;
    cors.method = "POST";
    cors.path = "/2/httpapi";
    cors.cors = Cors{};
    cors.max_request_bytes = 100;
    cors.error_formatter = [](int status, std::string_view message) {
      Response response = JsonError(status, message);
      response.body = absl::StrCat(R"({"code":)", status, R"(,"error":"amplitude says: )",
                                   std::string(message), R"("})");
      return response;
    };
    cors.handler = [](Request, Responder responder) {
      responder.Respond(JsonResponse(200, R"({"code":200})"));
    };
    ASSERT_TRUE(server_->AddRoute(cors).ok());
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }

  std::unique_ptr<TestConnection> Connect() {
    absl::StatusOr<std::unique_ptr<TestConnection>> connection = TestConnection::Connect(port_);
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? *std::move(connection) : nullptr;
  }

  uint64_t Rejections(Rejection reason) {
    const HttpServerStats stats = server_->Stats();
    auto it = stats.rejections.find(reason);
    return it == stats.rejections.end() ? 0 : it->second;
  }

  // Waits (10 s at most) until `predicate(Stats())` holds.
  template <typename Predicate>
  bool WaitForStats(Predicate predicate) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (predicate(server_->Stats())) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }

  Parking parking_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(HttpServerTest, RoutesByExactPathAndLongestPrefix) {
  StartServer();
  absl::StatusOr<TestResponse> response =
      RoundTrip(port_, MakeRequest("POST", "/echo?a=1&b=2", "hello", {{"X-Test", "t1"}}));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200) << response->body;
  const nlohmann::json body = Json(*response);
  EXPECT_EQ(body["path"], "/echo");
  EXPECT_EQ(body["query"], "a=1&b=2");
  EXPECT_EQ(body["body"], "hello");
  EXPECT_EQ(body["peer"], "127.0.0.1");
  EXPECT_EQ(body["tls"], false);
  EXPECT_EQ(body["test_header"], "t1");

  response = RoundTrip(port_, MakeRequest("GET", "/echo"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(Json(*response)["get"], true);

  response = RoundTrip(port_, MakeRequest("POST", "/dify/api/public/ingestion", "{}"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 207);
  EXPECT_EQ(Json(*response)["path"], "/dify/api/public/ingestion");

  // The exact route wins over the prefix; the prefix's other method is then not allowed.
  response = RoundTrip(port_, MakeRequest("GET", "/dify/api/public/health"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(Json(*response)["status"], "OK");
  response = RoundTrip(port_, MakeRequest("POST", "/dify/api/public/health", "{}"));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 405);
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  StartServer();
  absl::StatusOr<TestResponse> response = RoundTrip(port_, MakeRequest("GET", "/nope"));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 404);
  EXPECT_TRUE(response->keep_alive);  // no body was left unread

  response = RoundTrip(port_, MakeRequest("DELETE", "/echo"));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 405);
  EXPECT_EQ(response->FindHeader("Allow"), "POST, GET");
  EXPECT_EQ(Rejections(Rejection::kNotFound), 1u);
  EXPECT_EQ(Rejections(Rejection::kMethodNotAllowed), 1u);
}

TEST_F(HttpServerTest, KeepAliveAndPipelining) {
  StartServer();
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(connection->Send(MakeRequest("POST", "/echo", absl::StrCat("n", i))).ok());
    absl::StatusOr<TestResponse> response = connection->Read();
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(Json(*response)["body"], absl::StrCat("n", i));
    EXPECT_TRUE(response->keep_alive);
  }
  // Three requests in one write are answered in order.
  ASSERT_TRUE(connection
                  ->Send(MakeRequest("POST", "/echo", "p1") + MakeRequest("GET", "/nope") +
                         MakeRequest("POST", "/echo", "p3"))
                  .ok());
  absl::StatusOr<TestResponse> first = connection->Read();
  absl::StatusOr<TestResponse> second = connection->Read();
  absl::StatusOr<TestResponse> third = connection->Read();
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  EXPECT_EQ(Json(*first)["body"], "p1");
  EXPECT_EQ(second->status, 404);
  EXPECT_EQ(Json(*third)["body"], "p3");
  // Connection: close from the client is honoured.
  ASSERT_TRUE(
      connection->Send(MakeRequest("POST", "/echo", "bye", {{"Connection", "close"}})).ok());
  absl::StatusOr<TestResponse> last = connection->Read();
  ASSERT_TRUE(last.ok());
  EXPECT_FALSE(last->keep_alive);
  EXPECT_TRUE(connection->WaitForClose().ok());
}

TEST_F(HttpServerTest, DeclaredBodyOverTheLimitIs413WithoutReadingIt) {
  StartServer();
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  // Announces 10 MB and sends only a little: the answer must not wait for the rest.
  ASSERT_TRUE(connection
                  ->Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" +
                         std::string(500, 'a'))
                  .ok());
  absl::StatusOr<TestResponse> response = connection->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 413);
  EXPECT_FALSE(response->keep_alive);
  // Closed in order (FIN), not reset, although the client still had unread bytes in flight.
  EXPECT_TRUE(connection->WaitForClose().ok());
  EXPECT_EQ(Rejections(Rejection::kBodyTooLarge), 1u);
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIs413) {
  StartServer();
  std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) absl::StrAppend(&request, "12c\r\n", std::string(300, 'b'), "\r\n");
  request += "0\r\n\r\n";
  absl::StatusOr<TestResponse> response = RoundTrip(port_, request);
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 413);
  // A chunked body within the limit is fine.
  response = RoundTrip(port_,
                       "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(Json(*response)["body"], "abcde");
}

TEST_F(HttpServerTest, RouteErrorFormatterAndCors) {
  StartServer();
  // Preflight.
  absl::StatusOr<TestResponse> response =
      RoundTrip(port_, MakeRequest("OPTIONS", "/2/httpapi", "",
                                   {{"Origin", "https://app.example"},
                                    {"Access-Control-Request-Method", "POST"},
                                    {"Access-Control-Request-Headers", "content-type"}}));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->FindHeader("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(response->FindHeader("Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_NE(response->FindHeader("Access-Control-Allow-Headers")->find("Content-Type"),
            std::string::npos);
  // Real responses, including errors, carry the origin header; a text/plain beacon works.
  response =
      RoundTrip(port_, MakeRequest("POST", "/2/httpapi", "{}", {{"Content-Type", "text/plain"}}));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->FindHeader("Access-Control-Allow-Origin"), "*");
  response = RoundTrip(port_, MakeRequest("POST", "/2/httpapi", std::string(101, 'x')));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 413);
  EXPECT_EQ(Json(*response)["error"], "amplitude says: Payload too large");
  EXPECT_EQ(response->FindHeader("Access-Control-Allow-Origin"), "*");
  // A route without CORS: no header, and OPTIONS is not allowed.
  response = RoundTrip(port_, MakeRequest("POST", "/echo", "x"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->FindHeader("Access-Control-Allow-Origin"), std::nullopt);
  response = RoundTrip(port_, MakeRequest("OPTIONS", "/echo"));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 405);
}

TEST_F(HttpServerTest, GzipBodies) {
  StartServer();
  const std::string text(900, 'z');
  absl::StatusOr<TestResponse> response =
      RoundTrip(port_, MakeRequest("POST", "/echo", Gzip(text), {{"Content-Encoding", "gzip"}}));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(Json(*response)["body"], text);
  EXPECT_LT(Json(*response)["wire"].get<int>(), 100);

  // Small on the wire, over the limit once decoded.
  response = RoundTrip(port_, MakeRequest("POST", "/echo", Gzip(std::string(100000, 'z')),
                                          {{"Content-Encoding", "gzip"}}));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 413);

  response = RoundTrip(
      port_, MakeRequest("POST", "/echo", "definitely not gzip", {{"Content-Encoding", "gzip"}}));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 400);

  response = RoundTrip(port_, MakeRequest("POST", "/echo", "x", {{"Content-Encoding", "br"}}));
  ASSERT_TRUE(response.ok());
  ExpectJsonError(*response, 415);
  EXPECT_EQ(Rejections(Rejection::kUnsupportedEncoding), 1u);
}

TEST_F(HttpServerTest, AsyncResponderFromAnotherThread) {
  StartServer();
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->Send(MakeRequest("POST", "/park", "payload")).ok());
  ASSERT_TRUE(parking_.WaitFor(1));
  EXPECT_EQ(parking_.request(0).body, "payload");
  // Nothing is answered while the responder is held.
  EXPECT_EQ(connection->Read(absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  std::thread other([responder = parking_.Take(0)]() mutable {
    responder.Respond(JsonResponse(202, R"({"code":202})"));
  });
  other.join();
  absl::StatusOr<TestResponse> response = connection->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 202);
  EXPECT_TRUE(response->keep_alive);
  // The connection serves the next request.
  ASSERT_TRUE(connection->Send(MakeRequest("POST", "/echo", "again")).ok());
  response = connection->Read();
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(Json(*response)["body"], "again");
}

TEST_F(HttpServerTest, DroppedOrThrowingHandlerAnswers500) {
  StartServer();
  for (const char* path : {"/drop", "/throw"}) {
    absl::StatusOr<TestResponse> response = RoundTrip(port_, MakeRequest("POST", path, "x"));
    ASSERT_TRUE(response.ok()) << path << ": " << response.status();
    ExpectJsonError(*response, 500);
  }
  EXPECT_EQ(Rejections(Rejection::kHandlerDropped), 2u);
}

TEST_F(HttpServerTest, MalformedRequestIs400AndHugeHeaderIs431) {
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  StartServer(options);
  absl::StatusOr<TestResponse> response = RoundTrip(port_, "GARBAGE\r\n\r\n");
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 400);
  response = RoundTrip(port_, MakeRequest("GET", "/echo", "", {{"X-Big", std::string(4000, 'h')}}));
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 431);
}

TEST_F(HttpServerTest, SlowHeaderAndSlowBodyAre408ThenClose) {
  HttpServerOptions options;
  options.header_timeout = absl::Milliseconds(200);
  options.body_timeout = absl::Milliseconds(200);
  StartServer(options);
  auto slow_header = Connect();
  ASSERT_NE(slow_header, nullptr);
  ASSERT_TRUE(slow_header->Send("POST /echo HTTP/1.1\r\nHost: x\r\n").ok());
  absl::StatusOr<TestResponse> response = slow_header->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 408);
  EXPECT_TRUE(slow_header->WaitForClose().ok());

  auto slow_body = Connect();
  ASSERT_NE(slow_body, nullptr);
  ASSERT_TRUE(
      slow_body->Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc").ok());
  response = slow_body->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 408);
  EXPECT_TRUE(slow_body->WaitForClose().ok());

  // A connection that never sends a byte gets a 408 as well.
  auto silent = Connect();
  ASSERT_NE(silent, nullptr);
  response = silent->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 408);
  EXPECT_EQ(Rejections(Rejection::kTimeout), 3u);
}

// The first request's header timeout runs from the connection's start, not again from its first
// byte: a client that waits and then trickles bytes is cut off at header_timeout (with the
// timeout restarted at the first byte it would get nearly twice that).
TEST_F(HttpServerTest, FirstRequestHeaderTimeoutCountsFromTheConnection) {
  HttpServerOptions options;
  options.header_timeout = absl::Seconds(2);
  StartServer(options);
  auto slow = Connect();
  ASSERT_NE(slow, nullptr);
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Milliseconds(1800));
  // A byte every 50 ms; the header never ends. Watch for the server's timeout meanwhile.
  const std::string header = "POST /echo HTTP/1.1\r\nHost: x\r\nX-Long: ";
  absl::Duration took = absl::InfiniteDuration();
  for (size_t i = 0; absl::Now() - start < absl::Seconds(6); ++i) {
    if (Rejections(Rejection::kTimeout) > 0) {
      took = absl::Now() - start;
      break;
    }
    if (!slow->Send(i < header.size() ? header.substr(i, 1) : "a").ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  // 2 s from the start (restarted at the first byte it would be about 3.8 s).
  EXPECT_LT(took, absl::Seconds(3));
  absl::StatusOr<TestResponse> response = slow->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 408);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedQuietly) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(100);
  StartServer(options);
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->Send(MakeRequest("POST", "/echo", "x")).ok());
  ASSERT_TRUE(connection->Read().ok());
  EXPECT_TRUE(connection->WaitForClose().ok());  // no 408 bytes, just a FIN
  EXPECT_EQ(Rejections(Rejection::kTimeout), 0u);
}

TEST_F(HttpServerTest, ConnectionCapAnswers503) {
  HttpServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  auto first = Connect();
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Send(MakeRequest("POST", "/echo", "1")).ok());
  ASSERT_TRUE(first->Read().ok());  // `first` is now surely counted
  auto second = Connect();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Send(MakeRequest("POST", "/echo", "2")).ok());
  absl::StatusOr<TestResponse> response = second->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 503);
  EXPECT_FALSE(response->keep_alive);
  EXPECT_TRUE(second->WaitForClose().ok());
  EXPECT_EQ(Rejections(Rejection::kConnectionLimit), 1u);
  // Once the first goes, a new connection is served.
  second.reset();
  first.reset();
  ASSERT_TRUE(WaitForStats([](const HttpServerStats& s) { return s.open_connections == 0; }));
  response = RoundTrip(port_, MakeRequest("POST", "/echo", "3"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTest, InFlightByteCapAnswers503) {
  HttpServerOptions options;
  options.max_in_flight_bytes = 1000;
  StartServer(options);
  auto holder = Connect();
  ASSERT_NE(holder, nullptr);
  ASSERT_TRUE(holder->Send(MakeRequest("POST", "/park", std::string(800, 'p'))).ok());
  ASSERT_TRUE(parking_.WaitFor(1));
  EXPECT_EQ(server_->Stats().in_flight_bytes, 800);
  absl::StatusOr<TestResponse> response =
      RoundTrip(port_, MakeRequest("POST", "/echo", std::string(300, 'q')));
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectJsonError(*response, 503);
  EXPECT_EQ(Rejections(Rejection::kInFlightBytes), 1u);
  // A small one still fits; after the held request is answered the bytes are released.
  response = RoundTrip(port_, MakeRequest("POST", "/echo", "small"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  parking_.Take(0).Respond(JsonResponse(200, "{}"));
  ASSERT_TRUE(holder->Read().ok());
  ASSERT_TRUE(WaitForStats([](const HttpServerStats& s) { return s.in_flight_bytes == 0; }));
  response = RoundTrip(port_, MakeRequest("POST", "/echo", std::string(300, 'q')));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTest, StatsCountResponsesByRouteAndCode) {
  StartServer();
  ASSERT_TRUE(RoundTrip(port_, MakeRequest("POST", "/echo", "a")).ok());
  ASSERT_TRUE(RoundTrip(port_, MakeRequest("POST", "/echo", "b")).ok());
  ASSERT_TRUE(RoundTrip(port_, MakeRequest("POST", "/dify/x", "{}")).ok());
  ASSERT_TRUE(RoundTrip(port_, MakeRequest("GET", "/missing")).ok());
  const HttpServerStats stats = server_->Stats();
  EXPECT_EQ(stats.responses.at({"POST /echo", 200}), 2u);
  EXPECT_EQ(stats.responses.at({"langfuse", 207}), 1u);
  EXPECT_EQ(stats.responses.at({"", 404}), 1u);
  EXPECT_EQ(stats.request_bytes, 4u);
  EXPECT_GE(stats.connections_accepted, 4u);
  EXPECT_GT(stats.response_bytes, 0u);
}

TEST_F(HttpServerTest, OnResponseSeesEveryAnswerWithItsRouteAndLatency) {
  absl::Mutex mu;
  std::vector<std::tuple<std::string, int, absl::Duration>> seen;
  HttpServerOptions options;
  options.on_response = [&](const std::string& route, int status, absl::Duration latency) {
    absl::MutexLock lock(&mu);
    seen.emplace_back(route, status, latency);
  };
  StartServer(options);
  ASSERT_TRUE(RoundTrip(port_, MakeRequest("POST", "/echo", "a")).ok());
  ASSERT_TRUE(RoundTrip(port_, MakeRequest("GET", "/missing")).ok());
  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(std::get<0>(seen[0]), "POST /echo");
  EXPECT_EQ(std::get<1>(seen[0]), 200);
  EXPECT_GE(std::get<2>(seen[0]), absl::ZeroDuration());
  EXPECT_LT(std::get<2>(seen[0]), absl::Seconds(30));
  EXPECT_EQ(std::get<0>(seen[1]), "");
  EXPECT_EQ(std::get<1>(seen[1]), 404);
}

TEST_F(HttpServerTest, DrainFinishesInFlightRequestsAndClosesIdleOnes) {
  StartServer();
  auto idle = Connect();
  ASSERT_NE(idle, nullptr);
  ASSERT_TRUE(idle->Send(MakeRequest("POST", "/echo", "x")).ok());
  ASSERT_TRUE(idle->Read().ok());
  auto busy = Connect();
  ASSERT_NE(busy, nullptr);
  ASSERT_TRUE(busy->Send(MakeRequest("POST", "/park", "work")).ok());
  ASSERT_TRUE(parking_.WaitFor(1));

  absl::Status drained;
  std::thread drainer([&] { drained = server_->Drain(absl::Now() + absl::Seconds(20)); });
  // The idle keep-alive connection is closed; the busy one waits for its answer.
  EXPECT_TRUE(idle->WaitForClose().ok());
  parking_.Take(0).Respond(JsonResponse(200, R"({"done":true})"));
  absl::StatusOr<TestResponse> response = busy->Read();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_FALSE(response->keep_alive);
  EXPECT_TRUE(busy->WaitForClose().ok());
  busy.reset();  // ends the server's linger at once
  drainer.join();
  EXPECT_TRUE(drained.ok()) << drained;
  // No longer accepting.
  EXPECT_FALSE(RoundTrip(port_, MakeRequest("POST", "/echo", "late")).ok());
}

TEST_F(HttpServerTest, DrainDeadlineCutsOffAndLateRespondersAreSafe) {
  StartServer();
  auto busy = Connect();
  ASSERT_NE(busy, nullptr);
  ASSERT_TRUE(busy->Send(MakeRequest("POST", "/park", "never answered in time")).ok());
  ASSERT_TRUE(parking_.WaitFor(1));
  // The parked request's connection is open and counted (CI once saw Drain return OK here at
  // once, as if it were not; this says which side of the drain the problem is on).
  ASSERT_EQ(server_->Stats().open_connections, 1);
  const absl::Time drain_start = absl::Now();
  absl::Status drained = server_->Drain(drain_start + absl::Milliseconds(100));
  EXPECT_EQ(drained.code(), absl::StatusCode::kDeadlineExceeded)
      << "Drain returned after " << absl::Now() - drain_start;
  EXPECT_FALSE(busy->Read().ok());
  Responder late = parking_.Take(0);
  server_.reset();
  late.Respond(JsonResponse(200, "{}"));  // goes nowhere, must not crash
}

TEST_F(HttpServerTest, RejectsBadRoutesAndOptions) {
  HttpServer server({});
  Route route;
  route.method = "GET";
  route.path = "relative";
  route.handler = [](Request, Responder) {};
  EXPECT_FALSE(server.AddRoute(route).ok());
  route.path = "/ok";
  route.handler = nullptr;
  EXPECT_FALSE(server.AddRoute(route).ok());
  route.handler = [](Request, Responder) {};
  route.max_request_bytes = 0;
  EXPECT_FALSE(server.AddRoute(route).ok());
  route.max_request_bytes = 10;
  EXPECT_TRUE(server.AddRoute(route).ok());
  EXPECT_FALSE(server.AddRoute(route).ok());  // duplicate
  HttpServerOptions bad;
  bad.address = "not an address";
  EXPECT_EQ(HttpServer(bad).Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ListenerOptionsTest, TakesAddressCapAndTlsFromTheConfig) {
  config::IngestConfig config = config::Defaults();
  config.listeners.address = "::1";
  config.limits.max_connections = 7;
  config.tls = config::Tls{};
  const HttpServerOptions options = ListenerOptions(config, 8081);
  EXPECT_EQ(options.address, "::1");
  EXPECT_EQ(options.port, 8081);
  EXPECT_EQ(options.max_connections, 7);
  ASSERT_TRUE(options.tls.has_value());
  EXPECT_EQ(options.tls->cert_file, config::kTlsCertPath);
  EXPECT_EQ(options.tls->min_version, config::TlsVersion::k1_3);
}

// --- TLS ------------------------------------------------------------------------------------

class HttpServerTlsTest : public HttpServerTest {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    tls_.cert_file = dir_ + "/tls.crt";
    tls_.key_file = dir_ + "/tls.key";
    ASSERT_TRUE(
        testing::GenerateSelfSignedCertificate("first", tls_.cert_file, tls_.key_file).ok());
  }
  HttpServerOptions TlsOptions(config::TlsVersion min_version) {
    HttpServerOptions options;
    config::Tls tls = tls_;
    tls.min_version = min_version;
    options.tls = tls;
    options.clock = &clock_;
    options.tls_check_interval = absl::Seconds(10);
    return options;
  }
  absl::StatusOr<TestResponse> TlsRoundTrip(testing::TlsClientOptions client, std::string* pem) {
    absl::StatusOr<std::unique_ptr<TestConnection>> connection =
        TestConnection::Connect(port_, client);
    if (!connection.ok()) return connection.status();
    if (pem != nullptr) *pem = (*connection)->PeerCertificatePem();
    if (absl::Status s = (*connection)->Send(MakeRequest("POST", "/echo", "secure")); !s.ok()) {
      return s;
    }
    return (*connection)->Read();
  }

  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
  config::Tls tls_;
  SimulatedClock clock_;
};

TEST_F(HttpServerTlsTest, ServesTls13AndRefuses12ByDefault) {
  StartServer(TlsOptions(config::TlsVersion::k1_3));
  absl::StatusOr<TestResponse> response = TlsRoundTrip({}, nullptr);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Json(*response)["tls"], true);
  EXPECT_EQ(Json(*response)["body"], "secure");
  testing::TlsClientOptions tls12;
  tls12.max_version = TLS1_2_VERSION;
  EXPECT_FALSE(TlsRoundTrip(tls12, nullptr).ok());
  // Plain HTTP on the TLS port gets no HTTP answer.
  EXPECT_FALSE(RoundTrip(port_, MakeRequest("POST", "/echo", "x")).ok());
}

TEST_F(HttpServerTlsTest, Tls12WhenAllowed) {
  StartServer(TlsOptions(config::TlsVersion::k1_2));
  testing::TlsClientOptions tls12;
  tls12.max_version = TLS1_2_VERSION;
  absl::StatusOr<TestResponse> response = TlsRoundTrip(tls12, nullptr);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTlsTest, ReloadsChangedCertificateAndKeepsOldOnBadPair) {
  StartServer(TlsOptions(config::TlsVersion::k1_3));
  std::string first_pem;
  ASSERT_TRUE(TlsRoundTrip({}, &first_pem).ok());
  ASSERT_FALSE(first_pem.empty());

  // A mismatched pair (new certificate, old key) is refused; the old one keeps serving.
  ASSERT_TRUE(
      testing::GenerateSelfSignedCertificate("second", tls_.cert_file, dir_ + "/second.key").ok());
  EXPECT_FALSE(server_->ReloadTls().ok());
  std::string pem;
  ASSERT_TRUE(TlsRoundTrip({}, &pem).ok());
  EXPECT_EQ(pem, first_pem);
  EXPECT_EQ(server_->Stats().tls_reload_failures, 1);

  // The matching key arrives; after the check interval the next connection sees the new one.
  ASSERT_EQ(std::rename((dir_ + "/second.key").c_str(), tls_.key_file.c_str()), 0);
  ASSERT_TRUE(TlsRoundTrip({}, &pem).ok());
  EXPECT_EQ(pem, first_pem);  // not due yet
  clock_.Advance(absl::Seconds(11));
  ASSERT_TRUE(TlsRoundTrip({}, &pem).ok());
  EXPECT_NE(pem, first_pem);
  EXPECT_EQ(server_->Stats().tls_reloads, 1);
}

}  // namespace
}  // namespace cohort::ingest::http
