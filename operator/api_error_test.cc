#include "operator/api_error.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::op {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Bodies as the API server sends them (kube-apiserver 1.2x; messages verbatim).
constexpr char kNotFound[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"configmaps \"missing\" not found","reason":"NotFound",)"
    R"("details":{"name":"missing","kind":"configmaps"},"code":404})";
constexpr char kAlreadyExists[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"configmaps \"cm\" already exists","reason":"AlreadyExists",)"
    R"("details":{"name":"cm","kind":"configmaps"},"code":409})";
constexpr char kConflict[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Operation cannot be fulfilled on configmaps \"cm\": the object has been )"
    R"(modified; please apply your changes to the latest version and try again",)"
    R"("reason":"Conflict","details":{"name":"cm","kind":"configmaps"},"code":409})";
constexpr char kApplyConflict[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" )"
    R"(using v1: .data.key","reason":"Conflict","details":{"causes":[{"reason":)"
    R"("FieldManagerConflict","message":"conflict with \"kubectl-client-side-apply\" using v1",)"
    R"("field":".data.key"}]},"code":409})";
constexpr char kWatchTooOld[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"j("message":"too old resource version: 123 (456)","reason":"Expired","code":410})j";
constexpr char kWatchGoneOld[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"j("message":"too old resource version: 123 (456)","reason":"Gone","code":410})j";
constexpr char kContinueExpired[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{"continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEi"},)"
    R"("status":"Failure","message":"The provided continue parameter is too old to display a )"
    R"(consistent list result. You can start a new list without the continue parameter, or use )"
    R"(the continue token in this response to retrieve the remainder of the results. Continuing )"
    R"(with the provided token results in an inconsistent list - objects that were created, )"
    R"(modified, or deleted between the time the first chunk was returned and now may show up in )"
    R"(the list.","reason":"Expired","code":410})";
constexpr char kForbidden[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"configmaps is forbidden: User \"system:serviceaccount:default:cohort\" cannot )"
    R"(list resource \"configmaps\" in API group \"\" in the namespace \"kube-system\"",)"
    R"("reason":"Forbidden","details":{"kind":"configmaps"},"code":403})";
constexpr char kUnauthorized[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Unauthorized","reason":"Unauthorized","code":401})";
constexpr char kInvalid[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": )"
    R"(a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or )"
    R"('.', and must start and end with an alphanumeric character","reason":"Invalid",)"
    R"("details":{"name":"Bad_Name","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid",)"
    R"("message":"Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of )"
    R"(lower case alphanumeric characters, '-' or '.', and must start and end with an )"
    R"(alphanumeric character","field":"metadata.name"}]},"code":422})";
constexpr char kImmutable[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Deployment.apps \"web\" is invalid: spec.selector: Invalid value: )"
    R"(v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"other\"}, )"
    R"(MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",)"
    R"("reason":"Invalid","details":{"name":"web","group":"apps","kind":"Deployment",)"
    R"("causes":[{"reason":"FieldValueInvalid","message":"Invalid value: )"
    R"(v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"other\"}, )"
    R"(MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",)"
    R"("field":"spec.selector"}]},"code":422})";
constexpr char kTooManyRequests[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Too many requests, please try again later.","reason":"TooManyRequests",)"
    R"("details":{"retryAfterSeconds":1},"code":429})";
constexpr char kWebhookFailed[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Internal error occurred: failed calling webhook \"validate.cohort.dev\": )"
    R"(failed to call webhook: Post \"https://cohort-webhook.cohort-system.svc:443/validate\": )"
    R"(dial tcp 10.96.0.12:443: connect: connection refused","reason":"InternalError",)"
    R"("details":{"causes":[{"message":"failed calling webhook \"validate.cohort.dev\""}]},)"
    R"("code":500})";
constexpr char kServerTimeout[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"The list operation against pods could not be completed at this time, please )"
    R"(try again.","reason":"ServerTimeout","details":{"name":"list","kind":"pods",)"
    R"("retryAfterSeconds":2},"code":500})";
constexpr char kServiceUnavailable[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"the server is currently unable to handle the request",)"
    R"("reason":"ServiceUnavailable","details":{"group":"metrics.k8s.io","kind":"pods",)"
    R"("causes":[{"reason":"UnexpectedServerResponse","message":"service unavailable"}]},)"
    R"("code":503})";
constexpr char kGatewayTimeout[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Timeout: request did not complete within requested timeout - context )"
    R"(deadline exceeded","reason":"Timeout","details":{},"code":504})";
constexpr char kRequestTooLarge[] =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
    R"("message":"Request entity too large: limit is 3145728","reason":"RequestEntityTooLarge",)"
    R"("code":413})";
constexpr char kNginx502[] =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    "</body>\r\n</html>\r\n";

enum Predicate {
  kIsNotFound,
  kIsAlreadyExists,
  kIsConflict,
  kIsGone,
  kIsForbidden,
  kIsUnauthorized,
  kIsInvalid,
  kIsTooManyRequests,
  kIsTimeout,
  kIsConnectionFailure,
  kNone,
};

bool Holds(Predicate p, const absl::Status& s) {
  switch (p) {
    case kIsNotFound:
      return apierrors::IsNotFound(s);
    case kIsAlreadyExists:
      return apierrors::IsAlreadyExists(s);
    case kIsConflict:
      return apierrors::IsConflict(s);
    case kIsGone:
      return apierrors::IsGone(s);
    case kIsForbidden:
      return apierrors::IsForbidden(s);
    case kIsUnauthorized:
      return apierrors::IsUnauthorized(s);
    case kIsInvalid:
      return apierrors::IsInvalid(s);
    case kIsTooManyRequests:
      return apierrors::IsTooManyRequests(s);
    case kIsTimeout:
      return apierrors::IsTimeout(s);
    case kIsConnectionFailure:
      return apierrors::IsConnectionFailure(s);
    case kNone:
      return false;
  }
  return false;
}

struct Case {
  const char* name;
  int http_code;
  std::string body;
  std::string retry_after_header;
  absl::StatusCode code;
  std::string reason;
  Predicate predicate;  // the only predicate that holds (kNone: none does)
  std::string message;  // the exact message, or empty to skip
  bool retryable_get;
  bool retryable_post;
};

class FromApiResponseTest : public ::testing::TestWithParam<Case> {};

TEST_P(FromApiResponseTest, MapsResponse) {
  const Case& c = GetParam();
  const absl::Status s = FromApiResponse(c.http_code, c.body, c.retry_after_header);
  EXPECT_EQ(s.code(), c.code) << s;
  EXPECT_EQ(apierrors::Reason(s), c.reason);
  EXPECT_EQ(apierrors::HttpCode(s), c.http_code);
  if (!c.message.empty()) {
    EXPECT_EQ(s.message(), c.message);
  }
  for (int p = kIsNotFound; p < kNone; ++p) {
    EXPECT_EQ(Holds(static_cast<Predicate>(p), s), p == c.predicate) << "predicate " << p;
  }
  EXPECT_EQ(apierrors::IsRetryable(s, "GET"), c.retryable_get);
  EXPECT_EQ(apierrors::IsRetryable(s, "list"), c.retryable_get);
  EXPECT_EQ(apierrors::IsRetryable(s, "watch"), c.retryable_get);
  EXPECT_EQ(apierrors::IsRetryable(s, "POST"), c.retryable_post);
  EXPECT_EQ(apierrors::IsRetryable(s, "patch"), c.retryable_post);
  EXPECT_EQ(apierrors::IsRetryable(s, "delete"), c.retryable_post);
}

const auto kCases = ::testing::Values(
    Case{"NotFound", 404, kNotFound, "", absl::StatusCode::kNotFound, "NotFound", kIsNotFound,
         "configmaps \"missing\" not found", false, false},
    Case{"AlreadyExists", 409, kAlreadyExists, "", absl::StatusCode::kAlreadyExists,
         "AlreadyExists", kIsAlreadyExists, "configmaps \"cm\" already exists", false, false},
    Case{"Conflict", 409, kConflict, "", absl::StatusCode::kAborted, "Conflict", kIsConflict,
         "Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; "
         "please apply your changes to the latest version and try again",
         false, false},
    Case{"ApplyConflict", 409, kApplyConflict, "", absl::StatusCode::kAborted, "Conflict",
         kIsConflict, "", false, false},
    Case{"WatchExpired", 410, kWatchTooOld, "", absl::StatusCode::kOutOfRange, "Expired", kIsGone,
         "too old resource version: 123 (456)", false, false},
    Case{"WatchGoneOldServer", 410, kWatchGoneOld, "", absl::StatusCode::kOutOfRange, "Gone",
         kIsGone, "too old resource version: 123 (456)", false, false},
    Case{"ContinueExpired", 410, kContinueExpired, "", absl::StatusCode::kOutOfRange, "Expired",
         kIsGone, "", false, false},
    Case{"Forbidden", 403, kForbidden, "", absl::StatusCode::kPermissionDenied, "Forbidden",
         kIsForbidden, "", false, false},
    Case{"Unauthorized", 401, kUnauthorized, "", absl::StatusCode::kUnauthenticated, "Unauthorized",
         kIsUnauthorized, "Unauthorized", false, false},
    Case{"Invalid", 422, kInvalid, "", absl::StatusCode::kInvalidArgument, "Invalid", kIsInvalid,
         "", false, false},
    Case{"Immutable", 422, kImmutable, "", absl::StatusCode::kInvalidArgument, "Invalid",
         kIsInvalid, "", false, false},
    Case{"TooManyRequests", 429, kTooManyRequests, "1", absl::StatusCode::kResourceExhausted,
         "TooManyRequests", kIsTooManyRequests, "Too many requests, please try again later.", true,
         true},
    Case{"WebhookInternalError", 500, kWebhookFailed, "", absl::StatusCode::kUnavailable,
         "InternalError", kNone, "", true, false},
    Case{"ServerTimeout", 500, kServerTimeout, "", absl::StatusCode::kUnavailable, "ServerTimeout",
         kIsTimeout, "", true, false},
    Case{"ServiceUnavailable", 503, kServiceUnavailable, "", absl::StatusCode::kUnavailable,
         "ServiceUnavailable", kNone, "the server is currently unable to handle the request", true,
         false},
    Case{"GatewayTimeout", 504, kGatewayTimeout, "", absl::StatusCode::kDeadlineExceeded, "Timeout",
         kIsTimeout, "", true, false},
    Case{"RequestTooLarge", 413, kRequestTooLarge, "", absl::StatusCode::kInvalidArgument,
         "RequestEntityTooLarge", kNone, "Request entity too large: limit is 3145728", false,
         false},
    // Not a Status body: the code alone decides, as client-go does.
    Case{"NginxHtml502", 502, kNginx502, "", absl::StatusCode::kUnavailable, "InternalError", kNone,
         "", true, false},
    Case{"PlainText404", 404, "404 page not found\n", "", absl::StatusCode::kNotFound, "NotFound",
         kIsNotFound, "the server responded with HTTP 404 Not Found: 404 page not found", false,
         false},
    Case{"Empty409", 409, "", "", absl::StatusCode::kAborted, "Conflict", kIsConflict,
         "the server responded with HTTP 409 Conflict", false, false},
    Case{"Empty410", 410, "", "", absl::StatusCode::kOutOfRange, "Gone", kIsGone, "", false, false},
    Case{"Empty429", 429, "", "3", absl::StatusCode::kResourceExhausted, "TooManyRequests",
         kIsTooManyRequests, "", true, true},
    Case{"Empty504", 504, "", "", absl::StatusCode::kDeadlineExceeded, "Timeout", kIsTimeout, "",
         true, false},
    Case{"JsonNotStatus", 400, R"({"error":"bad"})", "", absl::StatusCode::kInvalidArgument,
         "BadRequest", kNone, "", false, false},
    Case{"Teapot", 418, "", "", absl::StatusCode::kUnknown, "", kNone,
         "the server responded with HTTP 418", false, false});

INSTANTIATE_TEST_SUITE_P(RealResponses, FromApiResponseTest, kCases,
                         [](const auto& info) { return std::string(info.param.name); });

TEST(FromApiResponseTest, SuccessIsOk) {
  EXPECT_TRUE(FromApiResponse(200, R"({"kind":"ConfigMap"})").ok());
  EXPECT_TRUE(FromApiResponse(201, "").ok());
  EXPECT_TRUE(
      FromApiResponse(200, R"({"kind":"Status","apiVersion":"v1","status":"Success"})").ok());
}

TEST(FromApiResponseTest, InvalidCarriesCauses) {
  const absl::Status s = FromApiResponse(422, kInvalid);
  EXPECT_THAT(s.message(), HasSubstr("ConfigMap \"Bad_Name\" is invalid: metadata.name"));
  const std::vector<Cause> causes = apierrors::Causes(s);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(causes[0].field, "metadata.name");
  EXPECT_THAT(causes[0].message, HasSubstr("a lowercase RFC 1123 subdomain"));

  const std::vector<Cause> immutable = apierrors::Causes(FromApiResponse(422, kImmutable));
  ASSERT_EQ(immutable.size(), 1u);
  EXPECT_EQ(immutable[0].field, "spec.selector");
  EXPECT_THAT(immutable[0].message, HasSubstr("field is immutable"));
}

TEST(FromApiResponseTest, ApplyConflictCarriesCauses) {
  EXPECT_THAT(
      apierrors::Causes(FromApiResponse(409, kApplyConflict)),
      ElementsAre(Cause{"FieldManagerConflict",
                        "conflict with \"kubectl-client-side-apply\" using v1", ".data.key"}));
  EXPECT_TRUE(apierrors::Causes(FromApiResponse(409, kConflict)).empty());
}

TEST(FromApiResponseTest, RetryAfterFromHeaderWinsOverBody) {
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(429, kTooManyRequests, "5")), absl::Seconds(5));
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(429, kTooManyRequests, "")), absl::Seconds(1));
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(429, kTooManyRequests, " 7 ")), absl::Seconds(7));
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(429, "", "0")), absl::ZeroDuration());
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(500, kServerTimeout)), absl::Seconds(2));
  // Forms we do not honour fall back to the body, or to nothing.
  EXPECT_EQ(apierrors::RetryAfter(
                FromApiResponse(429, kTooManyRequests, "Wed, 21 Oct 2015 07:28:00 GMT")),
            absl::Seconds(1));
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(429, "", "-3")), std::nullopt);
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(429, "", "1.5")), std::nullopt);
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(429, "", "99999999999999999999999")),
            std::nullopt);
  EXPECT_EQ(apierrors::RetryAfter(FromApiResponse(404, kNotFound)), std::nullopt);
}

TEST(FromApiResponseTest, HttpCodeWinsOverBodyCode) {
  // A proxy that rewrites the status line: trust what we received, keep the server's reason.
  const absl::Status s = FromApiResponse(503, kNotFound);
  EXPECT_EQ(apierrors::HttpCode(s), 503);
  EXPECT_TRUE(apierrors::IsNotFound(s));
}

TEST(FromApiResponseTest, UnknownReasonFallsBackToCode) {
  const absl::Status s = FromApiResponse(
      409, R"({"kind":"Status","status":"Failure","message":"m","reason":"SomethingNew"})");
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(apierrors::Reason(s), "SomethingNew");
  EXPECT_FALSE(apierrors::IsConflict(s));
}

TEST(FromApiResponseTest, HtmlBodyGivesReadableMessageWithoutCredentials) {
  const absl::Status s = FromApiResponse(502, kNginx502);
  EXPECT_EQ(s.message(),
            "the server responded with HTTP 502 Bad Gateway: 502 Bad Gateway 502 Bad Gateway "
            "nginx/1.25.3");

  // A misbehaving proxy that echoes the request back must not put the token into logs.
  const absl::Status echo = FromApiResponse(
      400,
      "GET /api/v1/pods HTTP/1.1\r\nAuthorization: Bearer eyJhbGciOiJSUzI1NiJ9.secret\r\n"
      "Proxy-Authorization: basic dXNlcjpwYXNz\r\n");
  EXPECT_THAT(echo.message(), Not(HasSubstr("eyJhbGciOiJSUzI1NiJ9")));
  EXPECT_THAT(echo.message(), Not(HasSubstr("dXNlcjpwYXNz")));
  EXPECT_THAT(echo.message(), HasSubstr("Bearer [redacted]"));
}

TEST(FromApiResponseTest, LongBodyIsCutAtCharacterBoundary) {
  std::string body = "a";                     // so the 160-byte cut falls inside a character
  for (int i = 0; i < 200; ++i) body += "é";  // 2 bytes each
  const absl::Status s = FromApiResponse(500, body);
  const std::string prefix = "the server responded with HTTP 500 Internal Server Error: ";
  ASSERT_THAT(s.message(), HasSubstr(prefix));
  std::string snippet(s.message().substr(prefix.size()));
  ASSERT_TRUE(snippet.size() > 3 && snippet.substr(snippet.size() - 3) == "...");
  snippet.resize(snippet.size() - 3);
  EXPECT_EQ(snippet.size(), 159u) << "a 2-byte character was split";
}

TEST(FromApiResponseTest, GarbageBodiesNeverThrow) {
  for (const char* body : {"{", "[1,2", "\xff\xfe", R"({"kind":"Status","code":"x"})",
                           R"({"kind":"Status","details":{"causes":"no","retryAfterSeconds":-4}})",
                           R"({"kind":"Status","details":{"causes":[1,{"reason":7}]}})",
                           R"({"kind":"Status","code":99999999999999999999})"}) {
    const absl::Status s = FromApiResponse(500, body);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << body;
    EXPECT_EQ(apierrors::HttpCode(s), 500);
  }
  const absl::Status s =
      FromApiResponse(422, R"({"kind":"Status","details":{"causes":[1,{"reason":7}]}})");
  EXPECT_THAT(apierrors::Causes(s), ElementsAre(Cause{"", "", ""}));
}

TEST(FromStatusObjectTest, InStreamExpiredIsGone) {
  const absl::Status s = FromStatusObject(nlohmann::json::parse(kWatchTooOld));
  EXPECT_TRUE(apierrors::IsGone(s));
  EXPECT_EQ(apierrors::HttpCode(s), 410);
  EXPECT_EQ(s.message(), "too old resource version: 123 (456)");
  // Without a code the reason alone decides.
  const absl::Status no_code = FromStatusObject(
      {{"kind", "Status"}, {"status", "Failure"}, {"reason", "Expired"}, {"message", "old"}});
  EXPECT_TRUE(apierrors::IsGone(no_code));
  EXPECT_EQ(apierrors::HttpCode(no_code), 0);
  EXPECT_EQ(no_code.code(), absl::StatusCode::kOutOfRange);
}

TEST(FromStatusObjectTest, OddObjects) {
  EXPECT_TRUE(FromStatusObject({{"kind", "Status"}, {"status", "Success"}}).ok());
  EXPECT_EQ(FromStatusObject(nlohmann::json()).code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(FromStatusObject(nlohmann::json::array()).code(), absl::StatusCode::kUnknown);
  const absl::Status internal = FromStatusObject(
      {{"kind", "Status"},
       {"status", "Failure"},
       {"message",
        "an error on the server (\"unable to decode an event from the watch stream\") "
        "has prevented the request from succeeding"},
       {"reason", "InternalError"},
       {"code", 500}});
  EXPECT_EQ(internal.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(apierrors::IsRetryable(internal, "watch"));
  const absl::Status empty = FromStatusObject(nlohmann::json::object());
  EXPECT_EQ(empty.code(), absl::StatusCode::kUnknown);
  EXPECT_FALSE(empty.message().empty());
}

TEST(TransportErrorTest, ConnectionFailure) {
  const absl::Status s = FromTransportError(TransportFailure::kConnection,
                                            "connect: Connection refused (127.0.0.1:6443)");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(apierrors::IsConnectionFailure(s));
  EXPECT_FALSE(apierrors::IsTimeout(s));
  EXPECT_EQ(apierrors::HttpCode(s), 0);
  EXPECT_EQ(apierrors::Reason(s), "");
  EXPECT_THAT(s.message(), HasSubstr("Connection refused"));
  EXPECT_TRUE(apierrors::IsRetryable(s, "get"));
  EXPECT_TRUE(apierrors::IsRetryable(s, "WATCH"));
  EXPECT_FALSE(apierrors::IsRetryable(s, "create"));
  EXPECT_FALSE(apierrors::IsRetryable(s, "PUT"));
}

TEST(TransportErrorTest, ClientTimeout) {
  const absl::Status s = FromTransportError(TransportFailure::kTimeout, "no response in 30s");
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(apierrors::IsTimeout(s));
  EXPECT_FALSE(apierrors::IsConnectionFailure(s));
  EXPECT_TRUE(apierrors::IsRetryable(s, "list"));
  EXPECT_FALSE(apierrors::IsRetryable(s, "update"));
}

TEST(PredicatesTest, ForeignAndOkStatuses) {
  for (const absl::Status& s :
       {absl::OkStatus(), absl::NotFoundError("not from k8s"), absl::UnavailableError("x")}) {
    EXPECT_FALSE(apierrors::IsNotFound(s));
    EXPECT_FALSE(apierrors::IsGone(s));
    EXPECT_FALSE(apierrors::IsConnectionFailure(s));
    EXPECT_FALSE(apierrors::IsTimeout(s));
    EXPECT_FALSE(apierrors::IsRetryable(s, "get"));
    EXPECT_EQ(apierrors::HttpCode(s), 0);
    EXPECT_EQ(apierrors::Reason(s), "");
    EXPECT_EQ(apierrors::RetryAfter(s), std::nullopt);
    EXPECT_TRUE(apierrors::Causes(s).empty());
  }
}

TEST(MakeApiErrorTest, RoundTripsForFakes) {
  const absl::Status s = MakeApiError({.http_code = 409,
                                       .reason = "Conflict",
                                       .message = "stale",
                                       .causes = {{"FieldManagerConflict", "m", ".spec"}},
                                       .retry_after = absl::Seconds(3)});
  EXPECT_TRUE(apierrors::IsConflict(s));
  EXPECT_EQ(s.message(), "stale");
  EXPECT_EQ(apierrors::RetryAfter(s), absl::Seconds(3));
  EXPECT_THAT(apierrors::Causes(s), ElementsAre(Cause{"FieldManagerConflict", "m", ".spec"}));
  // Payloads survive copies, as statuses are passed around by value.
  const absl::Status copy = s;
  EXPECT_TRUE(apierrors::IsConflict(copy));
  EXPECT_EQ(MakeApiError({.http_code = 404}).message(),
            "the server responded with HTTP 404 Not Found");
  EXPECT_TRUE(apierrors::IsNotFound(MakeApiError({.http_code = 404})));
}

TEST(MakeApiErrorTest, CausesWithInvalidUtf8DoNotThrow) {
  const absl::Status s =
      MakeApiError({.http_code = 422, .causes = {{"FieldValueInvalid", "bad \xff byte", "f"}}});
  ASSERT_EQ(apierrors::Causes(s).size(), 1u);
  EXPECT_EQ(apierrors::Causes(s)[0].field, "f");
}

}  // namespace
}  // namespace cohort::op
