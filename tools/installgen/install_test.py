#!/usr/bin/env python3
"""Tests of the two install methods without a cluster: the Helm chart lints clean, and what it
renders (both watchNamespaces modes) agrees with `kubectl kustomize manifests/default` on what
matters: the RBAC rules (one list, charts/cohort-operator/files/rbac-rules.yaml), the image, the
operator's flags, probes, ports and security contexts.

  python3 tools/installgen/install_test.py              every test
  python3 tools/installgen/install_test.py HelmLintTest one class (ctest helm_lint)
  COHORT_OPERATOR_BINARY=build/operator/cohort-operator python3 tools/installgen/install_test.py FlagsTest

helm and kubectl come from the control-plane cache (tools/controlplane/build.sh --print), or from
$COHORT_CP_BIN. Installing into a real API server is tests/integration/install_test.cc.
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import unittest

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cohort-operator"
KUBE_VERSION = "1.36.3"  # tools/controlplane/versions.sh; helm template assumes 1.20 otherwise
RELEASE = "rel"
RELEASE_NS = "ops"


def bin_dir():
    if os.environ.get("COHORT_CP_BIN"):
        return pathlib.Path(os.environ["COHORT_CP_BIN"])
    out = subprocess.run([str(ROOT / "tools" / "controlplane" / "build.sh"), "--print"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("no helm/kubectl: build the control plane (tools/controlplane/build.sh): "
                           + out.stderr.strip())
    return pathlib.Path(out.stdout.strip())


BIN = bin_dir()
HELM_HOME = tempfile.TemporaryDirectory(prefix="cohort-helm-")
HELM_ENV = dict(os.environ,
                HELM_CACHE_HOME=f"{HELM_HOME.name}/cache",
                HELM_CONFIG_HOME=f"{HELM_HOME.name}/config",
                HELM_DATA_HOME=f"{HELM_HOME.name}/data")


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, env=HELM_ENV, timeout=120)
    return out.returncode, out.stdout, out.stderr


def helm_template(*sets, ok=True):
    argv = [str(BIN / "helm"), "template", RELEASE, str(CHART), "--namespace", RELEASE_NS,
            "--kube-version", KUBE_VERSION, "--include-crds"]
    for s in sets:
        argv += ["--set", s]
    code, out, err = run(argv)
    if not ok:
        return code, err
    if code != 0:
        raise AssertionError(f"helm template {' '.join(sets)} failed:\n{err}")
    return [d for d in yaml.safe_load_all(out) if d]


def kustomize():
    code, out, err = run([str(BIN / "kubectl"), "kustomize", str(ROOT / "manifests" / "default")])
    if code != 0:
        raise AssertionError(f"kubectl kustomize manifests/default failed:\n{err}")
    return [d for d in yaml.safe_load_all(out) if d]


def rules_file():
    return yaml.safe_load((CHART / "files" / "rbac-rules.yaml").read_text())


def find(docs, kind, name=None, namespace=None):
    found = [d for d in docs if d["kind"] == kind
             and (name is None or d["metadata"]["name"] == name)
             and (namespace is None or d["metadata"].get("namespace") == namespace)]
    return found


def one(docs, kind, name=None, namespace=None):
    found = find(docs, kind, name, namespace)
    if len(found) != 1:
        raise AssertionError(f"want exactly one {kind} {name or ''} {namespace or ''}, got "
                             f"{[d['metadata'] for d in found]}")
    return found[0]


def container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return containers[0]


def flags(deployment):
    return container(deployment)["args"]


def bound_subjects(binding):
    return [(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]]


class HelmLintTest(unittest.TestCase):
    """`helm lint --strict` (warnings fail) with the defaults and the other modes."""

    VALUE_SETS = [
        [],
        ["watchNamespaces={team-a,team-b}"],
        ["metrics.serviceMonitor.enabled=true", "replicas=3"],
        ["metrics.enabled=false", "leaderElection.enabled=false", "replicas=0"],
        ["serviceAccount.create=false", "serviceAccount.name=existing", "rbac.create=false"],
    ]

    def test_lint(self):
        for sets in self.VALUE_SETS:
            with self.subTest(sets=sets):
                argv = [str(BIN / "helm"), "lint", "--strict", str(CHART)]
                for s in sets:
                    argv += ["--set", s]
                code, out, err = run(argv)
                self.assertEqual(code, 0, out + err)
                self.assertIn("0 chart(s) failed", out)
                self.assertNotIn("[WARNING]", out)
                self.assertNotIn("[ERROR]", out)


class RenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rules = rules_file()
        cls.kustomize = kustomize()
        cls.cluster_wide = helm_template()
        cls.namespaced = helm_template("watchNamespaces={team-a,team-b}")
        cls.fullname = f"{RELEASE}-cohort-operator"

    # ---- kustomize ----

    def test_kustomize_rbac_is_the_rule_list(self):
        docs = self.kustomize
        role = one(docs, "ClusterRole", "cohort-operator")
        self.assertEqual(role["rules"], self.rules["operator"])
        lease = one(docs, "Role", "cohort-operator-leader-election", "cohort-system")
        self.assertEqual(lease["rules"], self.rules["leaderElection"])
        self.assertEqual(one(docs, "ClusterRole", "cohort-operator-edit")["rules"],
                         self.rules["userEdit"])
        self.assertEqual(one(docs, "ClusterRole", "cohort-operator-view")["rules"],
                         self.rules["userView"])
        sa = ("ServiceAccount", "cohort-operator", "cohort-system")
        one(docs, "ServiceAccount", "cohort-operator", "cohort-system")
        binding = one(docs, "ClusterRoleBinding", "cohort-operator")
        self.assertEqual(binding["roleRef"]["name"], "cohort-operator")
        self.assertEqual(bound_subjects(binding), [sa])
        lease_binding = one(docs, "RoleBinding", "cohort-operator-leader-election", "cohort-system")
        self.assertEqual(lease_binding["roleRef"],
                         {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                          "name": "cohort-operator-leader-election"})
        self.assertEqual(bound_subjects(lease_binding), [sa])
        # Nothing else is bound to anyone.
        self.assertEqual(len(find(docs, "ClusterRoleBinding")) + len(find(docs, "RoleBinding")), 2)

    def test_kustomize_namespace_and_crds(self):
        docs = self.kustomize
        ns = one(docs, "Namespace", "cohort-system")
        self.assertEqual(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
                         "restricted")
        crds = sorted(d["metadata"]["name"] for d in find(docs, "CustomResourceDefinition"))
        want = sorted(yaml.safe_load(p.read_text())["metadata"]["name"]
                      for p in (ROOT / "crds").glob("*.yaml"))
        self.assertEqual(crds, want)
        for d in docs:
            if d["kind"] in ("Namespace", "CustomResourceDefinition", "ClusterRole",
                             "ClusterRoleBinding"):
                self.assertNotIn("namespace", d["metadata"], d["metadata"])
            else:
                self.assertEqual(d["metadata"].get("namespace"), "cohort-system", d["metadata"])

    def test_kustomize_deployment(self):
        deployment = one(self.kustomize, "Deployment", "cohort-operator", "cohort-system")
        self.assertEqual(deployment["spec"]["replicas"], 1)
        args = flags(deployment)
        for flag in ("--leader-elect", "--log-format=json", "--metrics-bind-address=:8080",
                     "--health-probe-bind-address=:8081"):
            self.assertIn(flag, args)
        self.assertFalse([a for a in args if a.startswith("--namespaces")], args)
        self.check_pod(deployment, "cohort-operator")
        self.check_metrics_service(self.kustomize, "cohort-operator-metrics", deployment)

    # ---- the chart, all namespaces ----

    def test_chart_cluster_wide_rbac(self):
        docs = self.cluster_wide
        role = one(docs, "ClusterRole", self.fullname)
        self.assertEqual(role["rules"], self.rules["operator"])
        self.assertEqual(role["rules"], one(self.kustomize, "ClusterRole", "cohort-operator")["rules"])
        binding = one(docs, "ClusterRoleBinding", self.fullname)
        self.assertEqual(binding["roleRef"]["name"], self.fullname)
        self.assertEqual(bound_subjects(binding), [("ServiceAccount", self.fullname, RELEASE_NS)])
        self.check_lease_role(docs)
        # The only Role is the Lease's; the only bindings are these two.
        self.assertEqual([r["metadata"]["name"] for r in find(docs, "Role")],
                         [f"{self.fullname}-leader-election"])
        self.assertEqual(len(find(docs, "ClusterRoleBinding")) + len(find(docs, "RoleBinding")), 2)
        self.check_user_roles(docs)

    def test_chart_cluster_wide_deployment(self):
        deployment = one(self.cluster_wide, "Deployment", self.fullname, RELEASE_NS)
        args = flags(deployment)
        self.assertFalse([a for a in args if a.startswith("--namespaces")], args)
        self.check_pod(deployment, self.fullname)
        self.check_metrics_service(self.cluster_wide, f"{self.fullname}-metrics", deployment)
        # The same flags as the kustomize install where both set them.
        kustomize_args = flags(one(self.kustomize, "Deployment", "cohort-operator"))
        self.assertTrue(set(kustomize_args) <= set(args), (kustomize_args, args))

    def test_chart_ships_the_crds(self):
        crds = find(self.cluster_wide, "CustomResourceDefinition")
        want = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "crds").glob("*.yaml"))]
        self.assertEqual(sorted(crds, key=lambda d: d["metadata"]["name"]),
                         sorted(want, key=lambda d: d["metadata"]["name"]))

    # ---- the chart, a list of namespaces ----

    def test_chart_namespaced_rbac(self):
        docs = self.namespaced
        operator_bindings = [b for b in find(docs, "ClusterRoleBinding")]
        self.assertEqual(operator_bindings, [], "no cluster-wide binding in namespaced mode")
        self.assertEqual(sorted(r["metadata"]["name"] for r in find(docs, "ClusterRole")),
                         [f"{self.fullname}-edit", f"{self.fullname}-view"])
        for ns in ("team-a", "team-b"):
            role = one(docs, "Role", self.fullname, ns)
            self.assertEqual(role["rules"], self.rules["operator"])
            binding = one(docs, "RoleBinding", self.fullname, ns)
            self.assertEqual(binding["roleRef"],
                             {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                              "name": self.fullname})
            self.assertEqual(bound_subjects(binding),
                             [("ServiceAccount", self.fullname, RELEASE_NS)])
        self.check_lease_role(docs)
        self.assertEqual(len(find(docs, "Role")), 3)
        self.assertEqual(len(find(docs, "RoleBinding")), 3)

    def test_chart_namespaced_deployment(self):
        deployment = one(self.namespaced, "Deployment", self.fullname, RELEASE_NS)
        self.assertIn("--namespaces=team-a,team-b", flags(deployment))
        self.check_pod(deployment, self.fullname)

    # ---- other values ----

    def test_leader_election_off(self):
        docs = helm_template("leaderElection.enabled=false")
        self.assertEqual(find(docs, "Role"), [])
        self.assertEqual(find(docs, "RoleBinding"), [])
        args = flags(one(docs, "Deployment", self.fullname))
        self.assertFalse([a for a in args if a.startswith("--leader-elect")], args)

    def test_leader_election_timing(self):
        args = flags(one(helm_template("leaderElection.leaseDuration=60s",
                                       "leaderElection.renewDeadline=40s",
                                       "leaderElection.retryPeriod=5s",
                                       "leaderElection.id=my-lease"), "Deployment"))
        for flag in ("--leader-election-lease-duration=60s", "--leader-election-renew-deadline=40s",
                     "--leader-election-retry-period=5s", "--leader-election-id=my-lease"):
            self.assertIn(flag, args)

    def test_metrics_off(self):
        docs = helm_template("metrics.enabled=false")
        self.assertEqual(find(docs, "Service"), [])
        deployment = one(docs, "Deployment", self.fullname)
        self.assertIn("--metrics-bind-address=0", flags(deployment))
        self.assertEqual([p["name"] for p in container(deployment)["ports"]], ["health"])

    def test_service_monitor(self):
        docs = helm_template("metrics.serviceMonitor.enabled=true",
                             "metrics.serviceMonitor.labels.release=prometheus")
        monitor = one(docs, "ServiceMonitor", self.fullname, RELEASE_NS)
        service = one(docs, "Service", f"{self.fullname}-metrics", RELEASE_NS)
        self.assertEqual(monitor["metadata"]["labels"]["release"], "prometheus")
        for key, value in monitor["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(service["metadata"]["labels"].get(key), value, key)
        self.assertEqual(monitor["spec"]["endpoints"][0]["port"], "metrics")
        self.assertEqual(find(helm_template(), "ServiceMonitor"), [])

    def test_values_reach_the_pod(self):
        docs = helm_template("image.tag=1.2.3", "logLevel=debug", "logFormat=text", "replicas=0",
                             "nodeSelector.pool=ops", "tolerations[0].key=dedicated",
                             "tolerations[0].operator=Exists", "podLabels.team=data",
                             "resources.limits.memory=1Gi", "gracefulShutdownTimeoutSeconds=50",
                             "extraArgs={--cache-sync-timeout=5m}")
        deployment = one(docs, "Deployment", self.fullname)
        pod = deployment["spec"]["template"]["spec"]
        self.assertEqual(deployment["spec"]["replicas"], 0)
        self.assertEqual(container(deployment)["image"], "ghcr.io/cohort-dev/cohort-operator:1.2.3")
        args = flags(deployment)
        for flag in ("--log-level=debug", "--log-format=text", "--graceful-shutdown-timeout=50s",
                     "--cache-sync-timeout=5m"):
            self.assertIn(flag, args)
        self.assertEqual(pod["terminationGracePeriodSeconds"], 60)
        self.assertEqual(pod["nodeSelector"], {"pool": "ops"})
        self.assertEqual(pod["tolerations"], [{"key": "dedicated", "operator": "Exists"}])
        self.assertEqual(deployment["spec"]["template"]["metadata"]["labels"]["team"], "data")
        self.assertEqual(container(deployment)["resources"]["limits"]["memory"], "1Gi")
        digest = "sha256:" + "ab" * 32
        pinned = one(helm_template(f"image.digest={digest}"), "Deployment")
        self.assertEqual(container(pinned)["image"], f"ghcr.io/cohort-dev/cohort-operator@{digest}")

    def test_existing_service_account_without_rbac(self):
        docs = helm_template("serviceAccount.create=false", "serviceAccount.name=existing",
                             "rbac.create=false")
        self.assertEqual(find(docs, "ServiceAccount"), [])
        for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            self.assertEqual(find(docs, kind), [], kind)
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "existing")

    def test_rejected_values(self):
        cases = {
            ("replicas=2", "leaderElection.enabled=false"): "needs leaderElection.enabled",
            ("logLevel=loud",): "logLevel",
            ("watchNamespaces={Team_A}",): "watchNamespaces",
            ("metrics.enabled=false", "metrics.serviceMonitor.enabled=true"): "serviceMonitor",
            ("metrics.port=8081",): "must differ",
            ("serviceAccount.create=false",): "serviceAccount.name is required",
            ("unknownValue=1",): "unknownValue",
        }
        for sets, message in cases.items():
            with self.subTest(sets=sets):
                code, err = helm_template(*sets, ok=False)
                self.assertNotEqual(code, 0)
                self.assertIn(message, err)

    # ---- shared checks ----

    def check_lease_role(self, docs):
        name = f"{self.fullname}-leader-election"
        role = one(docs, "Role", name, RELEASE_NS)
        self.assertEqual(role["rules"], self.rules["leaderElection"])
        binding = one(docs, "RoleBinding", name, RELEASE_NS)
        self.assertEqual(binding["roleRef"]["name"], name)
        self.assertEqual(bound_subjects(binding), [("ServiceAccount", self.fullname, RELEASE_NS)])

    def check_user_roles(self, docs):
        edit = one(docs, "ClusterRole", f"{self.fullname}-edit")
        view = one(docs, "ClusterRole", f"{self.fullname}-view")
        self.assertEqual(edit["rules"], self.rules["userEdit"])
        self.assertEqual(view["rules"], self.rules["userView"])
        self.assertEqual(edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"],
                         "true")
        self.assertEqual(view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"],
                         "true")

    def check_pod(self, deployment, service_account):
        """The pod both installs must agree on: image, identity, probes, ports, restricted PSS."""
        pod = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        self.assertEqual(pod["serviceAccountName"], service_account)
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        self.assertIn(c["image"], (f"ghcr.io/cohort-dev/cohort-operator:{chart['appVersion']}",
                                   "ghcr.io/cohort-dev/cohort-operator:1.2.3"))
        self.assertEqual(pod["securityContext"],
                         {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                          "seccompProfile": {"type": "RuntimeDefault"}})
        self.assertEqual(c["securityContext"],
                         {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                          "capabilities": {"drop": ["ALL"]}})
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"metrics": 8080, "health": 8081})
        self.assertEqual(set(c["resources"]), {"requests", "limits"})
        self.assertEqual(c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace")
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(selector.items() <= labels.items(), (selector, labels))

    def check_metrics_service(self, docs, name, deployment):
        service = one(docs, "Service", name, deployment["metadata"]["namespace"])
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(service["spec"]["selector"].items() <= labels.items())
        self.assertEqual(service["spec"]["ports"],
                         [{"name": "metrics", "port": 8080, "targetPort": "metrics",
                           "protocol": "TCP"}])


@unittest.skipUnless(os.environ.get("COHORT_OPERATOR_BINARY"), "set COHORT_OPERATOR_BINARY")
class FlagsTest(unittest.TestCase):
    """Every flag the two installs pass is one the built operator has (`cohort-operator --help`)."""

    def test_flags_exist(self):
        code, out, err = run([os.environ["COHORT_OPERATOR_BINARY"], "--help"])
        self.assertEqual(code, 0, err)
        known = set(re.findall(r"^  --([a-z0-9-]+)", out, re.MULTILINE))
        self.assertIn("leader-elect", known, out)
        renders = {
            "kustomize": kustomize(),
            "helm (everything on)": helm_template(
                "watchNamespaces={a,b}", "ingestImage=registry.example.com/cohort-ingest:1"),
            "helm (metrics off)": helm_template("metrics.enabled=false"),
        }
        for name, docs in renders.items():
            for deployment in find(docs, "Deployment"):
                for arg in flags(deployment):
                    flag = re.match(r"--([a-z0-9-]+)", arg)
                    self.assertTrue(flag, f"{name}: {arg!r} is not a flag")
                    self.assertIn(flag.group(1), known, f"{name}: cohort-operator has no {arg}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
