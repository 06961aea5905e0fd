// AnalyticsPipeline end to end: the real cohort-operator binary against the real control plane,
// kwok running the pods, in a namespace that enforces the `restricted` Pod Security Standard.
// Apply a pipeline → children with owner references → pods Ready → Ready=True with the endpoint;
// change the spec → new config hash → rollout → status follows observedGeneration; delete a
// referenced Secret → Degraded naming it → restore it → Ready; restart the operator → it converges
// with no writes (audit log); delete the pipeline → children garbage-collected.
#include <signal.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/audit_log.h"
#include "tests/support/control_plane.h"
#include "tests/support/operator_process.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace {

using nlohmann::json;

std::string Source(const std::string& relative) {
  return absl::StrCat(COHORT_SOURCE_DIR, "/", relative);
}

bool Until(absl::Duration timeout, const std::function<bool()>& condition) {
  return WaitFor("condition", timeout, condition).ok();
}

class PipelineE2eTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    ASSERT_TRUE(Kubectl({"apply", "--server-side", "--force-conflicts", "-f",
                         Source("crds/cohort.dev_analyticspipelines.yaml")})
                    .ok());
    ASSERT_TRUE(Kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                         "crd/analyticspipelines.cohort.dev"})
                    .ok());
    ASSERT_TRUE(Kubectl({"label", "namespace", ns(),
                         "pod-security.kubernetes.io/enforce=restricted", "--overwrite"})
                    .ok());
  }

  std::unique_ptr<OperatorProcess> StartOperator(const std::string& name) {
    return OperatorProcess::Start(COHORT_OPERATOR_PATH,
                                  {"--kubeconfig=" + cp().kubeconfig(), "--namespaces=" + ns(),
                                   "--leader-elect", "--leader-election-namespace=" + ns()},
                                  absl::StrCat(::testing::TempDir(), "/", ns(), "-", name, ".log"));
  }

  json Get(const std::string& kind, const std::string& name) {
    absl::StatusOr<std::string> out =
        Kubectl({"get", kind, name, "--ignore-not-found", "-o", "json"});
    if (!out.ok() || out->empty()) return nullptr;
    return json::parse(*out, nullptr, false);
  }

  // The pipeline's condition `type` as "Status/Reason", or "".
  std::string Condition(const std::string& type) {
    json p = Get("analyticspipeline", "analytics");
    if (p.is_null() || p.is_discarded()) return "";
    for (const json& c : p.value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == type) {
        return absl::StrCat(c.value("status", ""), "/", c.value("reason", ""));
      }
    }
    return "";
  }

  // "type/reason" of every events.k8s.io Event about the pipeline.
  std::vector<std::string> PipelineEvents() {
    std::vector<std::string> out;
    absl::StatusOr<std::string> text =
        Kubectl({"get", "events.events.k8s.io", "-o", "json", "--field-selector",
                 "regarding.kind=AnalyticsPipeline,regarding.name=analytics"});
    if (!text.ok()) return out;
    json list = json::parse(*text, nullptr, false);
    if (!list.is_object()) return out;
    for (const json& e : list.value("items", json::array())) {
      out.push_back(absl::StrCat(e.value("type", ""), "/", e.value("reason", "")));
    }
    return out;
  }

  bool HasEvent(const std::string& type_reason) {
    for (const std::string& e : PipelineEvents()) {
      if (e == type_reason) return true;
    }
    return false;
  }

  std::string PipelineState() {
    json p = Get("analyticspipeline", "analytics");
    return p.is_null() ? "<none>" : p.value("status", json::object()).dump();
  }
};

TEST_F(PipelineE2eTest, FromApplyToReadyThroughChangesOutagesRestartsAndDeletion) {
  auto op = StartOperator("a");
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(
      Kubectl({"apply", "-f", Source("manifests/samples/analyticspipeline-minimal.yaml")}).ok());
  json pipeline = Get("analyticspipeline", "analytics");
  ASSERT_TRUE(pipeline.is_object());
  const std::string uid = pipeline["metadata"]["uid"];

  // Children exist, controlled by the pipeline.
  ASSERT_TRUE(Until(absl::Seconds(60), [&] { return Get("statefulset", "analytics").is_object(); }))
      << op->Log();
  for (const auto& [kind, name] :
       std::vector<std::pair<std::string, std::string>>{{"statefulset", "analytics"},
                                                        {"service", "analytics"},
                                                        {"service", "analytics-headless"},
                                                        {"serviceaccount", "analytics-ingest"}}) {
    json child = Get(kind, name);
    ASSERT_TRUE(child.is_object()) << kind << " " << name;
    ASSERT_EQ(child["metadata"]["ownerReferences"][0]["uid"], uid) << kind << " " << name;
    EXPECT_EQ(child["metadata"]["ownerReferences"][0]["controller"], true);
  }

  // kwok runs the pod (admitted under `restricted`); the pipeline becomes Ready.
  ASSERT_TRUE(Until(absl::Seconds(120), [&] { return Condition("Ready") == "True/Available"; }))
      << PipelineState() << "\n"
      << op->Log();
  pipeline = Get("analyticspipeline", "analytics");
  EXPECT_EQ(pipeline["status"]["endpoint"], absl::StrCat("http://analytics.", ns(), ".svc:8080"));
  EXPECT_EQ(pipeline["status"]["observedGeneration"], pipeline["metadata"]["generation"]);
  EXPECT_EQ(Condition("Degraded"), "False/AsExpected");
  const std::string first_hash = pipeline["status"]["configHash"];
  // What the operator did is told in Events on the pipeline.
  EXPECT_TRUE(Until(absl::Seconds(30), [&] { return HasEvent("Normal/Created"); }))
      << ::testing::PrintToString(PipelineEvents());

  // A spec change: a new config, a new hash, a rollout, and the status follows the generation.
  ASSERT_TRUE(Kubectl({"patch", "analyticspipeline", "analytics", "--type=merge", "-p",
                       R"({"spec":{"limits":{"maxConnections":2048}}})"})
                  .ok());
  ASSERT_TRUE(
      Until(absl::Seconds(120),
            [&] {
              json p = Get("analyticspipeline", "analytics");
              return p.is_object() &&
                     p.value("status", json::object()).value("observedGeneration", 0) == 2 &&
                     p.value("status", json::object()).value("configHash", "") != first_hash &&
                     Condition("Ready") == "True/Available" &&
                     Condition("Progressing") == "False/RolloutComplete";
            }))
      << PipelineState() << "\n"
      << op->Log();
  json sts = Get("statefulset", "analytics");
  EXPECT_EQ(sts["spec"]["template"]["metadata"]["annotations"]["cohort.dev/config-hash"],
            Get("analyticspipeline", "analytics")["status"]["configHash"]);

  // A deleted Secret: Degraded, naming it; restored: Ready again.
  absl::StatusOr<std::string> secret =
      Kubectl({"get", "secret", "analytics-api-keys", "-o", "json"});
  ASSERT_TRUE(secret.ok());
  ASSERT_TRUE(Kubectl({"delete", "secret", "analytics-api-keys"}).ok());
  ASSERT_TRUE(
      Until(absl::Seconds(60), [&] { return Condition("Degraded") == "True/SecretNotFound"; }))
      << PipelineState() << "\n"
      << op->Log();
  EXPECT_THAT(PipelineState(), ::testing::HasSubstr("analytics-api-keys"));
  EXPECT_TRUE(Until(absl::Seconds(30), [&] { return HasEvent("Warning/SecretNotFound"); }))
      << ::testing::PrintToString(PipelineEvents());
  json restored = json::parse(*secret);
  restored["metadata"].erase("resourceVersion");
  restored["metadata"].erase("uid");
  restored["metadata"].erase("creationTimestamp");
  restored["metadata"].erase("managedFields");
  ASSERT_TRUE(Kubectl({"create", "-f", "-"}, restored.dump()).ok());
  ASSERT_TRUE(Until(absl::Seconds(120),
                    [&] {
                      return Condition("Degraded") == "False/AsExpected" &&
                             Condition("Ready") == "True/Available";
                    }))
      << PipelineState() << "\n"
      << op->Log();

  // A restarted operator converges without writing anything (its Lease and Events aside).
  ASSERT_TRUE(Until(absl::Seconds(60),
                    [&] { return Condition("Progressing") == "False/RolloutComplete"; }));
  ASSERT_EQ(op->child().Stop(SIGTERM, absl::Seconds(40)), 0) << op->Log();
  absl::StatusOr<std::vector<AuditEvent>> before = ReadAuditLog(cp().audit_log());
  ASSERT_TRUE(before.ok());
  const size_t mark = before->size();
  auto op2 = StartOperator("b");
  ASSERT_NE(op2, nullptr);
  ASSERT_TRUE(Until(absl::Seconds(60), [&] {
    return op2->Metric("controller_runtime_reconcile_total",
                       {{"controller", "analyticspipeline"}, {"result", "success"}}) >= 1;
  })) << op2->Log();
  ASSERT_EQ(op2->child().Stop(SIGTERM, absl::Seconds(40)), 0) << op2->Log();
  absl::StatusOr<std::vector<AuditEvent>> after = ReadAuditLog(cp().audit_log());
  ASSERT_TRUE(after.ok());
  std::vector<std::string> writes;
  for (size_t i = mark; i < after->size(); ++i) {
    const AuditEvent& e = (*after)[i];
    if (e.namespace_ != ns() || !absl::StartsWith(e.user_agent, "cohort-operator")) continue;
    if (e.resource == "leases" || e.resource == "events") continue;
    if (e.verb == "create" || e.verb == "update" || e.verb == "patch" || e.verb == "delete") {
      writes.push_back(absl::StrCat(e.verb, " ", e.resource, "/", e.subresource, " ", e.name));
    }
  }
  EXPECT_THAT(writes, ::testing::IsEmpty());

  // Deleting the pipeline garbage-collects its children; the embedded data's volume stays
  // (reclaimPolicy defaults to Retain).
  ASSERT_TRUE(Get("persistentvolumeclaim", "data-analytics-0").is_object());
  ASSERT_TRUE(Kubectl({"delete", "analyticspipeline", "analytics", "--wait=true"}).ok());
  EXPECT_TRUE(Until(absl::Seconds(120), [&] {
    return !Get("statefulset", "analytics").is_object() &&
           !Get("service", "analytics").is_object() &&
           !Get("serviceaccount", "analytics-ingest").is_object();
  }));
  EXPECT_TRUE(Get("persistentvolumeclaim", "data-analytics-0").is_object())
      << "reclaimPolicy Retain must keep the data";
}

TEST_F(PipelineE2eTest, ReclaimPolicyDeleteRemovesTheDataWithThePipeline) {
  auto op = StartOperator("a");
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(
      Kubectl({"apply", "-f", Source("manifests/samples/analyticspipeline-minimal.yaml")}).ok());
  ASSERT_TRUE(Kubectl({"patch", "analyticspipeline", "analytics", "--type=merge", "-p",
                       R"({"spec":{"storage":{"embedded":{"reclaimPolicy":"Delete"}}}})"})
                  .ok());
  ASSERT_TRUE(Until(absl::Seconds(120),
                    [&] {
                      return Condition("Ready") == "True/Available" &&
                             Get("persistentvolumeclaim", "data-analytics-0").is_object();
                    }))
      << PipelineState() << "\n"
      << op->Log();
  ASSERT_TRUE(Kubectl({"delete", "analyticspipeline", "analytics", "--wait=true"}).ok());
  EXPECT_TRUE(Until(absl::Seconds(120), [&] {
    return !Get("statefulset", "analytics").is_object() &&
           !Get("persistentvolumeclaim", "data-analytics-0").is_object();
  })) << "reclaimPolicy Delete must remove the data volume";
}

TEST_F(PipelineE2eTest, AnOperatorKilledMidChangeConvergesWithoutDuplicateWrites) {
  auto op = StartOperator("a");
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(
      Kubectl({"apply", "-f", Source("manifests/samples/analyticspipeline-minimal.yaml")}).ok());
  ASSERT_TRUE(Until(absl::Seconds(120),
                    [&] {
                      return Condition("Ready") == "True/Available" &&
                             Condition("Progressing") == "False/RolloutComplete";
                    }))
      << PipelineState() << "\n"
      << op->Log();

  absl::StatusOr<std::vector<AuditEvent>> before = ReadAuditLog(cp().audit_log());
  ASSERT_TRUE(before.ok());
  const size_t mark = before->size();
  ASSERT_TRUE(Kubectl({"patch", "analyticspipeline", "analytics", "--type=merge", "-p",
                       R"({"spec":{"identity":{"sessionTimeout":"45m"}}})"})
                  .ok());
  // Kill it as soon as it has started on the change (the new config exists), wherever it is.
  ASSERT_TRUE(Until(absl::Seconds(60), [&] {
    absl::StatusOr<std::string> names =
        Kubectl({"get", "configmap", "-l", "app.kubernetes.io/instance=analytics", "-o", "name"});
    return names.ok() && std::count(names->begin(), names->end(), '\n') >= 2;
  }));
  op->child().Stop(SIGKILL, absl::Seconds(5));
  auto op2 = StartOperator("b");
  ASSERT_NE(op2, nullptr);
  ASSERT_TRUE(Until(absl::Seconds(120),
                    [&] {
                      json p = Get("analyticspipeline", "analytics");
                      return p.is_object() &&
                             p.value("status", json::object()).value("observedGeneration", 0) ==
                                 2 &&
                             Condition("Ready") == "True/Available" &&
                             Condition("Progressing") == "False/RolloutComplete";
                    }))
      << PipelineState() << "\n"
      << op2->Log();

  // Every child was written once for the change — never twice because of the restart — and the
  // status once per step of the rollout the StatefulSet reports (generation observed, pod
  // replaced, ready again: a handful), not in a loop.
  absl::StatusOr<std::vector<AuditEvent>> after = ReadAuditLog(cp().audit_log());
  ASSERT_TRUE(after.ok());
  std::map<std::string, int> writes;
  for (size_t i = mark; i < after->size(); ++i) {
    const AuditEvent& e = (*after)[i];
    if (e.namespace_ != ns() || !absl::StartsWith(e.user_agent, "cohort-operator")) continue;
    if (e.resource == "leases" || e.resource == "events") continue;
    if (e.verb == "create" || e.verb == "update" || e.verb == "patch" || e.verb == "delete") {
      ++writes[absl::StrCat(e.resource, "/", e.subresource, " ", e.name)];
    }
  }
  int status_writes = 0;
  for (const auto& [what, count] : writes) {
    if (absl::StrContains(what, "/status ")) {
      status_writes += count;
    } else {
      EXPECT_EQ(count, 1) << what << " written " << count << " times";
    }
  }
  EXPECT_LE(status_writes, 8) << ::testing::PrintToString(writes);
  EXPECT_EQ(writes.count("statefulsets/ analytics"), 1u) << ::testing::PrintToString(writes);
}

}  // namespace
}  // namespace cohort::testing
