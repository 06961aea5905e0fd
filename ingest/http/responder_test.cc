#include "ingest/http/responder.h"

#include <memory>
#include <optional>
#include <utility>

#include "gtest/gtest.h"

namespace cohort::ingest::http {
namespace {

class RecordingTarget : public Responder::Target {
 public:
  void Complete(Response response) override {
    ++completed;
    last = std::move(response);
  }
  void Dropped() override { ++dropped; }
  int completed = 0;
  int dropped = 0;
  std::optional<Response> last;
};

TEST(ResponderTest, RespondCompletesOnce) {
  auto target = std::make_shared<RecordingTarget>();
  {
    Responder responder(target);
    EXPECT_TRUE(responder.pending());
    responder.Respond(JsonResponse(202, "{}"));
    EXPECT_FALSE(responder.pending());
  }
  EXPECT_EQ(target->completed, 1);
  EXPECT_EQ(target->dropped, 0);
  EXPECT_EQ(target->last->status, 202);
}

TEST(ResponderTest, DestroyingUnansweredDrops) {
  auto target = std::make_shared<RecordingTarget>();
  { Responder responder(target); }
  EXPECT_EQ(target->completed, 0);
  EXPECT_EQ(target->dropped, 1);
}

TEST(ResponderTest, MoveTransfersTheObligation) {
  auto target = std::make_shared<RecordingTarget>();
  auto other = std::make_shared<RecordingTarget>();
  {
    Responder a(target);
    Responder b(std::move(a));
    EXPECT_FALSE(a.pending());  // NOLINT(bugprone-use-after-move): moved-from state is defined
    Responder c(other);
    c = std::move(b);  // c's unanswered obligation to `other` is dropped
    EXPECT_EQ(other->dropped, 1);
    c.Respond(JsonResponse(200, "{}"));
  }
  EXPECT_EQ(target->completed, 1);
  EXPECT_EQ(target->dropped, 0);
}

TEST(ResponderDeathTest, SecondRespondAborts) {
  auto target = std::make_shared<RecordingTarget>();
  Responder responder(target);
  responder.Respond(JsonResponse(200, "{}"));
  EXPECT_DEATH(responder.Respond(JsonResponse(200, "{}")), "twice");
}

TEST(JsonErrorTest, CarriesCodeAndError) {
  const Response response = JsonError(413, "Payload too large");
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"code":413,"error":"Payload too large"})");
  // Invalid UTF-8 from client input never throws.
  EXPECT_NE(JsonError(400, "bad \xff byte").body.find("\"code\":400"), std::string::npos);
}

TEST(RequestTest, HeaderLookupIsCaseInsensitive) {
  Request request;
  request.headers = {{"X-Forwarded-For", "1.1.1.1"},
                     {"content-type", "text/plain"},
                     {"x-forwarded-for", "2.2.2.2"}};
  EXPECT_EQ(request.FindHeader("Content-Type"), "text/plain");
  EXPECT_EQ(request.FindHeader("missing"), std::nullopt);
  EXPECT_EQ(request.JoinedHeader("X-FORWARDED-FOR"), "1.1.1.1,2.2.2.2");
  EXPECT_EQ(request.JoinedHeader("missing"), "");
}

}  // namespace
}  // namespace cohort::ingest::http
