// KubeClient's request building, retries and error typing against a scripted transport. The real
// API server is exercised in tests/integration/kube_client_test.cc.
#include "operator/kube_client.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/testing/fake_transport.h"

namespace cohort::op {
namespace {

using nlohmann::json;

std::string StatusBody(int code, const std::string& reason, const std::string& message,
                       int retry_after = 0) {
  json s = {{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
            {"message", message}, {"reason", reason},   {"code", code}};
  if (retry_after > 0) s["details"]["retryAfterSeconds"] = retry_after;
  return s.dump();
}

class KubeClientTest : public ::testing::Test {
 protected:
  KubeClientTest() {
    auto t = std::make_unique<testing::FakeTransport>(clock_);
    transport_ = t.get();
    KubeClientOptions options;
    options.qps = 1000;
    options.burst = 1000;
    client_ = std::make_unique<KubeClient>(std::move(t), options, clock_);
  }

  // The client sleeps on the simulated clock between retries; advance it whenever it waits.
  template <typename F>
  auto WithClockDriver(F&& f) {
    std::atomic<bool> done{false};
    std::thread driver([&] {
      while (!done.load()) {
        if (clock_.waiters() > 0) clock_.Advance(absl::Seconds(1));
        std::this_thread::yield();
      }
    });
    auto result = f();
    done = true;
    driver.join();
    return result;
  }

  SimulatedClock clock_;
  testing::FakeTransport* transport_;  // answers requests from a script, in order
  std::unique_ptr<KubeClient> client_;
};

TEST_F(KubeClientTest, GetBuildsThePathAndParsesTheObject) {
  transport_->Reply(200, R"({"kind":"ConfigMap","metadata":{"name":"a"}})");
  absl::StatusOr<json> obj = client_->Get(resources::kConfigMaps, "ns", "a");
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ((*obj)["metadata"]["name"], "a");
  ASSERT_EQ(transport_->requests().size(), 1u);
  EXPECT_EQ(transport_->requests()[0].request.method, "GET");
  EXPECT_EQ(transport_->requests()[0].request.path_and_query, "/api/v1/namespaces/ns/configmaps/a");
}

TEST_F(KubeClientTest, NotFoundIsTypedAndNotRetried) {
  transport_->Reply(404, StatusBody(404, "NotFound", "configmaps \"a\" not found"));
  absl::StatusOr<json> obj = client_->Get(resources::kConfigMaps, "ns", "a");
  EXPECT_TRUE(apierrors::IsNotFound(obj.status())) << obj.status();
  EXPECT_EQ(transport_->requests().size(), 1u);
}

TEST_F(KubeClientTest, ListEscapesSelectorsAndFillsKinds) {
  transport_->Reply(200, R"({"metadata":{"resourceVersion":"42","continue":"tok"},
                            "items":[{"metadata":{"name":"a"}}]})");
  ListOptions options;
  options.label_selector = "app=web,tier in (a,b)";
  options.limit = 10;
  absl::StatusOr<ListPage> page = client_->List(resources::kDeployments, "ns", options);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->resource_version, "42");
  EXPECT_EQ(page->continue_token, "tok");
  EXPECT_EQ(page->items[0]["kind"], "Deployment");
  EXPECT_EQ(page->items[0]["apiVersion"], "apps/v1");
  EXPECT_EQ(
      transport_->requests()[0].request.path_and_query,
      "/apis/apps/v1/namespaces/ns/deployments?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"
      "&limit=10");
}

TEST_F(KubeClientTest, ListAllFollowsContinueTokens) {
  transport_->Reply(200,
                    R"({"metadata":{"resourceVersion":"7","continue":"p2"},"items":[{"a":1}]})");
  transport_->Reply(200, R"({"metadata":{"resourceVersion":"7"},"items":[{"a":2},{"a":3}]})");
  ListOptions options;
  options.limit = 1;
  absl::StatusOr<ListPage> all = client_->ListAll(resources::kConfigMaps, "", options);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->resource_version, "7");
  EXPECT_TRUE(absl::StrContains(transport_->requests()[1].request.path_and_query, "continue=p2"));
}

TEST_F(KubeClientTest, ListAllRestartsWhenTheContinueTokenExpires) {
  transport_->Reply(200,
                    R"({"metadata":{"resourceVersion":"7","continue":"old"},"items":[{"a":1}]})");
  transport_->Reply(410, StatusBody(410, "Expired",
                                    "The provided continue parameter is too old to display a "
                                    "consistent list result."));
  transport_->Reply(200, R"({"metadata":{"resourceVersion":"9"},"items":[{"a":1},{"a":2}]})");
  ListOptions options;
  options.limit = 1;
  absl::StatusOr<ListPage> all = client_->ListAll(resources::kConfigMaps, "", options);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->items.size(), 2u) << "items of the expired snapshot are discarded";
  EXPECT_EQ(all->resource_version, "9");
  EXPECT_FALSE(absl::StrContains(transport_->requests()[2].request.path_and_query, "continue="));
}

TEST_F(KubeClientTest, TooManyRequestsIsRetriedAfterRetryAfterForWrites) {
  transport_->Reply(429, StatusBody(429, "TooManyRequests", "slow down", 3),
                    {{"retry-after", "3"}});
  transport_->Reply(201, R"({"metadata":{"name":"a"}})");
  const absl::Time start = clock_.Now();
  absl::StatusOr<json> created = WithClockDriver([&] {
    return client_->Create(resources::kConfigMaps, "ns", {{"metadata", {{"name", "a"}}}});
  });
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(transport_->requests().size(), 2u);
  EXPECT_GE(clock_.Now() - start, absl::Seconds(3));
}

TEST_F(KubeClientTest, ServerErrorsAreRetriedForReadsOnly) {
  transport_->Reply(503, "<html>unavailable</html>");
  transport_->Reply(200, R"({"metadata":{"name":"a"}})");
  absl::StatusOr<json> got =
      WithClockDriver([&] { return client_->Get(resources::kConfigMaps, "ns", "a"); });
  EXPECT_TRUE(got.ok()) << got.status();

  transport_->Reply(503, "<html>unavailable</html>");
  absl::StatusOr<json> created =
      client_->Create(resources::kConfigMaps, "ns", {{"metadata", {{"name", "b"}}}});
  EXPECT_FALSE(created.ok());
  EXPECT_EQ(transport_->requests().size(), 3u) << "a POST that may have happened is not repeated";
}

TEST_F(KubeClientTest, ConnectionFailuresGiveUpAfterMaxAttempts) {
  for (int i = 0; i < 5; ++i) {
    transport_->Fail(FromTransportError(TransportFailure::kConnection, "connection refused"));
  }
  absl::StatusOr<json> got =
      WithClockDriver([&] { return client_->Get(resources::kConfigMaps, "ns", "a"); });
  EXPECT_TRUE(apierrors::IsConnectionFailure(got.status())) << got.status();
  EXPECT_EQ(transport_->requests().size(), 5u);
}

TEST_F(KubeClientTest, ApplyUsesApplyPatchWithFieldManagerAndForce) {
  transport_->Reply(200, R"({"metadata":{"name":"a"}})");
  json obj = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "a"}}}};
  ASSERT_TRUE(client_->Apply(resources::kConfigMaps, "ns", obj, "cohort-operator").ok());
  const std::vector<testing::RecordedRequest> requests = transport_->requests();
  const HttpRequest& r = requests[0].request;
  EXPECT_EQ(r.method, "PATCH");
  EXPECT_EQ(r.path_and_query,
            "/api/v1/namespaces/ns/configmaps/a?force=true&fieldManager=cohort-operator");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "application/apply-patch+yaml");
  EXPECT_EQ(json::parse(r.body), obj);
}

TEST_F(KubeClientTest, ApplyStatusTargetsTheSubresource) {
  transport_->Reply(200, R"({})");
  json obj = {{"metadata", {{"name", "p"}}}, {"status", {{"x", 1}}}};
  ASSERT_TRUE(client_->Apply(resources::kDeployments, "ns", obj, "m", true, "status").ok());
  EXPECT_TRUE(absl::StartsWith(transport_->requests()[0].request.path_and_query,
                               "/apis/apps/v1/namespaces/ns/deployments/p/status?"));
}

TEST_F(KubeClientTest, ApplyWithoutNameOrManagerIsRejectedLocally) {
  EXPECT_EQ(client_->Apply(resources::kConfigMaps, "ns", json::object(), "m").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      client_->Patch(resources::kConfigMaps, "ns", "a", PatchType::kApply, "{}").status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(transport_->requests().empty());
}

TEST_F(KubeClientTest, DeleteSendsPropagationAndPreconditions) {
  transport_->Reply(200, R"({"kind":"Status","status":"Success"})");
  DeleteOptions options;
  options.propagation = Propagation::kForeground;
  options.precondition_uid = "u-1";
  options.precondition_resource_version = "5";
  ASSERT_TRUE(client_->Delete(resources::kConfigMaps, "ns", "a", options).ok());
  json body = json::parse(transport_->requests()[0].request.body);
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["uid"], "u-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "5");
}

TEST_F(KubeClientTest, ConflictOnUpdateIsTyped) {
  transport_->Reply(409, StatusBody(409, "Conflict",
                                    "Operation cannot be fulfilled on configmaps \"a\": the object "
                                    "has been modified; please apply your changes to the latest "
                                    "version and try again"));
  absl::StatusOr<json> updated = client_->Update(
      resources::kConfigMaps, "ns", {{"metadata", {{"name", "a"}, {"resourceVersion", "1"}}}});
  EXPECT_TRUE(apierrors::IsConflict(updated.status())) << updated.status();
  EXPECT_EQ(transport_->requests()[0].request.method, "PUT");
}

TEST_F(KubeClientTest, ResolveFindsAKindByDiscoveryAndCachesIt) {
  transport_->Reply(200, R"({"resources":[
      {"name":"analyticspipelines","kind":"AnalyticsPipeline","namespaced":true},
      {"name":"analyticspipelines/status","kind":"AnalyticsPipeline","namespaced":true}]})");
  absl::StatusOr<ResourceType> t = client_->Resolve("cohort.dev", "v1alpha1", "AnalyticsPipeline");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->resource, "analyticspipelines");
  EXPECT_TRUE(t->namespaced);
  EXPECT_EQ(transport_->requests()[0].request.path_and_query, "/apis/cohort.dev/v1alpha1");
  ASSERT_TRUE(client_->Resolve("cohort.dev", "v1alpha1", "AnalyticsPipeline").ok());
  EXPECT_EQ(transport_->requests().size(), 1u) << "second lookup served from the cache";
}

TEST_F(KubeClientTest, ResolveUnknownKindRereadsOnceThenNotFound) {
  transport_->Reply(200, R"({"resources":[]})");
  transport_->Reply(200, R"({"resources":[]})");
  EXPECT_EQ(client_->Resolve("", "v1", "Nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Resolve("", "v1", "Nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(transport_->requests().size(), 2u);
}

TEST_F(KubeClientTest, ObserverSeesEveryExchange) {
  std::vector<std::pair<std::string, int>> seen;
  client_->SetRequestObserver([&](const std::string& method, int code, absl::Duration) {
    seen.emplace_back(method, code);
  });
  transport_->Reply(500, "oops");
  transport_->Reply(200, "{}");
  ASSERT_TRUE(WithClockDriver([&] { return client_->Get(resources::kPods, "ns", "p"); }).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(std::string("GET"), 500));
  EXPECT_EQ(seen[1], std::make_pair(std::string("GET"), 200));
}

}  // namespace
}  // namespace cohort::op
