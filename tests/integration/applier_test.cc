// The apply helpers against the real API server, whose defaulting and normalisation the no-op
// check must survive: children of every kind a reconciler makes are applied, then applied again
// with no write (proved with the audit log); a change is one write; a child dropped from the
// desired set is pruned; an immutable change recreates; deleting the owner garbage-collects the
// children; a status is written through the status subresource only when it changed.
#include "operator/applier.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/conditions.h"
#include "operator/cpprest_transport.h"
#include "operator/kube_config.h"
#include "tests/support/audit_log.h"
#include "tests/support/control_plane.h"
#include "tests/support/wait.h"

namespace cohort::op {
namespace {

using ::cohort::testing::AuditEvent;
using ::cohort::testing::ControlPlaneTest;
using ::cohort::testing::ReadAuditLog;
using ::cohort::testing::WaitFor;
using nlohmann::json;

// Every request of this test's client carries this user agent, so the audit log tells its writes
// from the controllers' and kubectl's.
constexpr char kUserAgent[] = "cohort-applier-integration-test";
constexpr char kMarkPrefix[] = "audit-mark-";

json ServiceAccount() {
  return json::parse(R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"web"},
                         "automountServiceAccountToken":false})");
}

json ConfigMap(const std::string& name, json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}}},
          {"data", std::move(data)}};
}

json Service() {
  return json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
    "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080}]}})");
}

// Quantities in the forms the server rewrites ("0.5" → "500m", "1000m" → "1"), an empty env
// value and a false readOnly (dropped by omitempty), an empty emptyDir and securityContext.
json Deployment() {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","labels":{"app":"web"}},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"serviceAccountName":"web","securityContext":{},
          "containers":[{"name":"app","image":"example.invalid/web:1","args":["--port=8080"],
            "ports":[{"name":"http","containerPort":8080}],
            "env":[{"name":"EMPTY","value":""},{"name":"MODE","value":"prod"}],
            "resources":{"requests":{"cpu":"0.5","memory":"1Gi"},
                         "limits":{"cpu":"1000m","memory":"1073741824"}},
            "volumeMounts":[{"name":"scratch","mountPath":"/scratch","readOnly":false}]}],
          "volumes":[{"name":"scratch","emptyDir":{}}]}}}})");
}

// Numeric quantities (0.25 cpu, 2 cpu), a fractional binary one ("1.5Gi" → "1536Mi") and
// volumeClaimTemplates, which the server fills with apiVersion, kind, volumeMode and status.
json StatefulSet(const std::string& app = "db") {
  json sts = json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},
    "spec":{"serviceName":"db","replicas":1,"selector":{"matchLabels":{"app":"APP"}},
      "template":{"metadata":{"labels":{"app":"APP"}},
        "spec":{"containers":[{"name":"db","image":"example.invalid/db:1",
          "resources":{"requests":{"cpu":0.25,"memory":"512Mi"},"limits":{"cpu":2,"memory":"1.5Gi"}},
          "volumeMounts":[{"name":"data","mountPath":"/data"}]}]}},
      "volumeClaimTemplates":[{"metadata":{"name":"data"},
        "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}})");
  sts["spec"]["selector"]["matchLabels"]["app"] = app;
  sts["spec"]["template"]["metadata"]["labels"]["app"] = app;
  return sts;
}

json PodDisruptionBudget() {
  return json::parse(R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget",
    "metadata":{"name":"web"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}})");
}

class ApplierIntegrationTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    absl::StatusOr<RestConfig> config = LoadKubeconfig(cp().kubeconfig());
    ASSERT_TRUE(config.ok()) << config.status();
    CpprestTransportOptions transport_options;
    transport_options.user_agent = kUserAgent;
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport =
        NewCpprestTransport(*config, transport_options);
    ASSERT_TRUE(transport.ok()) << transport.status();
    client_ = std::make_unique<KubeClient>(*std::move(transport), KubeClientOptions{});
    applier_ = std::make_unique<Applier>(*client_);

    absl::StatusOr<json> owner =
        client_->Create(resources::kConfigMaps, ns(), ConfigMap("owner", {{"role", "owner"}}));
    ASSERT_TRUE(owner.ok()) << owner.status();
    absl::StatusOr<Owner> o = Owner::FromObject(*owner);
    ASSERT_TRUE(o.ok()) << o.status();
    owner_ = *o;
    WritesSinceLastMark();  // start counting from here
  }

  ApplySummary MustApply(const ChildSet& children) {
    ApplySummary summary;
    absl::Status s = applier_->Apply(owner_, children, summary);
    EXPECT_TRUE(s.ok()) << s;
    return summary;
  }

  // Makes a marker write, waits until the audit log has it, and returns this client's writes in
  // this namespace logged since the previous marker (markers excluded), in log order.
  std::vector<AuditEvent> WritesSinceLastMark() {
    const std::string previous = marks_ == 0 ? "" : absl::StrCat(kMarkPrefix, marks_);
    const std::string mark = absl::StrCat(kMarkPrefix, ++marks_);
    absl::Status made = client_->Create(resources::kConfigMaps, ns(), ConfigMap(mark, {})).status();
    EXPECT_TRUE(made.ok()) << made;
    std::vector<AuditEvent> writes;
    absl::Status logged = WaitFor("marker " + mark + " in the audit log", absl::Seconds(30), [&] {
      absl::StatusOr<std::vector<AuditEvent>> events = ReadAuditLog(cp().audit_log());
      if (!events.ok()) return false;
      writes.clear();
      bool counting = previous.empty();
      for (AuditEvent& e : *events) {
        if (e.namespace_ != ns() || e.user_agent != kUserAgent) continue;
        if (e.resource == "configmaps" && e.name == previous) counting = true;
        if (e.resource == "configmaps" && e.name == mark) return counting;
        if (counting && e.name.rfind(kMarkPrefix, 0) != 0) writes.push_back(std::move(e));
      }
      return false;
    });
    EXPECT_TRUE(logged.ok()) << logged;
    return writes;
  }

  static std::string Describe(const std::vector<AuditEvent>& events) {
    std::string out;
    for (const AuditEvent& e : events) {
      absl::StrAppend(&out, "\n  ", e.verb, " ", e.resource, e.subresource.empty() ? "" : "/",
                      e.subresource, " ", e.name, " -> ", e.code);
    }
    return out;
  }

  std::unique_ptr<KubeClient> client_;
  std::unique_ptr<Applier> applier_;
  Owner owner_;
  int marks_ = 0;
};

TEST_F(ApplierIntegrationTest, SecondApplyOfEveryKindWritesNothing) {
  ChildSet children{
      {ServiceAccount(), ConfigMap("config", {{"config.yaml", "a: 1\n"}, {"empty", ""}}), Service(),
       Deployment(), StatefulSet(), PodDisruptionBudget()},
      {resources::kServiceAccounts, resources::kConfigMaps, resources::kServices,
       resources::kDeployments, resources::kStatefulSets, resources::kPodDisruptionBudgets},
      // The owner and the audit markers are ConfigMaps too, but not owned.
      nullptr};
  ApplySummary first = MustApply(children);
  EXPECT_EQ(first.Count(ApplyAction::kCreated), 6);
  std::vector<AuditEvent> writes = WritesSinceLastMark();
  EXPECT_EQ(writes.size(), 6u) << Describe(writes);
  for (const AuditEvent& e : writes) EXPECT_EQ(e.verb, "patch") << Describe(writes);

  // Let the controllers act on the children first (status, revision annotations, PVCs, pods), so
  // the second apply compares against objects as they settle.
  ASSERT_TRUE(WaitFor("the Deployment and StatefulSet controllers to observe generation 1",
                      absl::Seconds(60),
                      [&] {
                        absl::StatusOr<json> d = client_->Get(resources::kDeployments, ns(), "web");
                        absl::StatusOr<json> s = client_->Get(resources::kStatefulSets, ns(), "db");
                        const json::json_pointer observed("/status/observedGeneration");
                        return d.ok() && s.ok() && d->value(observed, 0) == 1 &&
                               s->value(observed, 0) == 1;
                      })
                  .ok());

  ApplySummary second = MustApply(children);
  EXPECT_EQ(second.Count(ApplyAction::kUnchanged), 6);
  for (const ApplyOutcome& o : second.outcomes) {
    EXPECT_EQ(o.action, ApplyAction::kUnchanged) << o.kind << " " << o.name << ": " << o.detail;
  }
  writes = WritesSinceLastMark();
  EXPECT_TRUE(writes.empty()) << "at rest the applier writes nothing:" << Describe(writes);

  // The live objects hold the server's canonical forms the comparison had to see through.
  absl::StatusOr<json> deployment = client_->Get(resources::kDeployments, ns(), "web");
  ASSERT_TRUE(deployment.ok());
  const json& container = (*deployment)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["resources"]["requests"]["cpu"], "500m");
  EXPECT_EQ(container["resources"]["limits"]["cpu"], "1");
  EXPECT_FALSE(container["env"][0].contains("value"));
  absl::StatusOr<json> sts = client_->Get(resources::kStatefulSets, ns(), "db");
  ASSERT_TRUE(sts.ok());
  EXPECT_EQ((*sts)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "1536Mi");
  EXPECT_EQ((*sts)["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "250m");

  // Children are marked as owned.
  const json& meta = (*deployment)["metadata"];
  EXPECT_EQ(meta["labels"][kOwnerUidLabel], owner_.uid);
  EXPECT_EQ(meta["labels"][kManagedByLabel], kDefaultFieldManager);
  ASSERT_EQ(meta["ownerReferences"].size(), 1u);
  EXPECT_EQ(meta["ownerReferences"][0]["uid"], owner_.uid);
  EXPECT_EQ(meta["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(meta["ownerReferences"][0]["blockOwnerDeletion"], true);
}

TEST_F(ApplierIntegrationTest, ChangesWriteOnceAndDroppedChildrenArePruned) {
  const std::vector<ResourceType> owned = {resources::kConfigMaps, resources::kServices};
  ApplySummary summary = MustApply({{ConfigMap("a", {{"k", "1"}}), ConfigMap("b", {{"k", "1"}}),
                                     ConfigMap("keep-me", {{"k", "1"}}), Service()},
                                    owned,
                                    nullptr});
  EXPECT_EQ(summary.Count(ApplyAction::kCreated), 4);
  WritesSinceLastMark();

  // One changed field: one write. A dropped child: one delete. A kept one: nothing.
  const auto keep = [](const json& live) { return live["metadata"]["name"] == "keep-me"; };
  summary = MustApply({{ConfigMap("a", {{"k", "2"}}), Service()}, owned, keep});
  EXPECT_EQ(summary.Count(ApplyAction::kUpdated), 1);
  EXPECT_EQ(summary.Count(ApplyAction::kPruned), 1);
  EXPECT_EQ(summary.Count(ApplyAction::kUnchanged), 1);
  std::vector<AuditEvent> writes = WritesSinceLastMark();
  ASSERT_EQ(writes.size(), 2u) << Describe(writes);
  EXPECT_EQ(writes[0].verb, "patch");
  EXPECT_EQ(writes[0].name, "a");
  EXPECT_EQ(writes[1].verb, "delete");
  EXPECT_EQ(writes[1].name, "b");
  EXPECT_TRUE(apierrors::IsNotFound(client_->Get(resources::kConfigMaps, ns(), "b").status()));
  EXPECT_TRUE(client_->Get(resources::kConfigMaps, ns(), "keep-me").ok());
  EXPECT_TRUE(client_->Get(resources::kConfigMaps, ns(), "owner").ok()) << "not owned, not pruned";
  absl::StatusOr<json> a = client_->Get(resources::kConfigMaps, ns(), "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)["data"]["k"], "2");

  // A removed field is applied away (the hash annotation notices what a subset check cannot).
  summary = MustApply({{ConfigMap("a", json::object()), Service()}, owned, keep});
  EXPECT_EQ(summary.Count(ApplyAction::kUpdated), 1);
  a = client_->Get(resources::kConfigMaps, ns(), "a");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE((*a).contains("data") && (*a)["data"].contains("k"));

  // Drift made by someone else is repaired; then the set is at rest again.
  ASSERT_TRUE(client_
                  ->Patch(resources::kServices, ns(), "web", PatchType::kMerge,
                          R"({"spec":{"selector":{"app":"hijacked"}}})")
                  .ok());
  WritesSinceLastMark();
  summary = MustApply({{ConfigMap("a", json::object()), Service()}, owned, keep});
  ASSERT_EQ(summary.Count(ApplyAction::kUpdated), 1);
  EXPECT_EQ(summary.outcomes[1].detail, "spec.selector.app");
  absl::StatusOr<json> service = client_->Get(resources::kServices, ns(), "web");
  ASSERT_TRUE(service.ok());
  EXPECT_EQ((*service)["spec"]["selector"]["app"], "web");
  summary = MustApply({{ConfigMap("a", json::object()), Service()}, owned, keep});
  EXPECT_FALSE(summary.Changed());
  writes = WritesSinceLastMark();
  ASSERT_EQ(writes.size(), 1u) << Describe(writes);
  EXPECT_EQ(writes[0].resource, "services");
}

TEST_F(ApplierIntegrationTest, ImmutableStatefulSetSelectorIsRecreated) {
  const std::vector<ResourceType> owned = {resources::kStatefulSets};
  MustApply({{StatefulSet("db")}, owned, nullptr});
  absl::StatusOr<json> before = client_->Get(resources::kStatefulSets, ns(), "db");
  ASSERT_TRUE(before.ok());
  WritesSinceLastMark();

  ApplySummary summary = MustApply({{StatefulSet("db-v2")}, owned, nullptr});
  ASSERT_EQ(summary.outcomes.size(), 1u);
  EXPECT_EQ(summary.outcomes[0].action, ApplyAction::kRecreated) << summary.outcomes[0].detail;
  absl::StatusOr<json> after = client_->Get(resources::kStatefulSets, ns(), "db");
  ASSERT_TRUE(after.ok());
  EXPECT_NE((*after)["metadata"]["uid"], (*before)["metadata"]["uid"]);
  EXPECT_EQ((*after)["spec"]["selector"]["matchLabels"]["app"], "db-v2");

  // The refused apply, the delete and the apply that created it again.
  std::vector<AuditEvent> writes = WritesSinceLastMark();
  ASSERT_EQ(writes.size(), 3u) << Describe(writes);
  EXPECT_EQ(writes[0].verb, "patch");
  EXPECT_EQ(writes[0].code, 422);
  EXPECT_EQ(writes[1].verb, "delete");
  EXPECT_EQ(writes[2].verb, "patch");
  EXPECT_EQ(writes[2].code, 201);

  EXPECT_FALSE(MustApply({{StatefulSet("db-v2")}, owned, nullptr}).Changed());
}

TEST_F(ApplierIntegrationTest, ServiceTurnedHeadlessIsRecreated) {
  MustApply({{Service()}, {resources::kServices}, nullptr});
  json headless = Service();
  headless["spec"]["clusterIP"] = "None";
  ApplySummary summary = MustApply({{headless}, {resources::kServices}, nullptr});
  ASSERT_EQ(summary.outcomes.size(), 1u);
  EXPECT_EQ(summary.outcomes[0].action, ApplyAction::kRecreated);
  absl::StatusOr<json> service = client_->Get(resources::kServices, ns(), "web");
  ASSERT_TRUE(service.ok());
  EXPECT_EQ((*service)["spec"]["clusterIP"], "None");
  EXPECT_FALSE(MustApply({{headless}, {resources::kServices}, nullptr}).Changed());
}

TEST_F(ApplierIntegrationTest, DeletingTheOwnerGarbageCollectsTheChildren) {
  MustApply({{ConfigMap("config", {{"k", "v"}}), Service(), Deployment()}, {}, nullptr});
  DeleteOptions options;
  options.propagation = Propagation::kBackground;
  ASSERT_TRUE(client_->Delete(resources::kConfigMaps, ns(), "owner", options).ok());
  absl::Status collected =
      WaitFor("the garbage collector to delete the children", absl::Seconds(90), [&] {
        return apierrors::IsNotFound(
                   client_->Get(resources::kConfigMaps, ns(), "config").status()) &&
               apierrors::IsNotFound(client_->Get(resources::kServices, ns(), "web").status()) &&
               apierrors::IsNotFound(client_->Get(resources::kDeployments, ns(), "web").status());
      });
  EXPECT_TRUE(collected.ok()) << collected;
}

// A namespaced custom resource with a status subresource and list-map conditions, as ours have.
constexpr char kProbeGroup[] = "applier-test.cohort.dev";

json ProbeCrd() {
  return json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"applierprobes.applier-test.cohort.dev"},
    "spec":{"group":"applier-test.cohort.dev","scope":"Namespaced",
      "names":{"kind":"ApplierProbe","plural":"applierprobes","singular":"applierprobe",
               "listKind":"ApplierProbeList"},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
          "status":{"type":"object","properties":{
            "observedGeneration":{"type":"integer","format":"int64"},
            "conditions":{"type":"array","x-kubernetes-list-type":"map",
              "x-kubernetes-list-map-keys":["type"],
              "items":{"type":"object",
                "required":["type","status","lastTransitionTime","reason","message"],
                "properties":{
                  "type":{"type":"string"},
                  "status":{"type":"string","enum":["True","False","Unknown"]},
                  "observedGeneration":{"type":"integer","format":"int64","minimum":0},
                  "lastTransitionTime":{"type":"string","format":"date-time"},
                  "reason":{"type":"string"},
                  "message":{"type":"string"}}}}}}}}}}]}})");
}

TEST_F(ApplierIntegrationTest, StatusIsWrittenOnlyWhenItChanges) {
  // The CRD is cluster-scoped and left in place: applying it is idempotent, so reruns and other
  // runs against the same control plane share it.
  absl::StatusOr<json> crd =
      client_->Apply(resources::kCustomResourceDefinitions, "", ProbeCrd(), kDefaultFieldManager);
  ASSERT_TRUE(crd.ok()) << crd.status();
  ASSERT_TRUE(WaitFor("the CRD to be established", absl::Seconds(60), [&] {
                absl::StatusOr<json> got = client_->Get(resources::kCustomResourceDefinitions, "",
                                                        "applierprobes.applier-test.cohort.dev");
                return got.ok() &&
                       IsConditionTrue(got->value(json::json_pointer("/status/conditions"), json()),
                                       "Established");
              }).ok());
  ResourceType probes;
  ASSERT_TRUE(WaitFor("discovery to serve ApplierProbe", absl::Seconds(60), [&] {
                absl::StatusOr<ResourceType> t =
                    client_->Resolve(kProbeGroup, "v1", "ApplierProbe");
                if (t.ok()) probes = *t;
                return t.ok();
              }).ok());

  absl::StatusOr<json> created = client_->Create(probes, ns(),
                                                 {{"apiVersion", probes.ApiVersion()},
                                                  {"kind", "ApplierProbe"},
                                                  {"metadata", {{"name", "p"}}},
                                                  {"spec", {{"size", 1}}}});
  ASSERT_TRUE(created.ok()) << created.status();
  const int64_t generation = (*created)["metadata"]["generation"];
  SimulatedClock clock(absl::Now());
  WritesSinceLastMark();

  // Reconcile 1: a new status.
  json status = (*created).value("status", json::object());
  status["observedGeneration"] = generation;
  ASSERT_TRUE(*SetCondition(status["conditions"], "Ready", ConditionStatus::kFalse, "Progressing",
                            "starting", generation, clock));
  absl::StatusOr<bool> wrote =
      ApplyStatusIfChanged(*client_, probes, *created, status, kDefaultFieldManager);
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_TRUE(*wrote);
  absl::StatusOr<json> live = client_->Get(probes, ns(), "p");
  ASSERT_TRUE(live.ok());
  const json first_conditions = (*live)["status"]["conditions"];
  ASSERT_EQ(first_conditions.size(), 1u);
  const std::string first_transition = first_conditions[0]["lastTransitionTime"];

  // Reconcile 2, nothing new: no write.
  clock.Advance(absl::Minutes(1));
  status = (*live)["status"];
  EXPECT_FALSE(*SetCondition(status["conditions"], "Ready", ConditionStatus::kFalse, "Progressing",
                             "starting", generation, clock));
  wrote = ApplyStatusIfChanged(*client_, probes, *live, status, kDefaultFieldManager);
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_FALSE(*wrote);

  // Reconcile 3, a new message: a write that keeps the transition time.
  clock.Advance(absl::Minutes(1));
  EXPECT_TRUE(*SetCondition(status["conditions"], "Ready", ConditionStatus::kFalse, "Progressing",
                            "pods starting", generation, clock));
  wrote = ApplyStatusIfChanged(*client_, probes, *live, status, kDefaultFieldManager);
  ASSERT_TRUE(wrote.ok());
  EXPECT_TRUE(*wrote);
  live = client_->Get(probes, ns(), "p");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ((*live)["status"]["conditions"][0]["message"], "pods starting");
  EXPECT_EQ((*live)["status"]["conditions"][0]["lastTransitionTime"], first_transition);

  // Reconcile 4, Ready: a write with a new transition time.
  clock.Advance(absl::Minutes(1));
  status = (*live)["status"];
  EXPECT_TRUE(*SetCondition(status["conditions"], "Ready", ConditionStatus::kTrue, "Available", "",
                            generation, clock));
  wrote = ApplyStatusIfChanged(*client_, probes, *live, status, kDefaultFieldManager);
  ASSERT_TRUE(wrote.ok());
  EXPECT_TRUE(*wrote);
  live = client_->Get(probes, ns(), "p");
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(IsConditionTrue((*live)["status"]["conditions"], "Ready"));
  EXPECT_EQ((*live)["status"]["conditions"][0]["lastTransitionTime"],
            FormatConditionTime(clock.Now()));
  EXPECT_NE((*live)["status"]["conditions"][0]["lastTransitionTime"], first_transition);

  // Reconcile 5, at rest again: no write.
  status = (*live)["status"];
  EXPECT_FALSE(*SetCondition(status["conditions"], "Ready", ConditionStatus::kTrue, "Available", "",
                             generation, clock));
  wrote = ApplyStatusIfChanged(*client_, probes, *live, status, kDefaultFieldManager);
  ASSERT_TRUE(wrote.ok());
  EXPECT_FALSE(*wrote);

  std::vector<AuditEvent> writes = WritesSinceLastMark();
  ASSERT_EQ(writes.size(), 3u) << Describe(writes);
  for (const AuditEvent& e : writes) {
    EXPECT_EQ(e.verb, "patch");
    EXPECT_EQ(e.subresource, "status");
    EXPECT_EQ(e.code, 200);
  }
  EXPECT_EQ((*live)["metadata"]["generation"], generation) << "status writes leave the spec alone";
}

}  // namespace
}  // namespace cohort::op
