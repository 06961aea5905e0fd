// KubeClient against the real API server: every verb, typed errors, pagination, watch streams,
// server-side apply, token auth without RBAC, and a kube-apiserver restart under a live client.
#include "operator/kube_client.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/cpprest_transport.h"
#include "operator/kube_config.h"
#include "operator/watch_decoder.h"
#include "tests/support/control_plane.h"
#include "tests/support/wait.h"

namespace cohort::op {
namespace {

using ::cohort::testing::ControlPlaneTest;
using ::cohort::testing::WaitFor;
using nlohmann::json;

constexpr char kManager[] = "cohort-test";

json ConfigMap(const std::string& name, json data, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", data}};
}

class KubeClientIntegrationTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    client_ = NewClient(cp().kubeconfig());
    ASSERT_NE(client_, nullptr);
  }

  static std::unique_ptr<KubeClient> NewClient(const std::string& kubeconfig) {
    absl::StatusOr<RestConfig> config = LoadKubeconfig(kubeconfig);
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    return NewClientFor(*config);
  }
  static std::unique_ptr<KubeClient> NewClientFor(const RestConfig& config) {
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport = NewCpprestTransport(config);
    EXPECT_TRUE(transport.ok()) << transport.status();
    if (!transport.ok()) return nullptr;
    return std::make_unique<KubeClient>(*std::move(transport), KubeClientOptions{});
  }

  std::unique_ptr<KubeClient> client_;
};

TEST_F(KubeClientIntegrationTest, CreateGetUpdateDeleteWithTypedErrors) {
  const ResourceType& cm = resources::kConfigMaps;
  absl::StatusOr<json> created = client_->Create(cm, ns(), ConfigMap("a", {{"k", "1"}}));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(apierrors::IsAlreadyExists(client_->Create(cm, ns(), ConfigMap("a", {})).status()));

  absl::StatusOr<json> got = client_->Get(cm, ns(), "a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["k"], "1");

  json stale = *got;
  json fresh = *got;
  fresh["data"]["k"] = "2";
  ASSERT_TRUE(client_->Update(cm, ns(), fresh).ok());
  stale["data"]["k"] = "3";
  absl::Status conflict = client_->Update(cm, ns(), stale).status();
  EXPECT_TRUE(apierrors::IsConflict(conflict)) << conflict;

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  EXPECT_TRUE(apierrors::IsConflict(client_->Delete(cm, ns(), "a", wrong_uid).status()));
  DeleteOptions right_uid;
  right_uid.precondition_uid = (*got)["metadata"]["uid"];
  ASSERT_TRUE(client_->Delete(cm, ns(), "a", right_uid).ok());
  EXPECT_TRUE(apierrors::IsNotFound(client_->Get(cm, ns(), "a").status()));
  EXPECT_TRUE(apierrors::IsNotFound(client_->Delete(cm, ns(), "a").status()));
}

TEST_F(KubeClientIntegrationTest, InvalidObjectCarriesCauses) {
  absl::Status invalid =
      client_->Create(resources::kConfigMaps, ns(), ConfigMap("Not_A_Valid_Name", {})).status();
  ASSERT_TRUE(apierrors::IsInvalid(invalid)) << invalid;
  std::vector<Cause> causes = apierrors::Causes(invalid);
  ASSERT_FALSE(causes.empty());
  EXPECT_EQ(causes[0].field, "metadata.name");
}

TEST_F(KubeClientIntegrationTest, PatchesOfEveryKind) {
  const ResourceType& cm = resources::kConfigMaps;
  ASSERT_TRUE(client_->Create(cm, ns(), ConfigMap("p", {{"a", "1"}})).ok());
  ASSERT_TRUE(client_->Patch(cm, ns(), "p", PatchType::kMerge, R"({"data":{"b":"2"}})").ok());
  ASSERT_TRUE(
      client_->Patch(cm, ns(), "p", PatchType::kJson, R"([{"op":"remove","path":"/data/a"}])")
          .ok());
  ASSERT_TRUE(
      client_->Patch(cm, ns(), "p", PatchType::kStrategicMerge, R"({"data":{"c":"3"}})").ok());
  absl::StatusOr<json> got = client_->Get(cm, ns(), "p");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["data"], json({{"b", "2"}, {"c", "3"}}));
}

TEST_F(KubeClientIntegrationTest, ServerSideApplyIsIdempotent) {
  const ResourceType& cm = resources::kConfigMaps;
  json desired = ConfigMap("ssa", {{"k", "v"}}, {{"app", "x"}});
  absl::StatusOr<json> first = client_->Apply(cm, ns(), desired, kManager);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<json> second = client_->Apply(cm, ns(), desired, kManager);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*first)["metadata"]["resourceVersion"], (*second)["metadata"]["resourceVersion"])
      << "re-applying the same fields writes nothing";
  bool managed = false;
  for (const json& entry : (*second)["metadata"]["managedFields"]) {
    managed |= entry["manager"] == kManager && entry["operation"] == "Apply";
  }
  EXPECT_TRUE(managed);

  // Another manager's conflicting apply without force is refused, with force it wins.
  json other = ConfigMap("ssa", {{"k", "other"}});
  absl::Status conflict = client_->Apply(cm, ns(), other, "someone-else", /*force=*/false).status();
  EXPECT_TRUE(apierrors::IsConflict(conflict)) << conflict;
  EXPECT_TRUE(client_->Apply(cm, ns(), other, "someone-else", /*force=*/true).ok());
}

TEST_F(KubeClientIntegrationTest, ListWithSelectorsAndPages) {
  const ResourceType& cm = resources::kConfigMaps;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        client_->Create(cm, ns(), ConfigMap(absl::StrCat("l", i), {}, {{"set", "mine"}})).ok());
  }
  ASSERT_TRUE(client_->Create(cm, ns(), ConfigMap("other", {}, {{"set", "theirs"}})).ok());
  ListOptions options;
  options.label_selector = "set=mine";
  options.limit = 2;
  absl::StatusOr<ListPage> first = client_->List(cm, ns(), options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->items.size(), 2u);
  EXPECT_FALSE(first->continue_token.empty());
  absl::StatusOr<ListPage> all = client_->ListAll(cm, ns(), options);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->items.size(), 5u);
  EXPECT_FALSE(all->resource_version.empty());
  options.label_selector = "set in (mine,theirs)";
  options.field_selector = "metadata.name=other";
  all = client_->ListAll(cm, ns(), options);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->items.size(), 1u);
  EXPECT_EQ(all->items[0]["metadata"]["name"], "other");
}

TEST_F(KubeClientIntegrationTest, WatchStreamsEventsAndBookmarks) {
  const ResourceType& cm = resources::kConfigMaps;
  absl::StatusOr<ListPage> start = client_->ListAll(cm, ns(), {});
  ASSERT_TRUE(start.ok()) << start.status();
  WatchOptions options;
  options.resource_version = start->resource_version;
  options.timeout_seconds = 30;
  absl::StatusOr<std::unique_ptr<HttpStream>> stream = client_->Watch(cm, ns(), options);
  ASSERT_TRUE(stream.ok()) << stream.status();

  ASSERT_TRUE(client_->Create(cm, ns(), ConfigMap("w", {{"k", "1"}})).ok());
  ASSERT_TRUE(client_->Patch(cm, ns(), "w", PatchType::kMerge, R"({"data":{"k":"2"}})").ok());
  ASSERT_TRUE(client_->Delete(cm, ns(), "w").ok());

  WatchDecoder decoder;
  std::vector<WatchEventType> types;
  absl::Status seen = WaitFor("ADDED, MODIFIED, DELETED on the watch", absl::Seconds(30), [&] {
    absl::StatusOr<std::string> chunk = (*stream)->Read(absl::Seconds(1));
    if (chunk.ok()) decoder.Feed(*chunk);
    while (std::optional<WatchEvent> e = decoder.Next()) {
      if (e->type != WatchEventType::kBookmark) types.push_back(e->type);
    }
    return types.size() >= 3;
  });
  ASSERT_TRUE(seen.ok()) << seen;
  EXPECT_EQ(types, (std::vector<WatchEventType>{WatchEventType::kAdded, WatchEventType::kModified,
                                                WatchEventType::kDeleted}));
  (*stream)->Cancel();
  EXPECT_EQ((*stream)->Read(absl::Seconds(1)).status().code(), absl::StatusCode::kCancelled);
}

TEST_F(KubeClientIntegrationTest, QuietWatchReadTimesOutAndStaysUsable) {
  WatchOptions options;
  options.timeout_seconds = 60;
  absl::StatusOr<ListPage> start = client_->ListAll(resources::kSecrets, ns(), {});
  ASSERT_TRUE(start.ok());
  options.resource_version = start->resource_version;
  absl::StatusOr<std::unique_ptr<HttpStream>> stream =
      client_->Watch(resources::kSecrets, ns(), options);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ((*stream)->Read(absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(client_
                  ->Create(resources::kSecrets, ns(),
                           {{"metadata", {{"name", "s"}}}, {"stringData", {{"k", "v"}}}})
                  .ok());
  WatchDecoder decoder;
  absl::Status seen = WaitFor("the ADDED secret after a read timeout", absl::Seconds(20), [&] {
    absl::StatusOr<std::string> chunk = (*stream)->Read(absl::Seconds(1));
    if (chunk.ok()) decoder.Feed(*chunk);
    std::optional<WatchEvent> e = decoder.Next();
    return e.has_value() && e->type == WatchEventType::kAdded;
  });
  EXPECT_TRUE(seen.ok()) << seen;
}

TEST_F(KubeClientIntegrationTest, ResolvesKindsByDiscovery) {
  absl::StatusOr<ResourceType> t = client_->Resolve("apps", "v1", "StatefulSet");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, resources::kStatefulSets);
  t = client_->Resolve("", "v1", "Namespace");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->namespaced);
  EXPECT_EQ(client_->Resolve("apps", "v1", "NoSuchKind").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KubeClientIntegrationTest, BearerTokenWithoutRbacIsForbidden) {
  ASSERT_TRUE(Kubectl({"create", "serviceaccount", "nobody"}).ok());
  absl::StatusOr<std::string> token = Kubectl({"create", "token", "nobody"});
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<RestConfig> config = LoadKubeconfig(cp().kubeconfig());
  ASSERT_TRUE(config.ok());
  config->client_cert_pem.clear();
  config->client_key_pem.clear();
  config->token = TokenSource::Static(std::string(absl::StripAsciiWhitespace(*token)));
  std::unique_ptr<KubeClient> nobody = NewClientFor(*config);
  ASSERT_NE(nobody, nullptr);
  absl::Status forbidden = nobody->Get(resources::kConfigMaps, ns(), "x").status();
  EXPECT_TRUE(apierrors::IsForbidden(forbidden)) << forbidden;
  EXPECT_TRUE(absl::StrContains(forbidden.message(), "system:serviceaccount:" + ns() + ":nobody"))
      << forbidden;
  EXPECT_FALSE(absl::StrContains(forbidden.ToString(), *token)) << "no token in errors";
}

TEST_F(KubeClientIntegrationTest, CarriesOnAcrossAnApiServerRestart) {
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, ns(), ConfigMap("r", {})).ok());
  ASSERT_TRUE(cp().RestartComponent("kube-apiserver").ok());
  // The pooled connection died with the server; the next request reconnects (retrying reads).
  absl::StatusOr<json> got = client_->Get(resources::kConfigMaps, ns(), "r");
  EXPECT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(client_->Create(resources::kConfigMaps, ns(), ConfigMap("r2", {})).ok());
}

}  // namespace
}  // namespace cohort::op
