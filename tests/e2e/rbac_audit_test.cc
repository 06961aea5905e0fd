// The operator's RBAC against what the operator really does (issue 4): least privilege, checked
// from the API server's audit log rather than from a table of expectations.
//
// A control plane of its own that audits every request (the shared one logs writes only); the Helm
// chart installed from the working tree watching one namespace (so its rules are Roles, bound in
// that namespace and, for the Lease, in the chart's), its operator Deployment scaled to zero; the
// real cohort-operator binary run as the chart's ServiceAccount — a token from `kubectl create
// token` in a kubeconfig with the control plane's CA and no client certificate — with the chart's
// flags. A scenario then walks every path of the operator that needs a permission: a pipeline with
// every child kind (ClickHouse storage, autoscaling, a NetworkPolicy, TLS); four config changes, so
// the oldest config ConfigMap is pruned (three earlier ones are kept); autoscaling and the
// NetworkPolicy turned off (HorizontalPodAutoscaler, PodDisruptionBudget and NetworkPolicy pruned);
// a ServiceAccount of the user's named instead of the generated one (that one pruned); a referenced
// Secret deleted (Degraded, a repeated Warning: an Event series) and restored (Ready); a second,
// embedded-storage pipeline that meets a leftover Service of its headless Service's name and then
// grows its volume (both immutable: delete, read back, create again); both pipelines deleted.
//
// Then the audit log of that identity: no request was refused; every (verb, resource, namespace)
// it requested is granted by the RBAC objects bound to the ServiceAccount; and every granted
// (verb, resource) was used at least once — a grant the operator never uses is one too many, and
// belongs out of charts/cohort-operator/files/rbac-rules.yaml. A server-side apply that creates an
// object is a PATCH answered 201, which the API server authorizes as `create` too.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/audit_log.h"
#include "tests/support/control_plane.h"
#include "tests/support/operator_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kChartNamespace[] = "cohort-system";
constexpr char kAppsNamespace[] = "apps";
constexpr char kRelease[] = "cohort-operator";

std::string Source(const std::string& relative) {
  return absl::StrCat(COHORT_SOURCE_DIR, "/", relative);
}

// A verb on a resource in a namespace: what a request needs and what a rule grants. `resource`
// carries the subresource as RBAC writes it ("analyticspipelines/status"); `group` is "" for the
// core group; `ns` is "" for cluster-wide (a ClusterRoleBinding, or a request across namespaces).
struct Permission {
  std::string verb;
  std::string group;
  std::string resource;
  std::string ns;

  bool operator<(const Permission& o) const {
    return std::tie(group, resource, ns, verb) < std::tie(o.group, o.resource, o.ns, o.verb);
  }
};

std::string Describe(const Permission& p) {
  return absl::StrCat(p.verb, " ", p.group.empty() ? "" : absl::StrCat(p.group, "/"), p.resource,
                      " in ", p.ns.empty() ? "<cluster>" : p.ns);
}

// Whether `granted` covers `requested`: the same verb and resource, and a namespace the grant
// reaches (a cluster-wide grant reaches every namespace).
bool Covers(const Permission& granted, const Permission& requested) {
  return granted.verb == requested.verb && granted.group == requested.group &&
         granted.resource == requested.resource &&
         (granted.ns.empty() || granted.ns == requested.ns);
}

// Granted (verb, resource) pairs the scenario cannot make the operator use, each with the reason it
// is still needed. Empty today: the scenario reaches every grant. An entry here must name the code
// that needs the grant and why no scenario can reach it; it is checked to be granted and unused.
const std::map<std::string, std::string>& UnexercisedGrants() {
  static const std::map<std::string, std::string> kExceptions = {};
  return kExceptions;
}

// One request of the audit log: the fields the checks need plus the URI of non-resource requests.
struct Request {
  AuditEvent event;
  std::string uri;
};

// Every event of the audit log at `path`, all stages; a torn last line is ignored.
absl::StatusOr<std::vector<Request>> ReadRequests(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<Request> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) break;
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    absl::StatusOr<AuditEvent> e = ParseAuditLine(line);
    if (!e.ok()) return e.status();
    Request r{*std::move(e), ""};
    if (r.event.resource.empty()) {
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) r.uri = j.value("requestURI", "");
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<json> GetJson(const ControlPlane& cp, std::vector<std::string> args) {
  args.insert(args.begin(), "get");
  args.insert(args.end(), {"-o", "json"});
  absl::StatusOr<std::string> out = cp.Kubectl(args);
  if (!out.ok()) return out.status();
  json parsed = json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InternalError(absl::StrCat("not JSON: ", *out));
  return parsed;
}

// What the RBAC objects bound to ServiceAccount `ns`/`name` grant, one Permission per verb,
// group and resource of each rule. Wildcards and resourceNames are reported in `problems`: the
// chart grants neither.
absl::StatusOr<std::vector<Permission>> GrantsOf(const ControlPlane& cp, const std::string& ns,
                                                 const std::string& name,
                                                 std::vector<std::string>& problems) {
  auto bound_to_sa = [&](const json& binding) {
    for (const json& s : binding.value("subjects", json::array())) {
      if (s.value("kind", "") == "ServiceAccount" && s.value("name", "") == name &&
          s.value("namespace", "") == ns) {
        return true;
      }
    }
    return false;
  };
  std::vector<Permission> grants;
  auto add_rules = [&](const json& role, const std::string& where, const std::string& what) {
    for (const json& rule : role.value("rules", json::array())) {
      if (rule.contains("resourceNames") || rule.contains("nonResourceURLs")) {
        problems.push_back(absl::StrCat(what, ": a rule with resourceNames or nonResourceURLs"));
      }
      for (const json& g : rule.value("apiGroups", json::array())) {
        for (const json& r : rule.value("resources", json::array())) {
          for (const json& v : rule.value("verbs", json::array())) {
            Permission p{v.get<std::string>(), g.get<std::string>(), r.get<std::string>(), where};
            if (p.verb == "*" || p.group == "*" || p.resource == "*") {
              problems.push_back(absl::StrCat(what, ": a wildcard in ", Describe(p)));
            }
            grants.push_back(std::move(p));
          }
        }
      }
    }
  };
  auto role_of = [&](const json& binding, const std::string& binding_ns) -> absl::StatusOr<json> {
    const json& ref = binding["roleRef"];
    if (ref.value("kind", "") == "Role") {
      return GetJson(cp, {"role", ref.value("name", ""), "-n", binding_ns});
    }
    return GetJson(cp, {"clusterrole", ref.value("name", "")});
  };
  absl::StatusOr<json> role_bindings = GetJson(cp, {"rolebindings", "--all-namespaces"});
  if (!role_bindings.ok()) return role_bindings.status();
  for (const json& b : (*role_bindings)["items"]) {
    if (!bound_to_sa(b)) continue;
    const std::string where = b["metadata"].value("namespace", "");
    absl::StatusOr<json> role = role_of(b, where);
    if (!role.ok()) return role.status();
    add_rules(*role, where,
              absl::StrCat("RoleBinding ", where, "/", b["metadata"].value("name", "")));
  }
  absl::StatusOr<json> cluster_bindings = GetJson(cp, {"clusterrolebindings"});
  if (!cluster_bindings.ok()) return cluster_bindings.status();
  for (const json& b : (*cluster_bindings)["items"]) {
    if (!bound_to_sa(b)) continue;
    absl::StatusOr<json> role = role_of(b, "");
    if (!role.ok()) return role.status();
    add_rules(*role, "", absl::StrCat("ClusterRoleBinding ", b["metadata"].value("name", "")));
  }
  return grants;
}

// The Secrets and the first pipeline: every child kind (ClickHouse storage so it may scale out,
// an autoscaler up to 3 replicas so it gets a PodDisruptionBudget, a NetworkPolicy, TLS).
constexpr char kFullPipeline[] = R"(
apiVersion: v1
kind: Secret
metadata: {name: full-api-keys}
stringData:
  api-keys: |
    FAKE-ingest-key-0000-do-not-use  demo  amplitude,native
---
apiVersion: v1
kind: Secret
metadata: {name: full-clickhouse}
stringData: {username: cohort, password: FAKE-password-0000}
---
apiVersion: v1
kind: Secret
metadata: {name: full-tls}
type: kubernetes.io/tls
stringData: {tls.crt: FAKE certificate, tls.key: FAKE key}
---
apiVersion: cohort.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: full}
spec:
  auth:
    apiKeysSecretRef: {name: full-api-keys}
  storage:
    clickhouse:
      url: http://clickhouse.apps.svc:8123
      credentialsSecretRef: {name: full-clickhouse, usernameKey: username, passwordKey: password}
  tls: {secretName: full-tls}
  autoscaling: {minReplicas: 2, maxReplicas: 3, targetCPUUtilizationPercentage: 70}
  networkPolicy: {enabled: true}
)";

// A Service left behind under the name the second pipeline's headless Service will have, with a
// cluster IP: applying `clusterIP: None` over it is an immutable-field error.
constexpr char kLeftoverService[] = R"(
apiVersion: v1
kind: Service
metadata: {name: embedded-headless}
spec:
  ports: [{name: http, port: 8080}]
)";

constexpr char kEmbeddedPipeline[] = R"(
apiVersion: cohort.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: embedded}
spec:
  auth:
    apiKeysSecretRef: {name: full-api-keys}
  storage:
    embedded: {size: 1Gi}
)";

class RbacAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ControlPlane::Options options;
    options.cpctl_flags = {"--audit=all"};
    absl::StatusOr<std::unique_ptr<ControlPlane>> started = ControlPlane::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    cp_ = *std::move(started);
    std::string home = (fs::temp_directory_path() / "cohort-rbac-audit.XXXXXX").string();
    ASSERT_NE(mkdtemp(home.data()), nullptr);
    home_ = home;
  }

  void TearDown() override {
    if (op_ != nullptr) op_->child().Stop(SIGKILL, absl::Seconds(5));
    if (!home_.empty()) fs::remove_all(home_);
  }

  ControlPlane& cp() { return *cp_; }

  absl::StatusOr<std::string> Helm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {cp().bin_dir() + "/helm"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options;
    options.env = {{"KUBECONFIG", cp().kubeconfig()},
                   {"HELM_CACHE_HOME", home_ + "/helm/cache"},
                   {"HELM_CONFIG_HOME", home_ + "/helm/config"},
                   {"HELM_DATA_HOME", home_ + "/helm/data"}};
    options.timeout = absl::Minutes(3);
    return RunCommandOk(argv, options);
  }

  // kubectl (as the admin) in the watched namespace.
  absl::StatusOr<std::string> Apps(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"-n", kAppsNamespace});
    return cp().Kubectl(args, input);
  }

  json Get(const std::string& kind, const std::string& name) {
    absl::StatusOr<std::string> out = Apps({"get", kind, name, "--ignore-not-found", "-o", "json"});
    if (!out.ok() || out->empty()) return nullptr;
    return json::parse(*out, nullptr, false);
  }

  bool Exists(const std::string& kind, const std::string& name) {
    return Get(kind, name).is_object();
  }

  // The pipeline's condition `type` as "Status/Reason", or "".
  std::string Condition(const std::string& pipeline, const std::string& type) {
    json p = Get("analyticspipeline", pipeline);
    if (!p.is_object()) return "";
    for (const json& c : p.value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == type) {
        return absl::StrCat(c.value("status", ""), "/", c.value("reason", ""));
      }
    }
    return "";
  }

  // Names of the pipeline's config ConfigMaps (the only ConfigMaps it owns).
  std::vector<std::string> ConfigMaps(const std::string& uid) {
    absl::StatusOr<std::string> out =
        Apps({"get", "configmaps", "-l", absl::StrCat("cohort.dev/owner-uid=", uid), "-o",
              "jsonpath={.items[*].metadata.name}"});
    if (!out.ok()) return {};
    return absl::StrSplit(*out, ' ', absl::SkipWhitespace());
  }

  // Waits for `condition`; on timeout fails the test with `what`, the pipelines and the log.
  bool Until(const std::string& what, absl::Duration timeout,
             const std::function<bool()>& condition) {
    absl::Status s = WaitFor(what, timeout, condition, absl::Milliseconds(250));
    if (s.ok()) return true;
    absl::StatusOr<std::string> pipelines = Apps({"get", "analyticspipelines", "-o", "yaml"});
    ADD_FAILURE() << s << "\n"
                  << (pipelines.ok() ? *pipelines : pipelines.status().ToString()) << "\n"
                  << (op_ != nullptr ? op_->Log() : "");
    return false;
  }

  // Waits until the pipeline has observed its latest generation and is Ready with its rollout
  // complete and not Degraded.
  bool UntilSettled(const std::string& pipeline) {
    return Until(absl::StrCat(pipeline, " to settle"), absl::Seconds(120), [&] {
      json p = Get("analyticspipeline", pipeline);
      return p.is_object() &&
             p.value("status", json::object()).value("observedGeneration", 0) ==
                 p["metadata"].value("generation", -1) &&
             Condition(pipeline, "Ready") == "True/Available" &&
             Condition(pipeline, "Progressing") == "False/RolloutComplete" &&
             Condition(pipeline, "Degraded") == "False/AsExpected";
    });
  }

  std::string ConfigHash(const std::string& pipeline) {
    json p = Get("analyticspipeline", pipeline);
    return p.is_object() ? p.value("status", json::object()).value("configHash", "") : "";
  }

  std::unique_ptr<ControlPlane> cp_;
  std::string home_;
  std::unique_ptr<OperatorProcess> op_;
};

TEST_F(RbacAuditTest, TheOperatorUsesEveryGrantOfTheChartAndNothingElse) {
  const absl::Time began = absl::Now();

  // --- The chart, watching one namespace, its operator Deployment scaled to zero.
  ASSERT_TRUE(cp().Kubectl({"create", "namespace", kAppsNamespace}).ok());
  absl::StatusOr<std::string> installed =
      Helm({"install", kRelease, Source("charts/cohort-operator"), "--namespace", kChartNamespace,
            "--create-namespace", "--set", "replicas=0", "--set",
            absl::StrCat("watchNamespaces={", kAppsNamespace, "}")});
  ASSERT_TRUE(installed.ok()) << installed.status();
  absl::StatusOr<json> deployments =
      GetJson(cp(), {"deployments", "-n", kChartNamespace, "-l",
                     absl::StrCat("app.kubernetes.io/instance=", kRelease)});
  ASSERT_TRUE(deployments.ok()) << deployments.status();
  ASSERT_EQ((*deployments)["items"].size(), 1u) << deployments->dump();
  const json& deployment = (*deployments)["items"][0];
  EXPECT_EQ(deployment["spec"].value("replicas", -1), 0);
  const json& pod_spec = deployment["spec"]["template"]["spec"];
  const std::string sa = pod_spec.value("serviceAccountName", "");
  ASSERT_FALSE(sa.empty());
  const std::string sa_user = absl::StrCat("system:serviceaccount:", kChartNamespace, ":", sa);

  // The chart's flags, but for the addresses and log format OperatorProcess chooses.
  std::vector<std::string> args;
  for (const json& a : pod_spec["containers"][0]["args"]) {
    const std::string arg = a.get<std::string>();
    if (absl::StartsWith(arg, "--metrics-bind-address") ||
        absl::StartsWith(arg, "--health-probe-bind-address") ||
        absl::StartsWith(arg, "--log-format")) {
      continue;
    }
    args.push_back(arg);
  }
  ASSERT_THAT(args, ::testing::Contains("--leader-elect"));
  ASSERT_THAT(args, ::testing::Contains(absl::StrCat("--namespaces=", kAppsNamespace)));

  // --- The ServiceAccount's identity: a token, the control plane's CA, no client certificate.
  absl::StatusOr<std::string> token =
      cp().Kubectl({"create", "token", sa, "-n", kChartNamespace, "--duration=1h"});
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<std::string> server =
      cp().Kubectl({"config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string kubeconfig = home_ + "/operator.kubeconfig";
  {
    std::ofstream out(kubeconfig);
    out << "apiVersion: v1\nkind: Config\n"
        << "clusters:\n- name: cp\n  cluster:\n    server: " << absl::StripAsciiWhitespace(*server)
        << "\n    certificate-authority: " << cp().dir() << "/pki/ca.crt\n"
        << "users:\n- name: operator\n  user:\n    token: " << absl::StripAsciiWhitespace(*token)
        << "\ncontexts:\n- name: operator\n  context: {cluster: cp, user: operator}\n"
        << "current-context: operator\n";
    ASSERT_TRUE(out.good());
  }
  ASSERT_EQ(chmod(kubeconfig.c_str(), 0600), 0);

  args.push_back("--kubeconfig=" + kubeconfig);
  args.push_back(absl::StrCat("--leader-election-namespace=", kChartNamespace));
  op_ = OperatorProcess::Start(COHORT_OPERATOR_PATH, args,
                               absl::StrCat(::testing::TempDir(), "/rbac-audit-operator.log"));
  ASSERT_NE(op_, nullptr);

  // --- A pipeline with every child kind.
  absl::StatusOr<std::string> out = Apps({"apply", "-f", "-"}, kFullPipeline);
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string uid = Get("analyticspipeline", "full")["metadata"].value("uid", "");
  ASSERT_FALSE(uid.empty());
  ASSERT_TRUE(Until("every child of full", absl::Seconds(60), [&] {
    return Exists("serviceaccount", "full-ingest") && Exists("service", "full") &&
           Exists("service", "full-headless") && Exists("statefulset", "full") &&
           Exists("poddisruptionbudget", "full") && Exists("horizontalpodautoscaler", "full") &&
           Exists("networkpolicy", "full") && ConfigMaps(uid).size() == 1;
  }));
  ASSERT_TRUE(UntilSettled("full"));

  // --- Four config changes: five config ConfigMaps made, the current one and three kept.
  for (int i = 1; i <= 4; ++i) {
    const std::string before = ConfigHash("full");
    out = Apps({"patch", "analyticspipeline", "full", "--type=merge", "-p",
                absl::StrCat(R"({"spec":{"limits":{"maxConnections":)", 1000 + i, "}}}")});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE(Until(absl::StrCat("config change ", i), absl::Seconds(60), [&] {
      const std::string now = ConfigHash("full");
      return !now.empty() && now != before;
    }));
    ASSERT_TRUE(UntilSettled("full"));
  }
  ASSERT_TRUE(Until("the oldest config ConfigMap to be pruned", absl::Seconds(60),
                    [&] { return ConfigMaps(uid).size() == 4; }));

  // --- Autoscaling and the NetworkPolicy off, one replica: three children pruned.
  out = Apps({"patch", "analyticspipeline", "full", "--type=merge", "-p",
              R"({"spec":{"autoscaling":null,"networkPolicy":{"enabled":false},"replicas":1}})"});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(Until("the autoscaler, budget and policy to be pruned", absl::Seconds(60), [&] {
    return !Exists("horizontalpodautoscaler", "full") && !Exists("poddisruptionbudget", "full") &&
           !Exists("networkpolicy", "full");
  }));
  ASSERT_TRUE(UntilSettled("full"));

  // --- The user's own ServiceAccount instead of the generated one, which is pruned.
  ASSERT_TRUE(Apps({"create", "serviceaccount", "ingest-by-hand"}).ok());
  out = Apps({"patch", "analyticspipeline", "full", "--type=merge", "-p",
              R"({"spec":{"serviceAccountName":"ingest-by-hand"}})"});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(Until("the generated ServiceAccount to be pruned", absl::Seconds(60),
                    [&] { return !Exists("serviceaccount", "full-ingest"); }));
  ASSERT_TRUE(UntilSettled("full"));

  // --- A referenced Secret deleted: Degraded, warned about more than once (an Event series);
  // restored: Ready.
  absl::StatusOr<std::string> secret = Apps({"get", "secret", "full-api-keys", "-o", "json"});
  ASSERT_TRUE(secret.ok()) << secret.status();
  ASSERT_TRUE(Apps({"delete", "secret", "full-api-keys"}).ok());
  ASSERT_TRUE(Until("full to be Degraded", absl::Seconds(60),
                    [&] { return Condition("full", "Degraded") == "True/SecretNotFound"; }));
  // Each change of the pipeline is reconciled again and warns again, identically.
  for (int i = 1; i <= 2; ++i) {
    ASSERT_TRUE(Apps({"annotate", "analyticspipeline", "full", "--overwrite",
                      absl::StrCat("example.com/nudge=", i)})
                    .ok());
  }
  ASSERT_TRUE(Until("a Warning series to be written", absl::Seconds(60), [&] {
    absl::StatusOr<json> events = GetJson(cp(), {"events.events.k8s.io", "-n", kAppsNamespace});
    if (!events.ok()) return false;
    for (const json& e : (*events)["items"]) {
      if (e.value("reason", "") == "SecretNotFound" && e.contains("series")) return true;
    }
    return false;
  }));
  json restored = json::parse(*secret);
  for (const char* field : {"resourceVersion", "uid", "creationTimestamp", "managedFields"}) {
    restored["metadata"].erase(field);
  }
  ASSERT_TRUE(Apps({"create", "-f", "-"}, restored.dump()).ok());
  ASSERT_TRUE(UntilSettled("full"));

  // --- Immutable fields: a leftover Service with a cluster IP where the headless Service goes,
  // then a grown volume (volumeClaimTemplates cannot change): each is deleted and created again.
  ASSERT_TRUE(Apps({"create", "-f", "-"}, kLeftoverService).ok());
  const std::string leftover_uid = Get("service", "embedded-headless")["metadata"].value("uid", "");
  out = Apps({"apply", "-f", "-"}, kEmbeddedPipeline);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(Until("the headless Service to be recreated", absl::Seconds(60), [&] {
    json svc = Get("service", "embedded-headless");
    return svc.is_object() && svc["metadata"].value("uid", "") != leftover_uid &&
           svc["spec"].value("clusterIP", "") == "None";
  }));
  ASSERT_TRUE(UntilSettled("embedded"));
  const std::string sts_uid = Get("statefulset", "embedded")["metadata"].value("uid", "");
  out = Apps({"patch", "analyticspipeline", "embedded", "--type=merge", "-p",
              R"({"spec":{"storage":{"embedded":{"size":"2Gi"}}}})"});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(
      Until("the StatefulSet to be recreated with the larger volume", absl::Seconds(60), [&] {
        json sts = Get("statefulset", "embedded");
        return sts.is_object() && sts["metadata"].value("uid", "") != sts_uid &&
               sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].value(
                   "storage", "") == "2Gi";
      }));
  ASSERT_TRUE(UntilSettled("embedded"));

  // --- Both pipelines deleted (the garbage collector removes the children), then the operator
  // stopped: it gives up its Lease and flushes its Events.
  ASSERT_TRUE(Apps({"delete", "analyticspipeline", "full", "embedded", "--wait=true"}).ok());
  ASSERT_EQ(op_->child().Stop(SIGTERM, absl::Seconds(40)), 0) << op_->Log();
  const absl::Duration scenario = absl::Now() - began;

  // Every request of the operator's identity has completed in the log (watches end when it exits).
  std::vector<Request> requests;
  ASSERT_TRUE(Until("the operator's requests to complete in the audit log", absl::Seconds(30), [&] {
    absl::StatusOr<std::vector<Request>> all = ReadRequests(cp().audit_log());
    if (!all.ok()) return false;
    std::set<std::string> open;
    requests.clear();
    for (Request& r : *all) {
      if (r.event.user != sa_user) continue;
      if (r.event.stage == "ResponseComplete" || r.event.stage == "Panic") {
        open.erase(r.event.audit_id);
        requests.push_back(std::move(r));
      } else {
        open.insert(r.event.audit_id);
      }
    }
    return open.empty();
  }));
  ASSERT_FALSE(requests.empty()) << "no request of " << sa_user << " in the audit log";

  // --- What was used, and whether each use was allowed.
  std::set<Permission> used;
  std::vector<std::string> refused, non_resource;
  for (const Request& r : requests) {
    const AuditEvent& e = r.event;
    if (e.code == 401 || e.code == 403) {
      refused.push_back(absl::StrCat(e.code, " ", e.verb, " ", e.api_group, "/", e.resource,
                                     e.subresource.empty() ? "" : "/", e.subresource, " ",
                                     e.namespace_, "/", e.name, r.uri));
    }
    if (e.resource.empty()) {
      non_resource.push_back(absl::StrCat(e.verb, " ", r.uri));
      continue;
    }
    const std::string resource =
        e.subresource.empty() ? e.resource : absl::StrCat(e.resource, "/", e.subresource);
    used.insert({e.verb, e.api_group, resource, e.namespace_});
    // A server-side apply that created the object was also authorized as a create.
    if (e.verb == "patch" && e.code == 201) {
      used.insert({"create", e.api_group, resource, e.namespace_});
    }
  }
  EXPECT_THAT(refused, ::testing::IsEmpty());
  // The chart grants no non-resource URLs, so the operator must need none.
  EXPECT_THAT(non_resource, ::testing::IsEmpty());

  std::vector<std::string> problems;
  absl::StatusOr<std::vector<Permission>> grants = GrantsOf(cp(), kChartNamespace, sa, problems);
  ASSERT_TRUE(grants.ok()) << grants.status();
  EXPECT_THAT(problems, ::testing::IsEmpty());
  ASSERT_FALSE(grants->empty());

  std::vector<std::string> beyond_grants;
  for (const Permission& u : used) {
    if (std::none_of(grants->begin(), grants->end(),
                     [&](const Permission& g) { return Covers(g, u); })) {
      beyond_grants.push_back(Describe(u));
    }
  }
  EXPECT_THAT(beyond_grants, ::testing::IsEmpty()) << "used without a grant (allowed otherwise?)";

  std::vector<std::string> unused;
  std::set<std::string> excepted_and_unused;
  for (const Permission& g : *grants) {
    if (std::any_of(used.begin(), used.end(), [&](const Permission& u) { return Covers(g, u); })) {
      continue;
    }
    const std::string pair =
        absl::StrCat(g.verb, " ", g.group.empty() ? "" : absl::StrCat(g.group, "/"), g.resource);
    if (UnexercisedGrants().contains(pair)) {
      excepted_and_unused.insert(pair);
      continue;
    }
    unused.push_back(Describe(g));
  }
  EXPECT_THAT(unused, ::testing::IsEmpty())
      << "granted but never used: remove from charts/cohort-operator/files/rbac-rules.yaml, or "
         "list in UnexercisedGrants() with the reason";
  for (const auto& [pair, why] : UnexercisedGrants()) {
    EXPECT_TRUE(excepted_and_unused.contains(pair))
        << pair << " is listed as unexercised but is used or not granted: drop the entry";
  }

  // The report: verbs used per resource and namespace.
  std::map<std::string, std::set<std::string>> by_resource;
  for (const Permission& u : used) {
    by_resource[absl::StrCat(u.group.empty() ? "" : absl::StrCat(u.group, "/"), u.resource, " in ",
                             u.ns.empty() ? "<cluster>" : u.ns)]
        .insert(u.verb);
  }
  std::cout << "[rbac-audit] " << requests.size() << " requests by " << sa_user << " in "
            << absl::FormatDuration(scenario) << "\n";
  for (const auto& [resource, verbs] : by_resource) {
    std::cout << "[rbac-audit]   " << resource << ": " << absl::StrJoin(verbs, ", ") << "\n";
  }
}

}  // namespace
}  // namespace cohort::testing
