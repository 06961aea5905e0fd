// Proves the test control plane is a real one: CRDs establish, controllers run Deployments and
// StatefulSets (kwok makes their pods Ready), claims bind, garbage collection works, clients carry
// on across a kube-apiserver restart, the audit log records writes, and a control plane never
// outlives the test binary that started it.
#include "tests/support/control_plane.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/support/audit_log.h"
#include "tests/support/subprocess.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace {

constexpr char kHoldEnv[] = "COHORT_TEST_HOLD_CONTROL_PLANE";

std::string Deployment(const std::string& name, int replicas) {
  return absl::StrCat(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: )",
                      name, R"(}
spec:
  replicas: )",
                      replicas, R"(
  selector: {matchLabels: {app: )",
                      name, R"(}}
  template:
    metadata: {labels: {app: )",
                      name, R"(}}
    spec:
      containers:
      - {name: main, image: registry.invalid/none:1}
)");
}

class ControlPlaneChainTest : public ControlPlaneTest {};

TEST_F(ControlPlaneChainTest, CrdBecomesEstablishedAndServesObjects) {
  const std::string group = absl::StrCat(ns(), ".test.cohort.dev");
  const std::string crd_name = absl::StrCat("widgets.", group);
  const std::string crd = absl::StrCat(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: )",
                                       crd_name, R"(}
spec:
  group: )",
                                       group, R"(
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
)");
  ASSERT_TRUE(cp().Kubectl({"apply", "-f", "-"}, crd).ok());
  absl::StatusOr<std::string> out =
      cp().Kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/" + crd_name});
  ASSERT_TRUE(out.ok()) << out.status();

  const std::string widget = absl::StrCat(
      "apiVersion: ", group, "/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n");
  ASSERT_TRUE(Kubectl({"apply", "-f", "-"}, widget).ok());
  out = Kubectl({"get", "widgets." + group, "w1", "-o", "jsonpath={.spec.size}"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "3");
  // The schema is enforced by the real API server.
  absl::StatusOr<std::string> bad =
      Kubectl({"apply", "-f", "-"},
              absl::StrCat("apiVersion: ", group,
                           "/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 0}\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "spec.size")) << bad.status();
  EXPECT_TRUE(cp().Kubectl({"delete", "crd", crd_name, "--wait=false"}).ok());
}

TEST_F(ControlPlaneChainTest, DeploymentBecomesAvailableWithRunningPods) {
  ASSERT_TRUE(Kubectl({"apply", "-f", "-"}, Deployment("web", 3)).ok());
  absl::StatusOr<std::string> out =
      Kubectl({"rollout", "status", "deployment/web", "--timeout=120s"});
  ASSERT_TRUE(out.ok()) << out.status();
  out = Kubectl({"wait", "--for=condition=Available", "--timeout=30s", "deployment/web"});
  ASSERT_TRUE(out.ok()) << out.status();
  out = Kubectl({"get", "pods", "-l", "app=web", "-o",
                 "jsonpath={range .items[*]}{.status.phase} {.spec.nodeName}{\"\\n\"}{end}"});
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<std::string> lines = absl::StrSplit(absl::StripTrailingAsciiWhitespace(*out), '\n');
  ASSERT_EQ(lines.size(), 3u) << *out;
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "Running kwok-node-")) << line;
  }
}

TEST_F(ControlPlaneChainTest, StatefulSetWithVolumeClaimBecomesReady) {
  const std::string sts = R"(
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: main
        image: registry.invalid/none:1
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
)";
  ASSERT_TRUE(Kubectl({"apply", "-f", "-"}, sts).ok());
  absl::StatusOr<std::string> out =
      Kubectl({"rollout", "status", "statefulset/db", "--timeout=180s"});
  ASSERT_TRUE(out.ok()) << out.status();
  out = Kubectl({"get", "pvc", "-o",
                 "jsonpath={range .items[*]}{.metadata.name}={.status.phase}{\"\\n\"}{end}"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(absl::StrContains(*out, "data-db-0=Bound")) << *out;
  EXPECT_TRUE(absl::StrContains(*out, "data-db-1=Bound")) << *out;
}

TEST_F(ControlPlaneChainTest, GarbageCollectorRemovesDependentsOfADeletedOwner) {
  ASSERT_TRUE(Kubectl({"create", "configmap", "owner"}).ok());
  absl::StatusOr<std::string> uid =
      Kubectl({"get", "configmap", "owner", "-o", "jsonpath={.metadata.uid}"});
  ASSERT_TRUE(uid.ok()) << uid.status();
  const std::string dependent = absl::StrCat(R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: dependent
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: )",
                                             *uid, R"(}
data: {k: v}
)");
  ASSERT_TRUE(Kubectl({"apply", "-f", "-"}, dependent).ok());
  ASSERT_TRUE(Kubectl({"delete", "configmap", "owner"}).ok());
  absl::Status gone = WaitFor(
      "dependent to be garbage-collected", absl::Seconds(60),
      [&] {
        absl::StatusOr<std::string> out =
            Kubectl({"get", "configmap", "dependent", "--ignore-not-found", "-o", "name"});
        return out.ok() && out->empty();
      },
      absl::Milliseconds(500));
  EXPECT_TRUE(gone.ok()) << gone;
}

TEST_F(ControlPlaneChainTest, ClientsCarryOnAcrossAnApiServerRestart) {
  ASSERT_TRUE(Kubectl({"apply", "-f", "-"}, Deployment("before", 1)).ok());
  ASSERT_TRUE(Kubectl({"rollout", "status", "deployment/before", "--timeout=120s"}).ok());

  absl::Status restarted = cp().RestartComponent("kube-apiserver");
  ASSERT_TRUE(restarted.ok()) << restarted;

  // Data survived, and every long-lived client (controller-manager, scheduler, kwok) re-watched:
  // scaling the old Deployment and rolling out a new one both complete.
  ASSERT_TRUE(Kubectl({"get", "deployment", "before"}).ok());
  ASSERT_TRUE(Kubectl({"scale", "deployment/before", "--replicas=2"}).ok());
  ASSERT_TRUE(Kubectl({"apply", "-f", "-"}, Deployment("after", 2)).ok());
  absl::StatusOr<std::string> out =
      Kubectl({"rollout", "status", "deployment/before", "--timeout=120s"});
  EXPECT_TRUE(out.ok()) << out.status();
  out = Kubectl({"rollout", "status", "deployment/after", "--timeout=120s"});
  EXPECT_TRUE(out.ok()) << out.status();
}

TEST_F(ControlPlaneChainTest, AuditLogRecordsWrites) {
  ASSERT_TRUE(Kubectl({"create", "configmap", "audited", "--from-literal=k=v"}).ok());
  ASSERT_TRUE(Kubectl({"get", "configmap", "audited"}).ok());
  ASSERT_TRUE(Kubectl({"delete", "configmap", "audited"}).ok());
  std::vector<AuditEvent> mine;
  absl::Status found = WaitFor("create and delete in the audit log", absl::Seconds(30), [&] {
    absl::StatusOr<std::vector<AuditEvent>> events = ReadAuditLog(cp().audit_log());
    if (!events.ok()) return false;
    mine.clear();
    for (AuditEvent& e : *events) {
      if (e.namespace_ == ns() && e.resource == "configmaps" && e.name == "audited") {
        mine.push_back(std::move(e));
      }
    }
    return mine.size() >= 2;
  });
  ASSERT_TRUE(found.ok()) << found;
  ASSERT_EQ(mine.size(), 2u) << "the default policy records writes only, not the get";
  EXPECT_EQ(mine[0].verb, "create");
  EXPECT_EQ(mine[0].code, 201);
  EXPECT_EQ(mine[0].user, "cohort-admin");
  EXPECT_EQ(mine[1].verb, "delete");
}

// Several control planes can run at once, and one never outlives the binary that started it: a
// child copy of this binary starts its own, then is SIGKILLed; every process of it must go.
TEST(ControlPlaneLifetimeTest, DiesWithAKilledTestBinary) {
  const std::string handoff = ::testing::TempDir() + "/held-control-plane";
  std::filesystem::remove(handoff);
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  setenv(kHoldEnv, handoff.c_str(), 1);
  absl::StatusOr<std::unique_ptr<ChildProcess>> holder =
      ChildProcess::Spawn({self}, ::testing::TempDir() + "/holder.log", SIGKILL);
  unsetenv(kHoldEnv);
  ASSERT_TRUE(holder.ok()) << holder.status();

  std::string dir;
  absl::Status started = WaitFor(
      "the holder's control plane", absl::Minutes(4),
      [&] {
        std::ifstream in(handoff);
        return static_cast<bool>(std::getline(in, dir)) && !dir.empty();
      },
      absl::Milliseconds(500));
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::unique_ptr<ControlPlane>> held = ControlPlane::Attach(dir);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE((*held)->Kubectl({"get", "nodes"}).ok());
  absl::StatusOr<std::vector<pid_t>> pids = (*held)->Pids();
  ASSERT_TRUE(pids.ok()) << pids.status();
  ASSERT_EQ(pids->size(), 6u) << "supervisor and five components";

  kill((*holder)->pid(), SIGKILL);
  for (pid_t pid : *pids) {
    absl::Status dead = WaitFor(absl::StrCat("pid ", pid, " to exit"), absl::Seconds(60),
                                [&] { return !ProcessAlive(pid); });
    EXPECT_TRUE(dead.ok()) << dead;
  }
  std::filesystem::remove_all(dir);
}

// In the holder copy: start a control plane, publish its directory, wait to be killed.
int HoldControlPlane(const char* handoff) {
  absl::StatusOr<std::unique_ptr<ControlPlane>> cp = ControlPlane::Start({});
  if (!cp.ok()) {
    fprintf(stderr, "%s\n", std::string(cp.status().message()).c_str());
    return 1;
  }
  std::ofstream(std::string(handoff) + ".tmp") << (*cp)->dir() << "\n";
  std::filesystem::rename(std::string(handoff) + ".tmp", handoff);
  while (true) pause();
}

}  // namespace
}  // namespace cohort::testing

int main(int argc, char** argv) {
  if (const char* handoff = getenv(cohort::testing::kHoldEnv); handoff != nullptr) {
    return cohort::testing::HoldControlPlane(handoff);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
