// EventRecorder against an in-memory events.k8s.io/v1 API on a simulated clock: creation,
// aggregation into series, the per-object rate limit, truncation, the bounded queue and shutdown.
// Against the real API server (and its audit log): tests/integration/leader_election_test.cc.
#include "operator/event_recorder.h"

#include <unistd.h>

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "operator/testing/fake_transport.h"

namespace cohort::op {
namespace {

using nlohmann::json;

constexpr char kPrefix[] = "/apis/events.k8s.io/v1/namespaces/";

std::string StatusBody(int code, const std::string& reason) {
  return json{{"kind", "Status"},  {"apiVersion", "v1"}, {"status", "Failure"},
              {"message", reason}, {"reason", reason},   {"code", code}}
      .dump();
}

// Events by namespace and name, served through the fake transport: POST creates, a merge PATCH
// updates.
class EventsApi {
 public:
  absl::StatusOr<HttpResponse> Serve(const HttpRequest& request) {
    absl::MutexLock lock(&mu_);
    return Route(request.method, request.path_and_query, json::parse(request.body));
  }

  std::vector<json> events() {
    absl::MutexLock lock(&mu_);
    std::vector<json> out;
    for (const auto& [key, event] : events_) out.push_back(event);
    return out;
  }
  void DeleteAll() {
    absl::MutexLock lock(&mu_);
    events_.clear();
  }

 private:
  HttpResponse Route(const std::string& method, const std::string& path, const json& body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!absl::StartsWith(path, kPrefix)) return {404, {}, StatusBody(404, "NotFound")};
    const std::string rest = path.substr(std::string(kPrefix).size());  // ns/events[/name]
    const size_t slash = rest.find('/');
    const std::string ns = rest.substr(0, slash);
    const std::string tail = rest.substr(slash + 1);
    if (method == "POST" && tail == "events") {
      const std::string key = ns + "/" + body["metadata"]["name"].get<std::string>();
      if (events_.count(key) > 0) return {409, {}, StatusBody(409, "AlreadyExists")};
      events_[key] = body;
      return {201, {}, body.dump()};
    }
    if (method == "PATCH" && absl::StartsWith(tail, "events/")) {
      const std::string key = ns + "/" + tail.substr(7);
      auto it = events_.find(key);
      if (it == events_.end()) return {404, {}, StatusBody(404, "NotFound")};
      it->second.merge_patch(body);
      return {200, {}, it->second.dump()};
    }
    return {400, {}, StatusBody(400, "BadRequest")};
  }

  absl::Mutex mu_;
  std::map<std::string, json> events_ ABSL_GUARDED_BY(mu_);
};

json Body(const testing::RecordedRequest& r) { return json::parse(r.request.body); }

std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

const ObjectReference kPod{"v1", "Pod", "web", "pod-a", "uid-1"};
const ObjectReference kOtherPod{"v1", "Pod", "web", "pod-b", "uid-2"};

class EventRecorderTest : public ::testing::Test {
 protected:
  EventRecorderTest() {
    fake_.SetHandler([this](const HttpRequest& r) { return api_.Serve(r); });
    KubeClientOptions options;
    options.qps = 1e6;
    options.burst = 1000000;
    options.max_attempts = 1;
    client_ = std::make_unique<KubeClient>(fake_.Connect(), options, clock_);
  }
  ~EventRecorderTest() override {
    fake_.Hang(false);
    recorder_.reset();
  }

  EventRecorder& NewRecorder(EventRecorderOptions options = {}) {
    if (options.reporting_controller.empty()) options.reporting_controller = "cohort.dev/operator";
    if (options.reporting_instance.empty()) options.reporting_instance = "operator-0";
    absl::StatusOr<std::unique_ptr<EventRecorder>> r =
        EventRecorder::Create(*client_, std::move(options), clock_);
    EXPECT_TRUE(r.ok()) << r.status();
    recorder_ = *std::move(r);
    return *recorder_;
  }

  void FlushOk() {
    absl::Status flushed = recorder_->Flush(absl::Seconds(30));
    ASSERT_TRUE(flushed.ok()) << flushed;
  }

  // Waits (in real time) until the recorder's thread waits on the clock and stays so for a few
  // of the simulated clock's 1 ms polls.
  void WaitParked() {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    int stable = 0;
    while (stable < 3) {
      ASSERT_LT(absl::Now(), give_up) << "the recorder's thread did not park";
      stable = clock_.waiters() == 1 ? stable + 1 : 0;
      absl::SleepFor(absl::Milliseconds(1));
    }
  }

  static bool Eventually(const std::function<bool()>& done) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (!done()) {
      if (absl::Now() >= give_up) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

  SimulatedClock clock_;
  EventsApi api_;
  testing::FakeTransport fake_{clock_};  // requests can hang
  std::unique_ptr<KubeClient> client_;
  std::unique_ptr<EventRecorder> recorder_;
};

TEST_F(EventRecorderTest, CreatesAnEventsV1EventWithEveryField) {
  EventRecorder& r = NewRecorder();
  const absl::Time when = clock_.Now();
  r.Record(kPod, EventType::kWarning, "ReconcileFailed", "Apply", "the apply failed");
  FlushOk();
  ASSERT_EQ(fake_.requests().size(), 1u);
  const testing::RecordedRequest post = fake_.requests()[0];
  EXPECT_EQ(post.method(), "POST");
  EXPECT_EQ(post.request.path_and_query, "/apis/events.k8s.io/v1/namespaces/web/events");
  const json e = Body(post);
  EXPECT_EQ(e["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ(e["kind"], "Event");
  EXPECT_EQ(e["metadata"]["namespace"], "web");
  EXPECT_EQ(e["metadata"]["name"], absl::StrCat("pod-a.", absl::Hex(absl::ToUnixNanos(when))));
  EXPECT_EQ(e["eventTime"], MicroTime(when));
  EXPECT_EQ(e["reportingController"], "cohort.dev/operator");
  EXPECT_EQ(e["reportingInstance"], "operator-0");
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["reason"], "ReconcileFailed");
  EXPECT_EQ(e["action"], "Apply");
  EXPECT_EQ(e["note"], "the apply failed");
  EXPECT_EQ(e["regarding"], (json{{"apiVersion", "v1"},
                                  {"kind", "Pod"},
                                  {"namespace", "web"},
                                  {"name", "pod-a"},
                                  {"uid", "uid-1"}}));
  EXPECT_FALSE(e.contains("series"));
  EXPECT_EQ(r.stats().created, 1u);
  EXPECT_EQ(r.stats().recorded, 1u);
}

TEST_F(EventRecorderTest, IdenticalOccurrencesBecomeOneEventWithASeries) {
  EventRecorder& r = NewRecorder();
  absl::Time last;
  for (int i = 0; i < 5; ++i) {
    last = clock_.Now();
    r.Record(kPod, EventType::kNormal, "Created", "Create", "created Deployment web");
    clock_.Advance(absl::Seconds(1));
  }
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 1);
  EXPECT_EQ(fake_.Count("PATCH"), 1) << "the flush writes the count once";
  const testing::RecordedRequest patch = fake_.requests().back();
  EXPECT_EQ(patch.Header("Content-Type"), "application/merge-patch+json");
  EXPECT_EQ(Body(patch), (json{{"series", {{"count", 5}, {"lastObservedTime", MicroTime(last)}}}}));
  const std::vector<json> events = api_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["series"]["count"], 5);
  EXPECT_EQ(r.stats().series_updates, 1u);
  EXPECT_EQ(r.stats().recorded, 5u);
}

TEST_F(EventRecorderTest, ASeriesIsWrittenAtMostEveryUpdateInterval) {
  EventRecorder& r = NewRecorder();  // interval 10 s
  r.Record(kPod, EventType::kNormal, "Scaled", "Scale", "to 3");
  ASSERT_TRUE(Eventually([&] { return fake_.Count("POST") == 1; }));
  clock_.Advance(absl::Seconds(1));
  r.Record(kPod, EventType::kNormal, "Scaled", "Scale", "to 3");
  WaitParked();
  clock_.Advance(absl::Milliseconds(8900));  // 9.9 s after the create
  WaitParked();
  EXPECT_EQ(fake_.Count("PATCH"), 0);
  clock_.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(Eventually([&] { return fake_.Count("PATCH") == 1; }));
  EXPECT_EQ(Body(fake_.requests().back())["series"]["count"], 2);

  // Three more at once: one more PATCH, 10 s after the previous one.
  for (int i = 0; i < 3; ++i) r.Record(kPod, EventType::kNormal, "Scaled", "Scale", "to 3");
  WaitParked();
  clock_.Advance(absl::Milliseconds(9900));
  WaitParked();
  EXPECT_EQ(fake_.Count("PATCH"), 1);
  clock_.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(Eventually([&] { return fake_.Count("PATCH") == 2; }));
  EXPECT_EQ(Body(fake_.requests().back())["series"]["count"], 5);
  EXPECT_EQ(fake_.Count("POST"), 1);
}

TEST_F(EventRecorderTest, DifferentTypeReasonActionNoteOrObjectAreDifferentEvents) {
  EventRecorder& r = NewRecorder();
  r.Record(kPod, EventType::kNormal, "Created", "Create", "a");
  r.Record(kPod, EventType::kWarning, "Created", "Create", "a");
  r.Record(kPod, EventType::kNormal, "Updated", "Create", "a");
  r.Record(kPod, EventType::kNormal, "Created", "Apply", "a");
  r.Record(kPod, EventType::kNormal, "Created", "Create", "b");
  r.Record(kOtherPod, EventType::kNormal, "Created", "Create", "a");
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 6);
  EXPECT_EQ(fake_.Count("PATCH"), 0);
  EXPECT_EQ(api_.events().size(), 6u) << "every Event got a name of its own";
}

TEST_F(EventRecorderTest, ASeriesEndsWhenTheWindowPassesWithoutAnOccurrence) {
  EventRecorder& r = NewRecorder();
  r.Record(kPod, EventType::kNormal, "Synced", "Sync", "ok");
  clock_.Advance(absl::Minutes(5));
  r.Record(kPod, EventType::kNormal, "Synced", "Sync", "ok");  // within 6 min: the series
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 1);
  clock_.Advance(absl::Minutes(6) + absl::Seconds(1));
  r.Record(kPod, EventType::kNormal, "Synced", "Sync", "ok");  // a new Event
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 2);
  EXPECT_FALSE(Body(fake_.requests().back()).contains("series"));
  EXPECT_EQ(api_.events().size(), 2u);
}

TEST_F(EventRecorderTest, NewEventsOverThePerObjectRateLimitAreDropped) {
  EventRecorder& r = NewRecorder();  // 1 qps, burst 25
  for (int i = 0; i < 30; ++i) {
    r.Record(kPod, EventType::kNormal, absl::StrCat("Reason", i), "Act", "n");
  }
  r.Record(kOtherPod, EventType::kNormal, "Reason", "Act", "n");
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 26) << "25 for pod-a, 1 for pod-b";
  EXPECT_EQ(r.stats().dropped_rate_limited, 5u);
  r.Record(kPod, EventType::kNormal, "Later", "Act", "n");
  FlushOk();
  EXPECT_EQ(r.stats().dropped_rate_limited, 6u);
  clock_.Advance(absl::Seconds(1));
  r.Record(kPod, EventType::kNormal, "Later", "Act", "n");
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 27) << "the bucket refills at 1 qps";
}

TEST_F(EventRecorderTest, TextIsCutToTheApiLimitsAtCharacterBoundaries) {
  EventRecorder& r = NewRecorder();
  // 1023 ASCII bytes, then a 2-byte character that would end at byte 1025.
  const std::string note = std::string(1023, 'n') + "\xC3\xA9" + std::string(100, 'x');
  const std::string reason = std::string(127, 'R') + "\xE2\x82\xAC";  // "€" would end at 130
  r.Record(kPod, EventType::kNormal, reason, "Act", note);
  r.Record(kOtherPod, EventType::kNormal, "Bad", "Act", "ok \xFF\xFE ok");
  FlushOk();
  ASSERT_EQ(fake_.Count("POST"), 2);
  const json first = Body(fake_.requests()[0]);
  EXPECT_EQ(first["note"], std::string(1023, 'n'));
  EXPECT_EQ(first["reason"], std::string(127, 'R'));
  EXPECT_EQ(Body(fake_.requests()[1])["note"], "ok \xEF\xBF\xBD\xEF\xBF\xBD ok");
  // A note of exactly 1 KiB is kept whole.
  r.Record(kPod, EventType::kNormal, "Exact", "Act", std::string(1024, 'e'));
  FlushOk();
  EXPECT_EQ(Body(fake_.requests().back())["note"].get<std::string>().size(), 1024u);
}

TEST_F(EventRecorderTest, RecordNeverBlocksAndDropsWhenTheQueueIsFull) {
  EventRecorderOptions options;
  options.queue_capacity = 3;
  EventRecorder& r = NewRecorder(options);
  fake_.Hang(true);
  r.Record(kPod, EventType::kNormal, "First", "Act", "n");
  ASSERT_TRUE(Eventually([&] { return fake_.in_flight() == 1; }));  // the thread is stuck in it
  for (int i = 0; i < 5; ++i) {
    r.Record(kPod, EventType::kNormal, absl::StrCat("Next", i), "Act", "n");
  }
  EXPECT_EQ(r.stats().recorded, 4u);
  EXPECT_EQ(r.stats().dropped_queue_full, 2u);
  fake_.Hang(false);
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 4);
}

TEST_F(EventRecorderTest, ClusterScopedObjectsGetTheirEventsInDefault) {
  EventRecorder& r = NewRecorder();
  r.Record(ObjectReference{"v1", "Namespace", "", "team-a", "uid-ns"}, EventType::kNormal,
           "Labelled", "Label", "n");
  FlushOk();
  ASSERT_EQ(fake_.Count("POST"), 1);
  const testing::RecordedRequest post = fake_.requests()[0];
  EXPECT_EQ(post.request.path_and_query, "/apis/events.k8s.io/v1/namespaces/default/events");
  EXPECT_FALSE(Body(post)["regarding"].contains("namespace"));
}

TEST_F(EventRecorderTest, AnEventThatExpiredIsCreatedAgainWithItsSeries) {
  EventRecorder& r = NewRecorder();
  r.Record(kPod, EventType::kNormal, "Synced", "Sync", "ok");
  FlushOk();
  api_.DeleteAll();  // the API server's event TTL
  clock_.Advance(absl::Seconds(1));
  r.Record(kPod, EventType::kNormal, "Synced", "Sync", "ok");
  FlushOk();
  const std::vector<testing::RecordedRequest> requests = fake_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].method(), "PATCH");
  EXPECT_EQ(requests[1].status, 404);
  EXPECT_EQ(requests[2].method(), "POST");
  EXPECT_EQ(Body(requests[2])["series"]["count"], 2);
  EXPECT_NE(Body(requests[2])["metadata"]["name"], Body(requests[0])["metadata"]["name"]);
  EXPECT_EQ(api_.events().size(), 1u);
}

TEST_F(EventRecorderTest, StopWritesWhatIsPendingAndDropsLaterRecords) {
  EventRecorder& r = NewRecorder();
  for (int i = 0; i < 3; ++i) r.Record(kPod, EventType::kNormal, "Synced", "Sync", "ok");
  r.Stop();
  ASSERT_EQ(fake_.Count("PATCH"), 1);
  EXPECT_EQ(api_.events()[0]["series"]["count"], 3);
  r.Record(kPod, EventType::kNormal, "Synced", "Sync", "ok");
  EXPECT_EQ(r.stats().dropped_queue_full, 1u);
  EXPECT_TRUE(r.Flush(absl::Seconds(1)).ok()) << "nothing left to flush";
  r.Stop();  // idempotent
}

TEST_F(EventRecorderTest, OccurrencesWithoutReasonOrActionAreDropped) {
  EventRecorder& r = NewRecorder();
  r.Record(kPod, EventType::kNormal, "", "Act", "n");
  r.Record(kPod, EventType::kNormal, "Reason", "", "n");
  FlushOk();
  EXPECT_EQ(fake_.Count("POST"), 0);
  EXPECT_EQ(r.stats().dropped_invalid, 2u);
}

TEST_F(EventRecorderTest, OptionsAreChecked) {
  auto create = [&](EventRecorderOptions o) {
    return EventRecorder::Create(*client_, std::move(o), clock_).status();
  };
  EventRecorderOptions o;
  EXPECT_TRUE(absl::IsInvalidArgument(create(o))) << "a reporting controller is required";
  for (const char* bad : {"has space", "Upper.Case/name", "/name", "name-", "a/b/c"}) {
    o.reporting_controller = bad;
    EXPECT_TRUE(absl::IsInvalidArgument(create(o))) << bad;
  }
  o.reporting_controller = "cohort.dev/cohort-operator";
  o.reporting_instance = std::string(129, 'i');
  EXPECT_TRUE(absl::IsInvalidArgument(create(o)));
  o.reporting_instance.clear();
  absl::StatusOr<std::unique_ptr<EventRecorder>> r = EventRecorder::Create(*client_, o, clock_);
  ASSERT_TRUE(r.ok()) << r.status();
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ((*r)->reporting_instance(), absl::StrCat("cohort.dev/cohort-operator-", host));
}

TEST(ObjectReferenceTest, IsTakenFromAnObject) {
  const json pod = {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"namespace", "web"}, {"name", "pod-a"}, {"uid", "uid-1"}}}};
  EXPECT_EQ(ObjectReference::From(pod), kPod);
  EXPECT_EQ(ObjectReference::From(json::array()), ObjectReference{});
}

}  // namespace
}  // namespace cohort::op
