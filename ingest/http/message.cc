// Request and response helpers (message.h).
#include "ingest/http/message.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::http {

std::optional<std::string_view> Request::FindHeader(std::string_view name) const {
  for (const Header& header : headers) {
    if (absl::EqualsIgnoreCase(header.first, absl::string_view(name.data(), name.size())))
      return header.second;
  }
  return std::nullopt;
}

std::string Request::JoinedHeader(std::string_view name) const {
  std::string joined;
  for (const Header& header : headers) {
    if (!absl::EqualsIgnoreCase(header.first, absl::string_view(name.data(), name.size())))
      continue;
    if (!joined.empty()) joined += ',';
    joined += header.second;
  }
  return joined;
}

Response JsonError(int status, std::string_view message) {
  nlohmann::json body = {{"code", status}, {"error", std::string(message)}};
  // Replace invalid UTF-8 rather than throw: messages may quote client input.
  return JsonResponse(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Response JsonResponse(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

std::optional<std::string_view> PresentedApiKey(const http::Request& request) {
  if (std::optional<std::string_view> auth = request.FindHeader("Authorization")) {
    constexpr std::string_view kBearer = "bearer ";
    if (auth->size() > kBearer.size() &&
        absl::EqualsIgnoreCase(std::string(auth->substr(0, kBearer.size())),
                               std::string(kBearer))) {
      std::string_view key = auth->substr(kBearer.size());
      while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
      while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
      if (!key.empty()) return key;
    }
  }
  if (std::optional<std::string_view> key = request.FindHeader("X-Api-Key")) {
    if (!key->empty()) return key;
  }
  return std::nullopt;
}

}  // namespace cohort::ingest::http
