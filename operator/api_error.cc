#include "operator/api_error.h"

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cohort::op {
namespace {

using nlohmann::json;

constexpr size_t kSnippetBytes = 160;

absl::string_view AbslView(std::string_view v) { return absl::string_view(v.data(), v.size()); }

// client-go's NewGenericServerResponse: the reason a bare HTTP code stands for.
std::string ReasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 && code <= 599 ? "InternalError" : "";
  }
}

const char* HttpText(int code) {
  switch (code) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

absl::StatusCode CodeFor(std::string_view reason, int http_code) {
  if (reason == "NotFound") return absl::StatusCode::kNotFound;
  if (reason == "AlreadyExists") return absl::StatusCode::kAlreadyExists;
  if (reason == "Conflict") return absl::StatusCode::kAborted;
  if (reason == "Gone" || reason == "Expired") return absl::StatusCode::kOutOfRange;
  if (reason == "Forbidden") return absl::StatusCode::kPermissionDenied;
  if (reason == "Unauthorized") return absl::StatusCode::kUnauthenticated;
  if (reason == "Invalid" || reason == "BadRequest" || reason == "RequestEntityTooLarge" ||
      reason == "NotAcceptable" || reason == "UnsupportedMediaType") {
    return absl::StatusCode::kInvalidArgument;
  }
  if (reason == "MethodNotAllowed") return absl::StatusCode::kUnimplemented;
  if (reason == "TooManyRequests") return absl::StatusCode::kResourceExhausted;
  if (reason == "Timeout") return absl::StatusCode::kDeadlineExceeded;
  if (reason == "InternalError" || reason == "ServerTimeout" || reason == "ServiceUnavailable") {
    return absl::StatusCode::kUnavailable;
  }
  // A reason we do not know (newer servers add some): fall back to the code's meaning.
  const std::string from_code = ReasonForCode(http_code);
  if (!from_code.empty()) return CodeFor(from_code, 0);
  return absl::StatusCode::kUnknown;
}

std::string StringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// An integer field within [lo, hi], or nullopt.
std::optional<int64_t> IntField(const json& obj, const char* key, int64_t lo, int64_t hi) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(hi)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

// Fills reason, message, causes, retry_after (and http_code when 0) from a metav1.Status object.
void ReadStatusObject(const json& obj, ApiErrorInfo& info) {
  info.reason = StringField(obj, "reason");
  info.message = StringField(obj, "message");
  if (info.http_code == 0) {
    info.http_code = static_cast<int>(IntField(obj, "code", 0, 999).value_or(0));
  }
  auto details = obj.find("details");
  if (details == obj.end() || !details->is_object()) return;
  if (auto secs = IntField(*details, "retryAfterSeconds", 0, std::numeric_limits<int32_t>::max());
      secs.has_value() && *secs > 0) {
    info.retry_after = absl::Seconds(*secs);
  }
  auto causes = details->find("causes");
  if (causes == details->end() || !causes->is_array()) return;
  for (const json& c : *causes) {
    if (!c.is_object()) continue;
    info.causes.push_back(
        Cause{StringField(c, "reason"), StringField(c, "message"), StringField(c, "field")});
  }
}

bool IsStatusObject(const json& obj) {
  if (!obj.is_object()) return false;
  auto kind = obj.find("kind");
  if (kind != obj.end()) return kind->is_string() && kind->get<std::string>() == "Status";
  auto status = obj.find("status");
  return status != obj.end() && status->is_string();
}

// Replaces the word after "bearer"/"basic" (case-insensitive) with [redacted].
void RedactCredentials(std::string& text) {
  for (const char* scheme : {"bearer ", "basic "}) {
    size_t from = 0;
    while (true) {
      const std::string lower = absl::AsciiStrToLower(text);
      const size_t at = lower.find(scheme, from);
      if (at == std::string::npos) break;
      const size_t start = at + std::char_traits<char>::length(scheme);
      size_t end = start;
      while (end < text.size() && text[end] != ' ') ++end;
      if (end == start) {
        from = start;
        continue;
      }
      text.replace(start, end - start, "[redacted]");
      from = start + std::char_traits<char>::length("[redacted]");
    }
  }
}

// Readable text from a non-Status body: tags dropped, whitespace collapsed, control bytes dropped,
// cut to kSnippetBytes at a UTF-8 boundary, credentials redacted.
std::string BodySnippet(std::string_view body) {
  std::string text;
  bool in_tag = false;
  bool pending_space = false;
  // Look at a bounded prefix: a huge page says nothing more useful further down.
  const std::string_view head = body.substr(0, 16 * 1024);
  for (char ch : head) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (in_tag) {
      if (c == '>') in_tag = false;
      continue;
    }
    if (c == '<') {
      in_tag = true;
      pending_space = true;
      continue;
    }
    if (c <= ' ' || c == 0x7f) {
      pending_space = true;
      continue;
    }
    if (pending_space && !text.empty()) text.push_back(' ');
    pending_space = false;
    text.push_back(ch);
    if (text.size() > kSnippetBytes + 64) break;
  }
  RedactCredentials(text);
  if (text.size() > kSnippetBytes) {
    size_t cut = kSnippetBytes;
    // Back up over UTF-8 continuation bytes so no character is split.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
  }
  return text;
}

std::string GenericMessage(int http_code, std::string_view reason) {
  if (http_code == 0) {
    return absl::StrCat("the server reported an error (reason ",
                        reason.empty() ? "unknown" : AbslView(reason), ")");
  }
  const char* text = HttpText(http_code);
  return absl::StrCat("the server responded with HTTP ", http_code, *text ? " " : "", text);
}

std::optional<absl::Duration> ParseRetryAfterHeader(std::string_view header) {
  const absl::string_view v = absl::StripAsciiWhitespace(AbslView(header));
  if (v.empty()) return std::nullopt;
  for (char c : v) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int64_t secs = 0;
  if (!absl::SimpleAtoi(v, &secs)) return std::nullopt;  // overflow
  return absl::Seconds(secs);
}

std::optional<std::string> Payload(const absl::Status& s, const char* url) {
  if (s.ok()) return std::nullopt;
  auto p = s.GetPayload(url);  // absl::optional: Debian builds abseil without std::optional
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

bool ReasonIs(const absl::Status& s, std::string_view want) {
  std::optional<std::string> r = Payload(s, kK8sReasonPayload);
  return r.has_value() && *r == want;
}

std::string Lower(std::string_view v) { return absl::AsciiStrToLower(AbslView(v)); }

}  // namespace

absl::Status MakeApiError(const ApiErrorInfo& info) {
  const std::string reason = info.reason.empty() ? ReasonForCode(info.http_code) : info.reason;
  const std::string message =
      info.message.empty() ? GenericMessage(info.http_code, reason) : info.message;
  absl::Status s(CodeFor(reason, info.http_code), message);
  s.SetPayload(kK8sReasonPayload, absl::Cord(reason));
  if (info.http_code != 0)
    s.SetPayload(kK8sHttpCodePayload, absl::Cord(absl::StrCat(info.http_code)));
  if (info.retry_after.has_value()) {
    s.SetPayload(kK8sRetryAfterPayload,
                 absl::Cord(absl::StrCat(absl::ToInt64Seconds(*info.retry_after))));
  }
  if (!info.causes.empty()) {
    json causes = json::array();
    for (const Cause& c : info.causes) {
      causes.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
    }
    // error_handler_t::replace: a cause with invalid UTF-8 from the server must not throw.
    s.SetPayload(kK8sCausesPayload,
                 absl::Cord(causes.dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  return s;
}

absl::Status FromApiResponse(int http_code, std::string_view body,
                             std::string_view retry_after_header) {
  if (http_code >= 200 && http_code <= 299) return absl::OkStatus();
  ApiErrorInfo info;
  info.http_code = http_code;
  const json parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (IsStatusObject(parsed)) {
    ReadStatusObject(parsed, info);
    if (info.http_code == 0) info.http_code = http_code;
  } else {
    info.message = GenericMessage(http_code, "");
    const std::string snippet = BodySnippet(body);
    if (!snippet.empty()) absl::StrAppend(&info.message, ": ", snippet);
  }
  if (auto header = ParseRetryAfterHeader(retry_after_header); header.has_value()) {
    info.retry_after = header;
  }
  return MakeApiError(info);
}

absl::Status FromStatusObject(const nlohmann::json& status) {
  if (!status.is_object()) {
    return absl::UnknownError("the server reported an error without a Status object");
  }
  if (StringField(status, "status") == "Success") return absl::OkStatus();
  ApiErrorInfo info;
  ReadStatusObject(status, info);
  return MakeApiError(info);
}

absl::Status FromTransportError(TransportFailure kind, std::string_view detail) {
  const bool timeout = kind == TransportFailure::kTimeout;
  absl::Status s(timeout ? absl::StatusCode::kDeadlineExceeded : absl::StatusCode::kUnavailable,
                 absl::StrCat(timeout ? "request to the API server timed out"
                                      : "connection to the API server failed",
                              detail.empty() ? "" : ": ", AbslView(detail)));
  s.SetPayload(kK8sTransportPayload, absl::Cord(timeout ? "timeout" : "connection"));
  return s;
}

namespace apierrors {

bool IsNotFound(const absl::Status& s) { return ReasonIs(s, "NotFound"); }
bool IsAlreadyExists(const absl::Status& s) { return ReasonIs(s, "AlreadyExists"); }
bool IsConflict(const absl::Status& s) { return ReasonIs(s, "Conflict"); }
bool IsGone(const absl::Status& s) {
  return ReasonIs(s, "Gone") || ReasonIs(s, "Expired") || HttpCode(s) == 410;
}
bool IsForbidden(const absl::Status& s) { return ReasonIs(s, "Forbidden") || HttpCode(s) == 403; }
bool IsUnauthorized(const absl::Status& s) {
  return ReasonIs(s, "Unauthorized") || HttpCode(s) == 401;
}
bool IsInvalid(const absl::Status& s) { return ReasonIs(s, "Invalid") || HttpCode(s) == 422; }
bool IsTooManyRequests(const absl::Status& s) {
  return ReasonIs(s, "TooManyRequests") || HttpCode(s) == 429;
}
bool IsTimeout(const absl::Status& s) {
  return ReasonIs(s, "Timeout") || ReasonIs(s, "ServerTimeout") || HttpCode(s) == 504 ||
         Payload(s, kK8sTransportPayload) == "timeout";
}
bool IsConnectionFailure(const absl::Status& s) {
  return Payload(s, kK8sTransportPayload) == "connection";
}

std::optional<absl::Duration> RetryAfter(const absl::Status& s) {
  std::optional<std::string> p = Payload(s, kK8sRetryAfterPayload);
  int64_t secs = 0;
  if (!p.has_value() || !absl::SimpleAtoi(*p, &secs) || secs < 0) return std::nullopt;
  return absl::Seconds(secs);
}

std::vector<Cause> Causes(const absl::Status& s) {
  std::vector<Cause> out;
  std::optional<std::string> p = Payload(s, kK8sCausesPayload);
  if (!p.has_value()) return out;
  const json causes = json::parse(*p, nullptr, /*allow_exceptions=*/false);
  if (!causes.is_array()) return out;
  for (const json& c : causes) {
    if (!c.is_object()) continue;
    out.push_back(
        Cause{StringField(c, "reason"), StringField(c, "message"), StringField(c, "field")});
  }
  return out;
}

std::string Reason(const absl::Status& s) {
  return Payload(s, kK8sReasonPayload).value_or(std::string());
}

int HttpCode(const absl::Status& s) {
  std::optional<std::string> p = Payload(s, kK8sHttpCodePayload);
  int code = 0;
  if (!p.has_value() || !absl::SimpleAtoi(*p, &code)) return 0;
  return code;
}

bool IsRetryable(const absl::Status& s, std::string_view verb) {
  if (s.ok()) return false;
  if (IsTooManyRequests(s)) return true;
  const std::string v = Lower(verb);
  const bool safe = v == "get" || v == "list" || v == "watch" || v == "head";
  if (!safe) return false;
  const int code = HttpCode(s);
  return (code >= 500 && code <= 599) || IsTimeout(s) || IsConnectionFailure(s) ||
         ReasonIs(s, "InternalError") || ReasonIs(s, "ServiceUnavailable");
}

}  // namespace apierrors
}  // namespace cohort::op
