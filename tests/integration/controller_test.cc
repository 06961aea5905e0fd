// A controller against the real API server: an update that loses a race (409 Conflict, because
// someone else wrote the object between the reconcile's read and its write) is returned as an
// error, the work queue retries the key after its backoff, and the retry — reading afresh —
// succeeds without losing the other writer's change.
#include "operator/controller.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/cpprest_transport.h"
#include "operator/kube_client.h"
#include "operator/kube_config.h"
#include "tests/support/control_plane.h"
#include "tests/support/wait.h"

namespace cohort::op {
namespace {

using ::cohort::testing::ControlPlaneTest;
using ::cohort::testing::WaitFor;
using nlohmann::json;

class ControllerIntegrationTest : public ControlPlaneTest {
 protected:
  std::unique_ptr<KubeClient> NewClient() {
    absl::StatusOr<RestConfig> config = LoadKubeconfig(cp().kubeconfig());
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport = NewCpprestTransport(*config);
    EXPECT_TRUE(transport.ok()) << transport.status();
    if (!transport.ok()) return nullptr;
    return std::make_unique<KubeClient>(*std::move(transport), KubeClientOptions{});
  }
};

TEST_F(ControllerIntegrationTest, AnUpdateConflictIsRetriedThroughTheQueue) {
  std::unique_ptr<KubeClient> client = NewClient();
  std::unique_ptr<KubeClient> rival = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(rival, nullptr);
  const ResourceType& cm = resources::kConfigMaps;
  ASSERT_TRUE(client
                  ->Create(cm, ns(),
                           {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata", {{"name", "counter"}}},
                            {"data", {{"reconciled", "0"}}}})
                  .ok());

  std::atomic<int> attempts{0};
  std::atomic<int> conflicts{0};
  std::atomic<bool> done{false};
  // The reconcile marks the object as reconciled with a read-modify-write Update. On its first
  // attempt a rival writes in between, so the Update carries a stale resourceVersion.
  Controller controller(
      "conflict-test",
      [&](const std::string& key) {
        const int attempt = ++attempts;
        const std::string name = key.substr(key.find('/') + 1);
        absl::StatusOr<json> live = client->Get(cm, ns(), name);
        if (!live.ok()) return ReconcileResult::Error(live.status());
        if (attempt == 1) {
          absl::Status rival_write =
              rival->Patch(cm, ns(), name, PatchType::kMerge, R"({"data":{"rival":"was here"}})")
                  .status();
          if (!rival_write.ok()) return ReconcileResult::Error(rival_write);
        }
        json desired = *live;
        desired["data"]["reconciled"] = "1";
        absl::Status updated = client->Update(cm, ns(), desired).status();
        if (apierrors::IsConflict(updated)) ++conflicts;
        if (!updated.ok()) return ReconcileResult::Error(updated);
        done = true;
        return ReconcileResult::Done();
      },
      RealClock::Get());
  ASSERT_TRUE(controller.Start(1).ok());
  controller.Enqueue(absl::StrCat(ns(), "/counter"));

  ASSERT_TRUE(WaitFor("the retried reconcile to succeed", absl::Seconds(30), [&] {
                return done.load();
              }).ok());
  EXPECT_EQ(attempts.load(), 2);
  EXPECT_EQ(conflicts.load(), 1);
  absl::StatusOr<json> final_object = client->Get(cm, ns(), "counter");
  ASSERT_TRUE(final_object.ok());
  EXPECT_EQ((*final_object)["data"]["reconciled"], "1");
  EXPECT_EQ((*final_object)["data"]["rival"], "was here") << "the retry overwrote the rival";
  // Success forgets the key's backoff: nothing is left queued.
  EXPECT_EQ(controller.queue().Len(), 0);
  controller.Stop(absl::Now() + absl::Seconds(5));
}

}  // namespace
}  // namespace cohort::op
