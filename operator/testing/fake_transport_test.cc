// The fake transport's own contract: which script answers a request, what is recorded, hanging
// requests, shared connections, and streams read chunk by chunk with timeouts on a simulated clock.
#include "operator/testing/fake_transport.h"

#include <thread>

#include "gtest/gtest.h"

namespace cohort::testing {
namespace {

using op::HttpRequest;
using op::HttpResponse;
using op::HttpStream;

constexpr absl::Duration kWait = absl::Seconds(60);

TEST(FakeTransportTest, ARouteScriptComesBeforeTheAnyScriptWhichComesBeforeTheHandler) {
  SimulatedClock clock;
  FakeTransport fake(clock);
  fake.SetHandler([](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{200, {}, "handler:" + r.method};
  });
  fake.Reply(201, "any");
  fake.ReplyTo("GET", "/a", 202, "route", {{"x-h", "v"}});
  fake.FailTo("GET", "/a", absl::UnavailableError("down"));

  absl::StatusOr<HttpResponse> r = fake.Send({"GET", "/a?x=1", {}, ""}, absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 202) << "the query is no part of the route";
  EXPECT_EQ(r->Header("x-h"), "v");
  EXPECT_TRUE(absl::IsUnavailable(fake.Send({"GET", "/a", {}, ""}, absl::Seconds(5)).status()));
  EXPECT_EQ(fake.Send({"GET", "/a", {}, ""}, absl::Seconds(5))->body, "any");
  EXPECT_EQ(fake.Send({"POST", "/a", {}, ""}, absl::Seconds(5))->body, "handler:POST");
  EXPECT_EQ(fake.pending(), 0u);

  FakeTransport bare(clock);
  EXPECT_TRUE(absl::IsInternal(bare.Send({"GET", "/x", {}, ""}, absl::Seconds(1)).status()))
      << "unscripted";
  EXPECT_TRUE(absl::IsInternal(bare.Open({"GET", "/x?watch=1", {}, ""}).status()));
}

TEST(FakeTransportTest, RecordsRequestsInTheOrderAnswered) {
  SimulatedClock clock;
  FakeTransport fake(clock);
  fake.Reply(200, "");
  fake.Fail(absl::DeadlineExceededError("timeout"));
  const absl::Time start = clock.Now();
  ASSERT_TRUE(fake.Send({"PATCH",
                         "/p?fieldManager=m&labelSelector=a%3Db%2Cc",
                         {{"Content-Type", "x"}},
                         "body"},
                        absl::Seconds(7))
                  .ok());
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(fake.Send({"GET", "/q", {}, ""}, absl::Seconds(1)).ok());

  const std::vector<RecordedRequest> requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method(), "PATCH");
  EXPECT_EQ(requests[0].Path(), "/p");
  EXPECT_EQ(requests[0].Query(), "fieldManager=m&labelSelector=a%3Db%2Cc");
  EXPECT_EQ(requests[0].QueryParam("labelSelector"), "a=b,c");
  EXPECT_EQ(requests[0].QueryParam("missing"), std::nullopt);
  EXPECT_EQ(requests[0].Header("content-type"), "x");
  EXPECT_EQ(requests[0].request.body, "body");
  EXPECT_EQ(requests[0].timeout, absl::Seconds(7));
  EXPECT_EQ(requests[0].time, start);
  EXPECT_EQ(requests[0].status, 200);
  EXPECT_FALSE(requests[0].streamed);
  EXPECT_EQ(requests[1].status, 0);
  EXPECT_TRUE(absl::IsDeadlineExceeded(requests[1].error));
  EXPECT_EQ(requests[1].time, start + absl::Seconds(1));
  EXPECT_EQ(fake.Count("GET"), 1);
  fake.ClearRequests();
  EXPECT_TRUE(fake.requests().empty());
}

TEST(FakeTransportTest, HungRequestsWaitUntilReleasedAndConnectionsShareTheFake) {
  FakeTransport fake;
  fake.SetHandler([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{200, {}, "ok"};
  });
  std::unique_ptr<op::HttpTransport> one = fake.Connect();
  std::unique_ptr<op::HttpTransport> two = fake.Connect();
  fake.Hang(true);
  std::thread a([&] { EXPECT_TRUE(one->Send({"GET", "/a", {}, ""}, absl::Seconds(1)).ok()); });
  std::thread b([&] { EXPECT_TRUE(two->Send({"GET", "/b", {}, ""}, absl::Seconds(1)).ok()); });
  const absl::Time give_up = absl::Now() + kWait;
  while (fake.in_flight() < 2 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(fake.in_flight(), 2);
  EXPECT_TRUE(fake.requests().empty()) << "not answered while hung";
  fake.Hang(false);
  a.join();
  b.join();
  EXPECT_EQ(fake.in_flight(), 0);
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(FakeStreamTest, ChunksAreReadOneByOneThenTheEnd) {
  SimulatedClock clock;
  FakeTransport fake(clock);
  std::shared_ptr<FakeStream> stream = fake.AddStream("/w", HttpResponse{200, {{"k", "v"}}, ""});
  fake.FailOpen("/w", absl::UnavailableError("refused"));
  absl::StatusOr<std::unique_ptr<HttpStream>> opened = fake.Open({"GET", "/w?watch=1", {}, ""});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE(absl::IsUnavailable(fake.Open({"GET", "/w", {}, ""}).status()));
  HttpStream& reader = **opened;
  EXPECT_EQ(reader.response().Header("k"), "v");

  stream->Push("ab");
  stream->Push("c");
  stream->End();
  EXPECT_EQ(*reader.Read(absl::Seconds(1)), "ab");
  EXPECT_EQ(*reader.Read(absl::Seconds(1)), "c");
  EXPECT_FALSE(stream->AwaitFinished(absl::ZeroDuration()));
  EXPECT_EQ(*reader.Read(absl::Seconds(1)), "");
  EXPECT_TRUE(stream->AwaitFinished(kWait));
  EXPECT_EQ(stream->chunks_read(), 2);

  const std::vector<RecordedRequest> requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].streamed);
  EXPECT_EQ(requests[0].status, 200);
  EXPECT_TRUE(absl::IsUnavailable(requests[1].error));
}

TEST(FakeStreamTest, AReadTimesOutOnTheClockAndABreakFollowsTheChunks) {
  SimulatedClock clock;
  FakeTransport fake(clock);
  std::shared_ptr<FakeStream> stream = fake.AddStream("/w");
  std::unique_ptr<HttpStream> reader = *fake.Open({"GET", "/w", {}, ""});
  absl::StatusOr<std::string> read;
  std::thread t([&] { read = reader->Read(absl::Seconds(10)); });
  ASSERT_TRUE(stream->AwaitIdleReader(kWait));
  clock.Advance(absl::Seconds(10));
  t.join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(read.status())) << read.status();

  stream->Push("x");
  stream->Break(absl::UnavailableError("reset"));
  EXPECT_EQ(*reader->Read(absl::Seconds(1)), "x");
  EXPECT_TRUE(absl::IsUnavailable(reader->Read(absl::Seconds(1)).status()));
}

TEST(FakeStreamTest, CancelEndsABlockedRead) {
  SimulatedClock clock;
  FakeTransport fake(clock);
  std::shared_ptr<FakeStream> stream = fake.AddStream("/w");
  std::unique_ptr<HttpStream> reader = *fake.Open({"GET", "/w", {}, ""});
  absl::StatusOr<std::string> read;
  std::thread t([&] { read = reader->Read(absl::InfiniteDuration()); });
  ASSERT_TRUE(stream->AwaitIdleReader(kWait));
  reader->Cancel();
  t.join();
  EXPECT_TRUE(absl::IsCancelled(read.status())) << read.status();
  EXPECT_TRUE(stream->cancelled());
  stream->Push("late");
  EXPECT_TRUE(absl::IsCancelled(reader->Read(absl::Seconds(1)).status()));
}

TEST(FakeStreamTest, ARefusedStreamCarriesItsBody) {
  FakeTransport fake;
  fake.ReplyStream("/w", 410, R"({"kind":"Status","code":410})");
  std::unique_ptr<HttpStream> reader = *fake.Open({"GET", "/w", {}, ""});
  EXPECT_EQ(reader->response().status, 410);
  EXPECT_EQ(*reader->Read(absl::Seconds(1)), R"({"kind":"Status","code":410})");
  EXPECT_EQ(*reader->Read(absl::Seconds(1)), "");
  EXPECT_EQ(fake.requests()[0].status, 410);
}

}  // namespace
}  // namespace cohort::testing
