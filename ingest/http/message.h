// The request a route handler receives and the response it answers with. Plain values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "boost/asio/ip/address.hpp"

namespace cohort::ingest::http {

using Header = std::pair<std::string, std::string>;

struct Request {
  std::string method;           // as sent, e.g. "POST"
  std::string target;           // the request target as sent: path and query
  std::string path;             // target before '?'
  std::string query;            // target after '?', without it; empty when absent
  std::vector<Header> headers;  // in arrival order, names as sent
  // The body after Content-Encoding was undone (never more than the route's max_request_bytes).
  std::string body;
  size_t wire_body_bytes = 0;  // the body's size as received (compressed, if it was)
  boost::asio::ip::address peer_address;
  uint16_t peer_port = 0;
  bool tls = false;

  // The first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> FindHeader(std::string_view name) const;
  // Every value of `name` joined with "," (as RFC 9110 allows for list headers such as
  // X-Forwarded-For); empty when absent.
  std::string JoinedHeader(std::string_view name) const;
};

// The API key a request presents: "Authorization: Bearer <key>" (scheme case-insensitive, the
// key trimmed), else the X-Api-Key header; nullopt when neither holds a key.
std::optional<std::string_view> PresentedApiKey(const Request& request);

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<Header> headers;  // extra headers; the server sets Content-Length and Connection
  std::string body;
  // Closes the connection after this response (e.g. after an error the client should not
  // pipeline past).
  bool close = false;
};

// The JSON body every non-2xx answer carries by default: {"code":<status>,"error":"<message>"}.
Response JsonError(int status, std::string_view message);

// A JSON response with `status` and the given body text.
Response JsonResponse(int status, std::string body);

}  // namespace cohort::ingest::http
