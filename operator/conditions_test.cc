#include "operator/conditions.h"

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace cohort::op {
namespace {

using nlohmann::json;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);  // 2023-11-14T22:13:20Z

TEST(SetConditionTest, NewConditionGetsTheCurrentTime) {
  SimulatedClock clock(kStart + absl::Milliseconds(750));
  json conditions;  // null: no status yet
  absl::StatusOr<bool> changed = SetCondition(conditions, "Ready", ConditionStatus::kFalse,
                                              "Progressing", "starting", 3, clock);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  ASSERT_TRUE(conditions.is_array());
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0], json({{"type", "Ready"},
                                 {"status", "False"},
                                 {"observedGeneration", 3},
                                 {"lastTransitionTime", "2023-11-14T22:13:20Z"},
                                 {"reason", "Progressing"},
                                 {"message", "starting"}}))
      << "whole seconds, UTC";
}

TEST(SetConditionTest, TransitionTimeChangesOnlyWithStatus) {
  SimulatedClock clock(kStart);
  json conditions = json::array();
  ASSERT_TRUE(
      *SetCondition(conditions, "Ready", ConditionStatus::kFalse, "Starting", "a", 1, clock));
  const std::string t0 = conditions[0]["lastTransitionTime"];

  // Same everything: no change at all.
  clock.Advance(absl::Minutes(1));
  EXPECT_FALSE(
      *SetCondition(conditions, "Ready", ConditionStatus::kFalse, "Starting", "a", 1, clock));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], t0);

  // Reason, message and generation change in place; the transition time stays.
  clock.Advance(absl::Minutes(1));
  EXPECT_TRUE(
      *SetCondition(conditions, "Ready", ConditionStatus::kFalse, "Waiting", "b", 2, clock));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], t0);
  EXPECT_EQ(conditions[0]["reason"], "Waiting");
  EXPECT_EQ(conditions[0]["message"], "b");
  EXPECT_EQ(conditions[0]["observedGeneration"], 2);

  // A status change moves it to now.
  clock.Advance(absl::Minutes(1));
  EXPECT_TRUE(
      *SetCondition(conditions, "Ready", ConditionStatus::kTrue, "Available", "", 2, clock));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], FormatConditionTime(kStart + absl::Minutes(3)));
  std::optional<Condition> ready = FindCondition(conditions, "Ready");
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->status, ConditionStatus::kTrue);
  EXPECT_EQ(ready->last_transition_time, kStart + absl::Minutes(3));
  EXPECT_EQ(ready->reason, "Available");
  EXPECT_EQ(ready->observed_generation, 2);
  EXPECT_TRUE(IsConditionTrue(conditions, "Ready"));
  EXPECT_FALSE(IsConditionFalse(conditions, "Ready"));

  // Unknown is a status like the others.
  clock.Advance(absl::Minutes(1));
  EXPECT_TRUE(*SetCondition(conditions, "Ready", ConditionStatus::kUnknown, "Lost", "", 2, clock));
  EXPECT_EQ(conditions[0]["status"], "Unknown");
  EXPECT_EQ(conditions[0]["lastTransitionTime"], FormatConditionTime(kStart + absl::Minutes(4)));
  EXPECT_FALSE(IsConditionTrue(conditions, "Ready"));
  EXPECT_FALSE(IsConditionFalse(conditions, "Ready"));
}

TEST(SetConditionTest, ConditionsKeepTheirOrder) {
  SimulatedClock clock(kStart);
  json conditions;
  ASSERT_TRUE(*SetCondition(conditions, "Ready", ConditionStatus::kFalse, "A", "", 1, clock));
  ASSERT_TRUE(*SetCondition(conditions, "Progressing", ConditionStatus::kTrue, "B", "", 1, clock));
  ASSERT_TRUE(
      *SetCondition(conditions, "cohort.dev/Degraded", ConditionStatus::kFalse, "C", "", 1, clock));
  ASSERT_TRUE(*SetCondition(conditions, "Ready", ConditionStatus::kTrue, "D", "", 1, clock));
  ASSERT_EQ(conditions.size(), 3u);
  EXPECT_EQ(conditions[0]["type"], "Ready");
  EXPECT_EQ(conditions[1]["type"], "Progressing");
  EXPECT_EQ(conditions[2]["type"], "cohort.dev/Degraded");
  EXPECT_TRUE(RemoveCondition(conditions, "Progressing"));
  EXPECT_FALSE(RemoveCondition(conditions, "Progressing"));
  EXPECT_EQ(conditions.size(), 2u);
  EXPECT_FALSE(FindCondition(conditions, "Progressing").has_value());
  EXPECT_FALSE(FindCondition(json(), "Ready").has_value());
}

TEST(SetConditionTest, AnEntryWithoutATimeGetsOne) {
  SimulatedClock clock(kStart);
  json conditions = json::parse(R"([{"type":"Ready","status":"True","reason":"A","message":"",
                                     "observedGeneration":1}])");
  EXPECT_TRUE(*SetCondition(conditions, "Ready", ConditionStatus::kTrue, "A", "", 1, clock));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], FormatConditionTime(kStart));
}

TEST(SetConditionTest, ValidatesBeforeChangingAnything) {
  SimulatedClock clock(kStart);
  json conditions = json::array();
  for (const char* reason :
       {"", "lowerCase", "Has Space", "Trailing:", "Trailing,", "1Digit", "Dash-Not-Allowed"}) {
    EXPECT_EQ(SetCondition(conditions, "Ready", ConditionStatus::kTrue, reason, "", 1, clock)
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument)
        << '"' << reason << '"';
  }
  for (const char* reason : {"Available", "A", "Ready_2", "Waiting:Dependency,Retry", "OK"}) {
    EXPECT_TRUE(ValidateConditionReason(reason).ok()) << reason;
  }
  for (const char* type : {"", "-Ready", "Ready-", "Bad/Prefix/x", "UPPER.example/Ready", "a b",
                           "/Ready", "example.com/"}) {
    EXPECT_FALSE(ValidateConditionType(type).ok()) << '"' << type << '"';
  }
  for (const char* type : {"Ready", "cohort.dev/Synced", "x.y-z.example/Foo_bar.baz", "a"}) {
    EXPECT_TRUE(ValidateConditionType(type).ok()) << type;
  }
  EXPECT_FALSE(ValidateConditionType(std::string(317, 'a')).ok());
  EXPECT_FALSE(ValidateConditionReason("A" + std::string(1024, 'b')).ok());
  EXPECT_FALSE(SetCondition(conditions, "Ready", ConditionStatus::kTrue, "A",
                            std::string(32769, 'm'), 1, clock)
                   .ok());
  EXPECT_FALSE(SetCondition(conditions, "Ready", ConditionStatus::kTrue, "A", "", -1, clock).ok());
  EXPECT_TRUE(conditions.empty());
  json not_a_list = json::object();
  EXPECT_FALSE(SetCondition(not_a_list, "Ready", ConditionStatus::kTrue, "A", "", 1, clock).ok());
}

TEST(FindConditionTest, ToleratesOddEntries) {
  json conditions = json::parse(R"([1, {"type":"Ready","status":"Maybe","lastTransitionTime":"x",
                                        "observedGeneration":"7"}])");
  std::optional<Condition> c = FindCondition(conditions, "Ready");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, ConditionStatus::kUnknown);
  EXPECT_EQ(c->last_transition_time, absl::InfinitePast());
  EXPECT_EQ(c->observed_generation, 0);
}

TEST(FormatConditionTimeTest, Rfc3339UtcSeconds) {
  EXPECT_EQ(FormatConditionTime(absl::FromUnixSeconds(0) + absl::Milliseconds(999)),
            "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatConditionTime(absl::FromUnixSeconds(1'714'564'800)), "2024-05-01T12:00:00Z");
}

// Records requests and answers each with the request body (as an apply would).
class EchoTransport final : public HttpTransport {
 public:
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Duration) override {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    return HttpResponse{200, {}, request.body.empty() ? "{}" : request.body};
  }
  absl::StatusOr<std::unique_ptr<HttpStream>> Open(const HttpRequest&) override {
    return absl::UnimplementedError("no streams");
  }
  std::vector<HttpRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  absl::Mutex mu_;
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
};

TEST(ApplyStatusIfChangedTest, WritesOnlyAChangedStatus) {
  auto transport = std::make_unique<EchoTransport>();
  EchoTransport* echo = transport.get();
  KubeClient client(std::move(transport), KubeClientOptions{});
  const ResourceType widgets{"example.com", "v1", "widgets", "Widget", true};
  SimulatedClock clock(kStart);

  json live = {{"apiVersion", "example.com/v1"},
               {"kind", "Widget"},
               {"metadata", {{"name", "w"}, {"namespace", "n"}, {"generation", 4}}},
               {"spec", {{"size", 1}}}};
  json status = {{"observedGeneration", 4}};
  ASSERT_TRUE(*SetCondition(status["conditions"], "Ready", ConditionStatus::kTrue, "Available", "",
                            4, clock));

  absl::StatusOr<bool> wrote =
      ApplyStatusIfChanged(client, widgets, live, status, "cohort-operator");
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_TRUE(*wrote);
  ASSERT_EQ(echo->requests().size(), 1u);
  const HttpRequest request = echo->requests()[0];
  EXPECT_EQ(request.method, "PATCH");
  EXPECT_TRUE(absl::StartsWith(request.path_and_query,
                               "/apis/example.com/v1/namespaces/n/widgets/w/status?"))
      << request.path_and_query;
  EXPECT_TRUE(absl::StrContains(request.path_and_query, "fieldManager=cohort-operator"));
  EXPECT_TRUE(absl::StrContains(request.path_and_query, "force=true"));
  EXPECT_EQ(json::parse(request.body), json({{"apiVersion", "example.com/v1"},
                                             {"kind", "Widget"},
                                             {"metadata", {{"name", "w"}, {"namespace", "n"}}},
                                             {"status", status}}));

  // The object as read back: same status, so no write; the same conditions set again change
  // nothing either.
  live["status"] = status;
  clock.Advance(absl::Minutes(5));
  json again = live["status"];
  EXPECT_FALSE(*SetCondition(again["conditions"], "Ready", ConditionStatus::kTrue, "Available", "",
                             4, clock));
  wrote = ApplyStatusIfChanged(client, widgets, live, again, "cohort-operator");
  ASSERT_TRUE(wrote.ok());
  EXPECT_FALSE(*wrote);
  EXPECT_EQ(echo->requests().size(), 1u);

  // A new message is a change.
  EXPECT_TRUE(*SetCondition(again["conditions"], "Ready", ConditionStatus::kTrue, "Available",
                            "all good", 4, clock));
  wrote = ApplyStatusIfChanged(client, widgets, live, again, "cohort-operator");
  ASSERT_TRUE(wrote.ok());
  EXPECT_TRUE(*wrote);
  EXPECT_EQ(echo->requests().size(), 2u);

  EXPECT_FALSE(ApplyStatusIfChanged(client, widgets, json::object(), status, "m").ok());
}

}  // namespace
}  // namespace cohort::op
