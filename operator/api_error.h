// Kubernetes API errors as typed absl::Status values.
//
// The Kubernetes client turns every failed response (an HTTP status plus, usually, a metav1.Status
// body) and every transport failure into an absl::Status here, and everything above it (informers,
// the work queue's retry policy, apply helpers, reconcilers) asks the predicates below instead of
// looking at HTTP codes. absl::StatusCode has fewer values than Kubernetes has reasons, so the
// Kubernetes facts travel as payloads on the Status:
//
//   type.cohort.dev/k8s-reason       StatusReason ("NotFound", "Expired", ...): from the body,
//                                    else derived from the HTTP code as client-go does (empty
//                                    for a code without one); absent on transport errors
//   type.cohort.dev/k8s-http-code    HTTP code (decimal), or the body's `code` for a Status met
//                                    inside a watch stream
//   type.cohort.dev/k8s-retry-after  the server's suggested delay in whole seconds
//   type.cohort.dev/k8s-causes       details.causes as a JSON array
//   type.cohort.dev/k8s-transport    "connection" or "timeout" on a transport error
//
// Code mapping: NotFound → kNotFound; AlreadyExists → kAlreadyExists; Conflict → kAborted;
// Gone/Expired (410) → kOutOfRange; Forbidden → kPermissionDenied; Unauthorized → kUnauthenticated;
// Invalid, BadRequest, RequestEntityTooLarge, NotAcceptable, UnsupportedMediaType →
// kInvalidArgument; MethodNotAllowed → kUnimplemented; TooManyRequests → kResourceExhausted;
// Timeout (504) → kDeadlineExceeded; InternalError, ServerTimeout, ServiceUnavailable and any other
// 5xx → kUnavailable; a connection failure → kUnavailable; a client-side timeout →
// kDeadlineExceeded. Anything else → kUnknown. Callers should use the predicates, not the codes.
//
// The Status message is the server's own message (metav1.Status.message). For a body that is not
// a Status (a proxy's HTML page, the API server's plain "404 page not found") the message names the
// HTTP code and quotes at most 160 bytes of the body's text with HTML tags removed and anything
// after "Bearer"/"Basic" redacted. Request headers are never seen here, so they never leak.
//
// All functions are pure and thread-safe. None throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace cohort::op {

inline constexpr char kK8sReasonPayload[] = "type.cohort.dev/k8s-reason";
inline constexpr char kK8sHttpCodePayload[] = "type.cohort.dev/k8s-http-code";
inline constexpr char kK8sRetryAfterPayload[] = "type.cohort.dev/k8s-retry-after";
inline constexpr char kK8sCausesPayload[] = "type.cohort.dev/k8s-causes";
inline constexpr char kK8sTransportPayload[] = "type.cohort.dev/k8s-transport";

// One entry of metav1.StatusDetails.causes, e.g. {"FieldValueInvalid", "Invalid value: ...",
// "metadata.name"} or {"FieldManagerConflict", "conflict with \"kubectl\" ...", ".data.key"}.
struct Cause {
  std::string reason;
  std::string message;
  std::string field;

  friend bool operator==(const Cause&, const Cause&) = default;
};

// The parts of an API error, for building one directly (fake clients in tests use this).
struct ApiErrorInfo {
  int http_code = 0;    // 0 when unknown (e.g. a Status inside a watch stream without `code`)
  std::string reason;   // empty: derived from http_code
  std::string message;  // empty: a generic message naming reason and code
  std::vector<Cause> causes;
  std::optional<absl::Duration> retry_after;
};

// Builds the Status for `info` (never OK; an unknown reason and code give kUnknown).
[[nodiscard]] absl::Status MakeApiError(const ApiErrorInfo& info);

// The Status for one HTTP response of the API server. `body` is the response body as received
// (a metav1.Status JSON, or anything else); `retry_after_header` the Retry-After header's value or
// empty. A 2xx code returns OK. The header wins over details.retryAfterSeconds; only the
// delta-seconds form is understood (the only one the API server sends); an HTTP-date is ignored.
[[nodiscard]] absl::Status FromApiResponse(int http_code, std::string_view body,
                                           std::string_view retry_after_header = {});

// The Status for a metav1.Status object met without an HTTP response, i.e. the object of a watch
// ERROR event: its `code` field stands for the HTTP code. An object whose status is "Success"
// returns OK; anything that is not a JSON object gives kUnknown.
[[nodiscard]] absl::Status FromStatusObject(const nlohmann::json& status);

// How a request failed below HTTP.
enum class TransportFailure {
  kConnection,  // DNS, connect, TLS handshake, reset: no (complete) response
  kTimeout,     // the client's own deadline passed before the response completed
};

// The Status for a transport failure; `detail` should say what failed (e.g. the socket error) and
// must not contain credentials. kConnection → kUnavailable, kTimeout → kDeadlineExceeded.
[[nodiscard]] absl::Status FromTransportError(TransportFailure kind, std::string_view detail);

// Questions about a Status, in their own namespace as Go's apierrors package: absl declares
// absl::IsNotFound and absl::IsAlreadyExists (code checks), which argument-dependent lookup would
// make ambiguous with ours, so call these qualified: `apierrors::IsNotFound(s)`.
namespace apierrors {

// Predicates. Each is false for OK and for statuses made elsewhere (no payloads) unless noted.
bool IsNotFound(const absl::Status& s);       // reason NotFound (404)
bool IsAlreadyExists(const absl::Status& s);  // reason AlreadyExists (409)
bool IsConflict(const absl::Status& s);       // reason Conflict (409): stale resourceVersion, SSA
bool IsGone(const absl::Status& s);           // 410, reason Gone or Expired: relist / restart list
bool IsForbidden(const absl::Status& s);      // 403
bool IsUnauthorized(const absl::Status& s);   // 401
bool IsInvalid(const absl::Status& s);        // 422 reason Invalid; see Causes()
bool IsTooManyRequests(const absl::Status& s);  // 429; see RetryAfter()
// 504 / reason Timeout, reason ServerTimeout, or a client-side timeout
// (TransportFailure::kTimeout).
bool IsTimeout(const absl::Status& s);
bool IsConnectionFailure(const absl::Status& s);  // TransportFailure::kConnection

// The server's suggested delay before retrying (Retry-After or details.retryAfterSeconds).
std::optional<absl::Duration> RetryAfter(const absl::Status& s);
// details.causes, in the server's order; empty when there are none.
std::vector<Cause> Causes(const absl::Status& s);
// The Kubernetes StatusReason; empty for OK, transport errors and foreign statuses.
std::string Reason(const absl::Status& s);
// The HTTP code (or the in-stream Status's code); 0 when there is none.
int HttpCode(const absl::Status& s);

// Whether repeating the same request may succeed. `verb` is a Kubernetes verb or HTTP method,
// case-insensitive. 429 is retryable for every verb (the server refused before doing anything).
// 5xx, timeouts and connection failures are retryable only for safe verbs (get, list, watch and
// the HTTP methods GET and HEAD), since a write may have taken effect.
bool IsRetryable(const absl::Status& s, std::string_view verb);

}  // namespace apierrors

}  // namespace cohort::op
