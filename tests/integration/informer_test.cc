// Informers against the real API server: sync and events, indexes, namespace scoping,
// metadata-only caching, exactness across a kube-apiserver restart, a real 410 Gone after
// compaction (relist delivers the differences), and a stalled connection noticed and replaced.
#include "operator/informer.h"

#include <signal.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/cpprest_transport.h"
#include "operator/kube_config.h"
#include "tests/support/control_plane.h"
#include "tests/support/wait.h"

namespace cohort::op {
namespace {

using ::cohort::testing::ControlPlaneTest;
using ::cohort::testing::WaitFor;
using nlohmann::json;

const ResourceType kPodTemplates{"", "v1", "podtemplates", "PodTemplate", true};

json ConfigMap(const std::string& name, const std::string& value, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", {{"k", value}}}};
}

json PodTemplate(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "PodTemplate"},
          {"metadata", {{"name", name}}},
          {"template",
           {{"spec", {{"containers", {{{"name", "c"}, {"image", "example.invalid/x"}}}}}}}}};
}

// Records handler calls.
struct Recorder {
  absl::Mutex mu;
  std::vector<std::string> events ABSL_GUARDED_BY(mu);  // "add:ns/name", "update:...", "delete:..."

  InformerHandler Handler() {
    return {[this](const ObjectPtr& o) { Add("add:" + ObjectKey(*o)); },
            [this](const ObjectPtr&, const ObjectPtr& o) { Add("update:" + ObjectKey(*o)); },
            [this](const ObjectPtr& o) { Add("delete:" + ObjectKey(*o)); }};
  }
  void Add(std::string e) {
    absl::MutexLock lock(&mu);
    events.push_back(std::move(e));
  }
  bool Saw(const std::string& e) {
    absl::MutexLock lock(&mu);
    return std::find(events.begin(), events.end(), e) != events.end();
  }
};

class InformerIntegrationTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    client_ = NewClient({});
  }

  std::unique_ptr<KubeClient> NewClient(const CpprestTransportOptions& transport_options) {
    absl::StatusOr<RestConfig> config = LoadKubeconfig(cp().kubeconfig());
    EXPECT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport =
        NewCpprestTransport(*config, transport_options);
    EXPECT_TRUE(transport.ok()) << transport.status();
    return std::make_unique<KubeClient>(*std::move(transport), KubeClientOptions{});
  }

  InformerOptions Options(const ResourceType& type) {
    InformerOptions options;
    options.type = type;
    options.namespaces = {ns()};
    options.initial_backoff = absl::Milliseconds(200);
    return options;
  }

  // The cache holds exactly what the server lists, at the same resourceVersions.
  ::testing::AssertionResult CacheMatchesServer(Informer& informer, const ResourceType& type) {
    absl::StatusOr<ListPage> page = client_->ListAll(type, ns(), {});
    if (!page.ok()) return ::testing::AssertionFailure() << page.status();
    std::map<std::string, std::string> server, cache;
    for (const json& item : page->items) {
      server[ObjectKey(item)] = item["metadata"]["resourceVersion"];
    }
    for (const ObjectPtr& o : informer.List(ns())) {
      cache[ObjectKey(*o)] = (*o)["metadata"]["resourceVersion"];
    }
    if (server == cache) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "server has " << server.size() << " objects, cache " << cache.size();
  }

  absl::Status WaitExact(Informer& informer, const ResourceType& type) {
    return WaitFor(
        "cache to match the server", absl::Seconds(60),
        [&] { return static_cast<bool>(CacheMatchesServer(informer, type)); },
        absl::Milliseconds(200));
  }

  std::unique_ptr<KubeClient> client_;
};

TEST_F(InformerIntegrationTest, SyncsAndDeliversEveryChange) {
  const ResourceType& cm = resources::kConfigMaps;
  ASSERT_TRUE(client_->Create(cm, ns(), ConfigMap("before", "1")).ok());
  Informer informer(*client_, Options(cm));
  Recorder rec;
  informer.AddHandler(rec.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Now() + absl::Seconds(30)));
  EXPECT_TRUE(rec.Saw("add:" + ns() + "/before"));

  ASSERT_TRUE(client_->Create(cm, ns(), ConfigMap("during", "1")).ok());
  ASSERT_TRUE(client_->Patch(cm, ns(), "before", PatchType::kMerge, R"({"data":{"k":"2"}})").ok());
  ASSERT_TRUE(client_->Delete(cm, ns(), "during").ok());
  ASSERT_TRUE(WaitFor("delete of 'during'", absl::Seconds(30), [&] {
                return rec.Saw("delete:" + ns() + "/during");
              }).ok());
  EXPECT_TRUE(rec.Saw("add:" + ns() + "/during"));
  EXPECT_TRUE(rec.Saw("update:" + ns() + "/before"));
  ObjectPtr before = informer.Get(ns(), "before");
  ASSERT_NE(before, nullptr);
  EXPECT_EQ((*before)["data"]["k"], "2");
  EXPECT_FALSE((*before)["metadata"].contains("managedFields")) << "stripped before caching";
  EXPECT_EQ(informer.Get(ns(), "during"), nullptr);
  EXPECT_TRUE(CacheMatchesServer(informer, cm));
}

TEST_F(InformerIntegrationTest, IndexesByOwnerAndCustomFunction) {
  const ResourceType& cm = resources::kConfigMaps;
  absl::StatusOr<json> owner = client_->Create(cm, ns(), ConfigMap("owner", "x"));
  ASSERT_TRUE(owner.ok());
  const std::string uid = (*owner)["metadata"]["uid"];
  json child = ConfigMap("child", "y", {{"tier", "gold"}});
  child["metadata"]["ownerReferences"] = {
      {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "owner"}, {"uid", uid}}};
  ASSERT_TRUE(client_->Create(cm, ns(), child).ok());

  Informer informer(*client_, Options(cm));
  informer.AddIndex("tier", [](const json& o) {
    std::vector<std::string> v;
    if (o["metadata"].contains("labels") && o["metadata"]["labels"].contains("tier")) {
      v.push_back(o["metadata"]["labels"]["tier"]);
    }
    return v;
  });
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Now() + absl::Seconds(30)));
  std::vector<ObjectPtr> owned = informer.ByIndex(kOwnerUidIndex, uid);
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ((**owned.begin())["metadata"]["name"], "child");
  EXPECT_EQ(informer.ByIndex("tier", "gold").size(), 1u);
  EXPECT_EQ(informer.List(ns()).size(), informer.Size());
}

TEST_F(InformerIntegrationTest, WatchesOnlyTheListedNamespaces) {
  const ResourceType& cm = resources::kConfigMaps;
  const std::string other = ns() + "-b";
  ASSERT_TRUE(cp().Kubectl({"create", "namespace", other}).ok());
  const std::string unwatched = ns() + "-c";
  ASSERT_TRUE(cp().Kubectl({"create", "namespace", unwatched}).ok());
  InformerOptions options = Options(cm);
  options.namespaces = {ns(), other};
  Informer informer(*client_, options);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Now() + absl::Seconds(30)));
  ASSERT_TRUE(client_->Create(cm, other, ConfigMap("in-b", "1")).ok());
  ASSERT_TRUE(client_->Create(cm, unwatched, ConfigMap("in-c", "1")).ok());
  ASSERT_TRUE(client_->Create(cm, ns(), ConfigMap("in-a", "1")).ok());
  ASSERT_TRUE(WaitFor("both watched namespaces", absl::Seconds(30), [&] {
                return informer.Get(ns(), "in-a") != nullptr &&
                       informer.Get(other, "in-b") != nullptr;
              }).ok());
  EXPECT_EQ(informer.Get(unwatched, "in-c"), nullptr);
  EXPECT_TRUE(informer.ByIndex(kNamespaceIndex, unwatched).empty());
  EXPECT_TRUE(cp().Kubectl({"delete", "namespace", other, unwatched, "--wait=false"}).ok());
}

TEST_F(InformerIntegrationTest, MetadataOnlyNeverHoldsSecretValues) {
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "api-keys"}, {"labels", {{"app", "x"}}}}},
                 {"stringData", {{"key", "s3cr3t-value"}}}};
  ASSERT_TRUE(client_->Create(resources::kSecrets, ns(), secret).ok());
  InformerOptions options = Options(resources::kSecrets);
  options.metadata_only = true;
  Informer informer(*client_, options);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Now() + absl::Seconds(30)));
  ObjectPtr cached = informer.Get(ns(), "api-keys");
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ((*cached)["kind"], "PartialObjectMetadata");
  EXPECT_EQ((*cached)["metadata"]["labels"]["app"], "x");
  EXPECT_FALSE(cached->contains("data"));
  EXPECT_EQ(cached->dump().find("s3cr3t"), std::string::npos);
  // Watch events are metadata too.
  ASSERT_TRUE(client_
                  ->Patch(resources::kSecrets, ns(), "api-keys", PatchType::kMerge,
                          R"({"stringData":{"key":"rotated-value"}})")
                  .ok());
  ASSERT_TRUE(WaitFor("the rotated secret's new resourceVersion", absl::Seconds(30), [&] {
                ObjectPtr o = informer.Get(ns(), "api-keys");
                return o != nullptr && (*o)["metadata"]["resourceVersion"] !=
                                           (*cached)["metadata"]["resourceVersion"];
              }).ok());
  EXPECT_EQ(informer.Get(ns(), "api-keys")->dump().find("rotated"), std::string::npos);
}

TEST_F(InformerIntegrationTest, StaysExactAcrossAnApiServerRestart) {
  const ResourceType& cm = resources::kConfigMaps;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Create(cm, ns(), ConfigMap(absl::StrCat("r", i), "1")).ok());
  }
  Informer informer(*client_, Options(cm));
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Now() + absl::Seconds(30)));
  ASSERT_TRUE(cp().RestartComponent("kube-apiserver").ok());
  // The client's pooled connection died with the server; a write on it fails once (writes are
  // not retried by the client, a controller's requeue does that), so retry like a controller.
  auto eventually = [](const char* what, const std::function<absl::Status()>& write) {
    return WaitFor(what, absl::Seconds(30), [&] {
      absl::Status s = write();
      return s.ok() || apierrors::IsNotFound(s) || apierrors::IsAlreadyExists(s);
    });
  };
  ASSERT_TRUE(
      eventually("delete r0", [&] { return client_->Delete(cm, ns(), "r0").status(); }).ok());
  ASSERT_TRUE(
      eventually("patch r1", [&] {
        return client_->Patch(cm, ns(), "r1", PatchType::kMerge, R"({"data":{"k":"2"}})").status();
      }).ok());
  ASSERT_TRUE(eventually("create r5", [&] {
                return client_->Create(cm, ns(), ConfigMap("r5", "1")).status();
              }).ok());
  absl::Status exact = WaitExact(informer, cm);
  EXPECT_TRUE(exact.ok()) << exact;
}

// A real 410: the informer is cut off (kube-apiserver stopped), objects change and etcd is
// compacted while it waits out its backoff, so its resourceVersion is gone when it comes back.
// podtemplates have no watch cache in the shared control plane (tests/CMakeLists.txt), so the
// 410 comes from etcd's compaction, as it would for a client that fell behind.
TEST_F(InformerIntegrationTest, RelistsAfterGoneAndDeliversTheDifferences) {
  for (const char* name : {"keep", "change", "drop"}) {
    ASSERT_TRUE(client_->Create(kPodTemplates, ns(), PodTemplate(name)).ok());
  }
  InformerOptions options = Options(kPodTemplates);
  options.initial_backoff = absl::Seconds(25);  // the window for writes and compaction
  options.max_backoff = absl::Seconds(25);
  Informer informer(*client_, options);
  Recorder rec;
  informer.AddHandler(rec.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Now() + absl::Seconds(30)));

  ASSERT_TRUE(cp().StopComponent("kube-apiserver").ok());
  ASSERT_TRUE(cp().StartComponent("kube-apiserver").ok());
  std::unique_ptr<KubeClient> writer = NewClient({});
  ASSERT_TRUE(writer->Delete(kPodTemplates, ns(), "drop").ok());
  ASSERT_TRUE(writer
                  ->Patch(kPodTemplates, ns(), "change", PatchType::kMerge,
                          R"({"metadata":{"labels":{"changed":"yes"}}})")
                  .ok());
  ASSERT_TRUE(writer->Create(kPodTemplates, ns(), PodTemplate("new")).ok());
  absl::StatusOr<std::string> compacted =
      ::cohort::testing::RunCommandOk({::cohort::testing::CpctlPath(), "compact", cp().dir()});
  ASSERT_TRUE(compacted.ok()) << compacted.status();

  absl::Status relisted = WaitFor(
      "a relist after 410", absl::Seconds(90),
      [&] { return informer.stats().relists_after_gone >= 1; }, absl::Milliseconds(200));
  ASSERT_TRUE(relisted.ok()) << relisted;
  absl::Status exact = WaitExact(informer, kPodTemplates);
  EXPECT_TRUE(exact.ok()) << exact;
  EXPECT_TRUE(rec.Saw("delete:" + ns() + "/drop"));
  EXPECT_TRUE(rec.Saw("update:" + ns() + "/change"));
  EXPECT_TRUE(rec.Saw("add:" + ns() + "/new"));
}

// A connection that goes silent (the API server frozen with SIGSTOP: the socket stays open, no
// bytes flow, no bookmark comes) is declared dead after the stall timeout and replaced.
TEST_F(InformerIntegrationTest, NoticesAStalledConnection) {
  CpprestTransportOptions transport;
  transport.stream_header_timeout = absl::Seconds(3);
  std::unique_ptr<KubeClient> client = NewClient(transport);
  InformerOptions options = Options(resources::kConfigMaps);
  options.stall_timeout = absl::Seconds(3);
  options.min_watch_timeout = absl::Minutes(5);
  Informer informer(*client, options);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Now() + absl::Seconds(30)));

  // Freeze the server only once the watch stream is established.
  ASSERT_TRUE(WaitFor("an open watch", absl::Seconds(30), [&] {
                return informer.stats().watches_open >= 1;
              }).ok());
  std::ifstream pidfile(cp().dir() + "/pids/kube-apiserver");
  pid_t apiserver = 0;
  pidfile >> apiserver;
  ASSERT_GT(apiserver, 0);
  ASSERT_EQ(kill(apiserver, SIGSTOP), 0);
  absl::Status stalled = WaitFor("the stall to be noticed", absl::Seconds(30),
                                 [&] { return informer.stats().stalls >= 1; });
  ASSERT_EQ(kill(apiserver, SIGCONT), 0);
  ASSERT_TRUE(stalled.ok()) << stalled << "; watches " << informer.stats().watches;

  ASSERT_TRUE(client_->Create(resources::kConfigMaps, ns(), ConfigMap("after-stall", "1")).ok());
  absl::Status seen = WaitFor("the new watch to deliver", absl::Seconds(60),
                              [&] { return informer.Get(ns(), "after-stall") != nullptr; });
  EXPECT_TRUE(seen.ok()) << seen;
}

}  // namespace
}  // namespace cohort::op
