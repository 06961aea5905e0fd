// The install methods against the real API server: `helm install` of charts/cohort-operator into a
// test namespace — watching all namespaces (ClusterRole) and a list of them (Roles) — and
// `kubectl apply --server-side -k manifests/default` into a control plane of its own (it installs
// the fixed namespace cohort-system and cluster-wide names). For each: every object is created, the
// operator Deployment's pod is admitted in a namespace that enforces the restricted Pod Security
// Standard (kwok then runs it as a fake), the operator's ServiceAccount may do what the operator
// needs and nothing else that the table asks (`kubectl auth can-i --as`; that the grants are
// exactly what the operator uses is tests/e2e/rbac_audit_test.cc, from the audit log), a sample
// pipeline is accepted, and the documented CRD upgrade (`kubectl apply --server-side
// --force-conflicts` of the chart's crds/) goes through. Renders and lint without a cluster:
// tools/installgen/install_test.py.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/control_plane.h"
#include "tests/support/subprocess.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kCrdName[] = "analyticspipelines.cohort.dev";

std::string SourcePath(const std::string& relative) {
  return absl::StrCat(COHORT_SOURCE_DIR, "/", relative);
}

// One question for `kubectl auth can-i` and the answer the operator's RBAC must give.
struct CanI {
  std::string verb;
  std::string resource;     // resource.group, as kubectl takes it
  std::string namespace_;   // "" = all namespaces (-A)
  std::string subresource;  // e.g. "status"
  bool allowed;
};

std::string Describe(const CanI& q) {
  return absl::StrCat(q.verb, " ", q.resource, q.subresource.empty() ? "" : "/", q.subresource,
                      " in ", q.namespace_.empty() ? "all namespaces" : q.namespace_);
}

// Asks the API server (SubjectAccessReview through kubectl) whether `user` may do `q`; fails the
// test when the answer differs from q.allowed.
void ExpectCanI(const ControlPlane& cp, const std::string& user, const CanI& q) {
  std::vector<std::string> argv = {
      cp.kubectl_path(), "--kubeconfig=" + cp.kubeconfig(), "auth", "can-i", q.verb, q.resource,
      "--as=" + user};
  if (q.namespace_.empty()) {
    argv.push_back("--all-namespaces");
  } else {
    argv.push_back("--namespace=" + q.namespace_);
  }
  if (!q.subresource.empty()) argv.push_back("--subresource=" + q.subresource);
  absl::StatusOr<RunResult> result = RunCommand(argv);
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string answer(absl::StripAsciiWhitespace(result->out));
  ASSERT_TRUE(answer == "yes" || answer == "no")
      << Describe(q) << ": " << result->out << result->err;
  EXPECT_EQ(answer == "yes", q.allowed)
      << user << " may " << (answer == "yes" ? "" : "not ") << Describe(q);
}

// The questions for an operator that reconciles in `watched` (each namespace of it may be asked)
// with its Lease in `own`; `other` is a namespace it must not touch ("" when it watches all).
std::vector<CanI> OperatorQuestions(const std::string& watched, const std::string& own,
                                    const std::string& other) {
  std::vector<CanI> questions = {
      {"watch", "analyticspipelines.cohort.dev", watched, "", true},
      {"get", "analyticspipelines.cohort.dev", watched, "", false},  // the cache answers reads
      {"patch", "analyticspipelines.cohort.dev", watched, "status", true},
      {"update", "analyticspipelines.cohort.dev", watched, "status", false},  // server-side apply
      {"update", "analyticspipelines.cohort.dev", watched, "", false},  // the spec is the user's
      {"create", "analyticspipelines.cohort.dev", watched, "", false},
      {"delete", "analyticspipelines.cohort.dev", watched, "", false},
      {"create", "configmaps", watched, "", true},
      {"update", "configmaps", watched, "", false},  // children are applied, never PUT
      {"get", "configmaps", watched, "", false},
      {"delete", "services", watched, "", true},
      {"patch", "serviceaccounts", watched, "", true},
      {"create", "statefulsets.apps", watched, "", true},
      {"get", "statefulsets.apps", watched, "", true},  // read back when recreated
      {"delete", "poddisruptionbudgets.policy", watched, "", true},
      {"patch", "horizontalpodautoscalers.autoscaling", watched, "", true},
      {"update", "horizontalpodautoscalers.autoscaling", watched, "", false},
      {"create", "networkpolicies.networking.k8s.io", watched, "", true},
      {"list", "secrets", watched, "", true},  // metadata-only in the code; RBAC can't say so
      {"watch", "secrets", watched, "", true},
      {"get", "secrets", watched, "", false},
      {"create", "secrets", watched, "", false},
      {"update", "secrets", watched, "", false},
      {"delete", "secrets", watched, "", false},
      {"list", "persistentvolumeclaims", watched, "", false},  // the operator never reads claims
      {"delete", "persistentvolumeclaims", watched, "", false},
      {"create", "events.events.k8s.io", watched, "", true},
      {"patch", "events.events.k8s.io", watched, "", true},
      {"create", "events", watched, "", false},  // core/v1 Events: not used
      {"create", "pods", watched, "", false},
      {"create", "deployments.apps", watched, "", false},
      {"create", "roles.rbac.authorization.k8s.io", watched, "", false},
      {"create", "rolebindings.rbac.authorization.k8s.io", watched, "", false},
      {"create", "leases.coordination.k8s.io", own, "", true},
      {"update", "leases.coordination.k8s.io", own, "", true},
      {"get", "leases.coordination.k8s.io", own, "", true},
      {"delete", "leases.coordination.k8s.io", own, "", false},
      {"list", "nodes", "", "", false},
      {"create", "customresourcedefinitions.apiextensions.k8s.io", "", "", false},
      {"create", "clusterroles.rbac.authorization.k8s.io", "", "", false},
  };
  if (!other.empty()) {
    questions.push_back({"create", "leases.coordination.k8s.io", other, "", false});
    questions.push_back({"create", "statefulsets.apps", other, "", false});
    questions.push_back({"list", "secrets", other, "", false});
    questions.push_back({"list", "analyticspipelines.cohort.dev", other, "", false});
  }
  return questions;
}

// Waits until the Deployment selected by `selector` in `ns` has a Pod: the ReplicaSet's pod was
// admitted (under the namespace's Pod Security Standard).
absl::Status WaitForPod(const ControlPlane& cp, const std::string& ns,
                        const std::string& selector) {
  return WaitFor(absl::StrCat("a pod ", selector, " in ", ns), absl::Seconds(90), [&] {
    absl::StatusOr<std::string> out =
        cp.Kubectl({"get", "pods", "-n", ns, "-l", selector, "-o", "name"});
    return out.ok() && absl::StartsWith(*out, "pod/");
  });
}

absl::StatusOr<json> GetJson(const ControlPlane& cp, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"get"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-o", "json"});
  absl::StatusOr<std::string> out = cp.Kubectl(argv);
  if (!out.ok()) return out.status();
  json parsed = json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InternalError(absl::StrCat("not JSON: ", *out));
  return parsed;
}

// The sample pipeline (with its Secret) is accepted by the installed CRD.
void ExpectSampleAccepted(const ControlPlane& cp, const std::string& ns) {
  absl::StatusOr<std::string> out =
      cp.Kubectl({"apply", "--server-side", "-n", ns, "-f",
                  SourcePath("manifests/samples/analyticspipeline-minimal.yaml")});
  ASSERT_TRUE(out.ok()) << out.status();
  out = cp.Kubectl({"get", "apl", "analytics", "-n", ns, "-o", "name"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(absl::StripAsciiWhitespace(*out), "analyticspipeline.cohort.dev/analytics");
}

// The documented CRD upgrade path: the chart's crds/ applied server-side over whatever installed
// them (Helm's create, an earlier apply), then Established.
void ExpectCrdUpgradeApplies(const ControlPlane& cp) {
  absl::StatusOr<std::string> out = cp.Kubectl({"apply", "--server-side", "--force-conflicts", "-f",
                                                SourcePath("charts/cohort-operator/crds/")});
  ASSERT_TRUE(out.ok()) << out.status();
  out = cp.Kubectl(
      {"wait", "--for=condition=Established", "--timeout=60s", absl::StrCat("crd/", kCrdName)});
  ASSERT_TRUE(out.ok()) << out.status();
}

class HelmInstallTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    if (HasFatalFailure()) return;
    // Unique per test: the release's ClusterRoles are cluster-wide. The namespace ends in a
    // random hex suffix.
    release_ = absl::StrCat("r", ns().substr(ns().rfind('-') + 1));
    fullname_ = absl::StrCat(release_, "-cohort-operator");
    std::string home = (fs::temp_directory_path() / "cohort-helm.XXXXXX").string();
    ASSERT_NE(mkdtemp(home.data()), nullptr);
    helm_home_ = home;
    absl::StatusOr<std::string> out =
        Kubectl({"label", "namespace", ns(), "pod-security.kubernetes.io/enforce=restricted"});
    ASSERT_TRUE(out.ok()) << out.status();
  }

  void TearDown() override {
    if (installed_) {
      absl::StatusOr<std::string> out = Helm({"uninstall", release_, "--namespace", ns()});
      EXPECT_TRUE(out.ok()) << out.status();
    }
    for (const std::string& extra : extra_namespaces_) {
      EXPECT_TRUE(cp().Kubectl({"delete", "namespace", extra, "--wait=false"}).ok());
    }
    if (!helm_home_.empty()) fs::remove_all(helm_home_);
    ControlPlaneTest::TearDown();
  }

  absl::StatusOr<std::string> Helm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {cp().bin_dir() + "/helm"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options;
    options.env = {{"KUBECONFIG", cp().kubeconfig()},
                   {"HELM_CACHE_HOME", helm_home_ + "/cache"},
                   {"HELM_CONFIG_HOME", helm_home_ + "/config"},
                   {"HELM_DATA_HOME", helm_home_ + "/data"}};
    options.timeout = absl::Minutes(3);
    return RunCommandOk(argv, options);
  }

  // helm install of the working tree's chart into this test's namespace.
  absl::StatusOr<std::string> Install(const std::vector<std::string>& sets) {
    std::vector<std::string> args = {"install", release_, SourcePath("charts/cohort-operator"),
                                     "--namespace", ns()};
    for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
    absl::StatusOr<std::string> out = Helm(args);
    if (out.ok()) installed_ = true;
    return out;
  }

  std::string NewNamespace(const std::string& suffix) {
    const std::string name = absl::StrCat(ns(), "-", suffix);
    absl::StatusOr<std::string> out = cp().Kubectl({"create", "namespace", name});
    EXPECT_TRUE(out.ok()) << out.status();
    extra_namespaces_.push_back(name);
    return name;
  }

  std::string ServiceAccountUser() const {
    return absl::StrCat("system:serviceaccount:", ns(), ":", fullname_);
  }

  // The chart's Deployment: its operator flags.
  std::vector<std::string> OperatorArgs() {
    absl::StatusOr<json> deployment = GetJson(cp(), {"deployment", fullname_, "-n", ns()});
    EXPECT_TRUE(deployment.ok()) << deployment.status();
    if (!deployment.ok()) return {};
    return (*deployment)["spec"]["template"]["spec"]["containers"][0]["args"]
        .get<std::vector<std::string>>();
  }

  std::string release_;
  std::string fullname_;
  std::string helm_home_;
  bool installed_ = false;
  std::vector<std::string> extra_namespaces_;
};

TEST_F(HelmInstallTest, AllNamespaces) {
  absl::StatusOr<std::string> notes = Install({});
  ASSERT_TRUE(notes.ok()) << notes.status();
  // NOTES.txt tells the user what to do next.
  EXPECT_TRUE(absl::StrContains(*notes, "STATUS: deployed")) << *notes;
  EXPECT_TRUE(absl::StrContains(*notes, "create secret generic analytics-api-keys")) << *notes;
  EXPECT_TRUE(absl::StrContains(*notes, "get apl")) << *notes;
  EXPECT_TRUE(absl::StrContains(*notes, "kubectl apply --server-side --force-conflicts")) << *notes;

  absl::Status pod = WaitForPod(cp(), ns(), "app.kubernetes.io/instance=" + release_);
  ASSERT_TRUE(pod.ok()) << pod;
  absl::StatusOr<json> binding = GetJson(cp(), {"clusterrolebinding", fullname_});
  ASSERT_TRUE(binding.ok()) << binding.status();
  EXPECT_EQ((*binding)["subjects"][0]["namespace"], ns());
  for (const std::string& arg : OperatorArgs()) {
    EXPECT_FALSE(absl::StartsWith(arg, "--namespaces")) << arg;
  }

  const std::string watched = NewNamespace("apps");
  for (const CanI& q : OperatorQuestions(watched, ns(), "default")) {
    if (q.namespace_ == "default" && q.resource != "leases.coordination.k8s.io") continue;
    ExpectCanI(cp(), ServiceAccountUser(), q);
  }
  // Cluster-wide: every namespace, including listing across all of them.
  ExpectCanI(cp(), ServiceAccountUser(), {"list", "analyticspipelines.cohort.dev", "", "", true});
  ExpectCanI(cp(), ServiceAccountUser(), {"watch", "statefulsets.apps", "", "", true});

  ExpectSampleAccepted(cp(), watched);
  ExpectCrdUpgradeApplies(cp());
}

TEST_F(HelmInstallTest, WatchedNamespacesOnly) {
  const std::string team_a = NewNamespace("a");
  const std::string team_b = NewNamespace("b");
  const std::string unwatched = NewNamespace("c");
  absl::StatusOr<std::string> notes =
      Install({absl::StrCat("watchNamespaces={", team_a, ",", team_b, "}")});
  ASSERT_TRUE(notes.ok()) << notes.status();
  EXPECT_TRUE(absl::StrContains(*notes, absl::StrCat("-n ", team_a, " get apl"))) << *notes;

  absl::Status pod = WaitForPod(cp(), ns(), "app.kubernetes.io/instance=" + release_);
  ASSERT_TRUE(pod.ok()) << pod;
  std::vector<std::string> args = OperatorArgs();
  EXPECT_NE(std::find(args.begin(), args.end(), absl::StrCat("--namespaces=", team_a, ",", team_b)),
            args.end())
      << absl::StrJoin(args, " ");
  // Nothing cluster-wide is bound to the operator.
  EXPECT_FALSE(cp().Kubectl({"get", "clusterrolebinding", fullname_}).ok());

  for (const std::string& watched : {team_a, team_b}) {
    for (const CanI& q : OperatorQuestions(watched, ns(), unwatched)) {
      ExpectCanI(cp(), ServiceAccountUser(), q);
    }
  }
  ExpectCanI(cp(), ServiceAccountUser(), {"list", "analyticspipelines.cohort.dev", "", "", false});
  ExpectSampleAccepted(cp(), team_a);
}

// kubectl apply -k installs fixed cluster-wide names and the cohort-system namespace, so it gets a
// control plane of its own rather than the shared one.
TEST(KustomizeInstallTest, ServerSideApplyInASecondControlPlane) {
  absl::StatusOr<std::unique_ptr<ControlPlane>> started = ControlPlane::Start({});
  ASSERT_TRUE(started.ok()) << started.status();
  const ControlPlane& cp = **started;

  absl::StatusOr<std::string> out =
      cp.Kubectl({"apply", "--server-side", "-k", SourcePath("manifests/default")});
  ASSERT_TRUE(out.ok()) << out.status();
  out = cp.Kubectl(
      {"wait", "--for=condition=Established", "--timeout=60s", absl::StrCat("crd/", kCrdName)});
  ASSERT_TRUE(out.ok()) << out.status();

  absl::StatusOr<json> ns = GetJson(cp, {"namespace", "cohort-system"});
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ((*ns)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted");
  absl::StatusOr<json> deployment =
      GetJson(cp, {"deployment", "cohort-operator", "-n", "cohort-system"});
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_EQ((*deployment)["spec"]["template"]["spec"]["serviceAccountName"], "cohort-operator");
  absl::Status pod = WaitForPod(cp, "cohort-system", "app.kubernetes.io/name=cohort-operator");
  ASSERT_TRUE(pod.ok()) << pod;
  for (const char* object :
       {"service/cohort-operator-metrics", "serviceaccount/cohort-operator",
        "role/cohort-operator-leader-election", "rolebinding/cohort-operator-leader-election"}) {
    EXPECT_TRUE(cp.Kubectl({"get", "-n", "cohort-system", object}).ok()) << object;
  }

  out = cp.Kubectl({"create", "namespace", "apps"});
  ASSERT_TRUE(out.ok()) << out.status();
  for (const CanI& q : OperatorQuestions("apps", "cohort-system", "default")) {
    if (q.namespace_ == "default" && q.resource != "leases.coordination.k8s.io") continue;
    ExpectCanI(cp, "system:serviceaccount:cohort-system:cohort-operator", q);
  }
  // Namespace editors may manage pipelines (aggregated into the built-in roles).
  out = cp.Kubectl(
      {"create", "rolebinding", "dev-edit", "-n", "apps", "--clusterrole=edit", "--user=dev"});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(WaitFor("edit to aggregate the AnalyticsPipeline rules", absl::Seconds(30), [&] {
                absl::StatusOr<RunResult> r = RunCommand(
                    {cp.kubectl_path(), "--kubeconfig=" + cp.kubeconfig(), "auth", "can-i",
                     "create", "analyticspipelines.cohort.dev", "-n", "apps", "--as=dev"});
                return r.ok() && absl::StripAsciiWhitespace(r->out) == "yes";
              }).ok());

  ExpectSampleAccepted(cp, "apps");

  // The optional policy of docs/security.md: pipelines may not pick their image or ServiceAccount.
  out = cp.Kubectl({"apply", "-f", SourcePath("manifests/policy/restrict-pipelines.yaml")});
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string foreign_image =
      "apiVersion: cohort.dev/v1alpha1\nkind: AnalyticsPipeline\nmetadata: {name: miner}\n"
      "spec:\n  image: example.com/miner:1\n  auth: {apiKeysSecretRef: {name: k}}\n"
      "  storage: {embedded: {}}\n";
  absl::Status denied;
  // The API server compiles a new policy asynchronously: it takes effect within seconds.
  ASSERT_TRUE(WaitFor("the policy to deny a foreign image", absl::Seconds(30),
                      [&] {
                        absl::StatusOr<std::string> created =
                            cp.Kubectl({"create", "-n", "apps", "-f", "-"}, foreign_image);
                        if (created.ok()) {
                          EXPECT_TRUE(cp.Kubectl({"delete", "-n", "apps", "apl", "miner"}).ok());
                          return false;
                        }
                        denied = created.status();
                        return absl::StrContains(denied.message(), "cohort-restrict-pipelines");
                      })
                  .ok())
      << denied;
  EXPECT_TRUE(absl::StrContains(denied.message(), "spec.image must be a cohort-ingest image"))
      << denied;
  out = cp.Kubectl({"apply", "--server-side", "-n", "apps", "-f",
                    SourcePath("manifests/samples/analyticspipeline-minimal.yaml")});
  EXPECT_TRUE(out.ok()) << "a pipeline with the default image passes: " << out.status();

  // Applying the install again needs no --force-conflicts (one field manager).
  out = cp.Kubectl({"apply", "--server-side", "-k", SourcePath("manifests/default")});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectCrdUpgradeApplies(cp);
}

}  // namespace
}  // namespace cohort::testing
