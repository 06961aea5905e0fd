// The operator process against the real API server, with the test operator of
// testdata/mirror_operator.cc (the real process scaffolding of operator/app.h around a small
// controller): of two processes only the leader reconciles, and the standby takes over within the
// Lease's duration when the leader is killed; SIGTERM drains the reconcile in flight, releases the
// Lease and exits 0; /metrics parses and carries the series operator users chart; a converged
// operator — also after a restart — writes nothing but its Lease (checked in the audit log); logs
// are JSON lines naming controller, object and reconcile id.
#include "tests/support/operator_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/audit_log.h"
#include "tests/support/control_plane.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/subprocess.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace {

using nlohmann::json;

constexpr char kLease[] = "mirror";

// Whether `condition` came true within `timeout` (the callers print the operator's log if not).
bool Until(absl::Duration timeout, const std::function<bool()>& condition) {
  return WaitFor("condition", timeout, condition).ok();
}

std::string MirrorOperatorPath() { return MIRROR_OPERATOR_PATH; }

class OperatorProcessTest : public ControlPlaneTest {
 protected:
  std::unique_ptr<OperatorProcess> StartOperator(const std::string& name,
                                                 std::vector<std::string> extra = {}) {
    const std::string log = absl::StrCat(::testing::TempDir(), "/", ns(), "-", name, ".log");
    std::vector<std::string> args = {"--kubeconfig=" + cp().kubeconfig(), "--namespaces=" + ns(),
                                     "--leader-elect", "--leader-election-namespace=" + ns(),
                                     std::string("--leader-election-id=") + kLease};
    args.insert(args.end(), extra.begin(), extra.end());
    return OperatorProcess::Start(MirrorOperatorPath(), std::move(args), log);
  }

  void CreateParent(const std::string& name, const std::string& value,
                    const std::string& delay = "") {
    json cm = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", name}, {"namespace", ns()}, {"labels", {{"cohort.test/mirror", "true"}}}}},
        {"data", {{"value", value}}}};
    if (!delay.empty()) cm["metadata"]["annotations"]["cohort.test/reconcile-delay"] = delay;
    absl::StatusOr<std::string> out = Kubectl({"apply", "-f", "-"}, cm.dump());
    ASSERT_TRUE(out.ok()) << out.status();
  }

  // The mirror's data.value, or "" while it does not exist.
  std::string MirrorValue(const std::string& name) {
    absl::StatusOr<std::string> out =
        Kubectl({"get", "configmap", name + "-mirror", "--ignore-not-found", "-o",
                 "jsonpath={.data.value}"});
    return out.ok() ? *out : "";
  }

  static bool Leading(const OperatorProcess& p) {
    return p.Metric("leader_election_master_status", {{"name", kLease}}) == 1;
  }

  static double Reconciles(const OperatorProcess& p) {
    return p.Metric("controller_runtime_reconcile_total",
                    {{"controller", "mirror"}, {"result", "success"}});
  }

  std::string LeaseHolder() {
    absl::StatusOr<std::string> out =
        Kubectl({"get", "lease", kLease, "-o", "jsonpath={.spec.holderIdentity}"});
    return out.ok() ? *out : "<error>";
  }
};

TEST_F(OperatorProcessTest, OnlyTheLeaderReconcilesAndTheStandbyTakesOverWhenItDies) {
  auto a = StartOperator("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return Leading(*a); })) << a->Log();
  auto b = StartOperator("b");
  ASSERT_NE(b, nullptr);
  // The standby's caches are warm: it is ready while not leading.
  ASSERT_TRUE(Until(absl::Seconds(30), [&] {
    absl::StatusOr<HttpAnswer> r = HttpGet(b->probe_port(), "/readyz");
    return r.ok() && r->status == 200;
  })) << b->Log();
  // Campaigning starts once the caches are synced; the standby reports itself as a backup.
  EXPECT_TRUE(Until(absl::Seconds(10), [&] {
    return b->Metric("leader_election_master_status", {{"name", kLease}}) == 0;
  })) << b->Log();

  CreateParent("one", "1");
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return MirrorValue("one") == "1"; })) << a->Log();
  EXPECT_GE(Reconciles(*a), 1);
  EXPECT_EQ(Reconciles(*b), 0) << "a standby reconciled";

  const absl::Time killed = absl::Now();
  a->child().Stop(SIGKILL, absl::Seconds(5));
  ASSERT_TRUE(Until(absl::Seconds(45), [&] { return Leading(*b); })) << b->Log();
  const absl::Duration takeover = absl::Now() - killed;
  // Lease duration 15 s after the standby last saw the Lease change, plus up to one jittered retry
  // period (2 s × 2.2) and a scrape.
  EXPECT_LE(takeover, absl::Seconds(25)) << takeover;
  RecordProperty("takeover_seconds", absl::StrCat(absl::ToDoubleSeconds(takeover)));

  // The new leader had the key queued while standing by; it reconciles new work too.
  CreateParent("two", "2");
  EXPECT_TRUE(Until(absl::Seconds(30), [&] { return MirrorValue("two") == "2"; })) << b->Log();
  EXPECT_GE(Reconciles(*b), 1);
  EXPECT_EQ(b->child().Stop(SIGTERM, absl::Seconds(40)), 0);
}

TEST_F(OperatorProcessTest, SigtermDrainsTheReconcileInFlightReleasesTheLeaseAndExitsZero) {
  auto a = StartOperator("a", {"--graceful-shutdown-timeout=30s"});
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return Leading(*a); })) << a->Log();
  const std::string holder = LeaseHolder();
  EXPECT_FALSE(holder.empty());

  CreateParent("slow", "s", "4s");
  // The reconcile has started (it sleeps before applying).
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return absl::StrContains(a->Log(), "sleeping"); }))
      << a->Log();
  ASSERT_EQ(MirrorValue("slow"), "");
  const int status = a->child().Stop(SIGTERM, absl::Seconds(40));
  ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << a->Log();
  EXPECT_EQ(WEXITSTATUS(status), 0) << a->Log();
  // The reconcile in flight finished before the process exited...
  EXPECT_EQ(MirrorValue("slow"), "s") << a->Log();
  // ...and the Lease was given up, so a standby needs no expiry to take over.
  EXPECT_EQ(LeaseHolder(), "");
  auto b = StartOperator("b");
  ASSERT_NE(b, nullptr);
  const absl::Time started = absl::Now();
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return Leading(*b); })) << b->Log();
  EXPECT_LE(absl::Now() - started, absl::Seconds(10));
}

TEST_F(OperatorProcessTest, MetricsAndProbesAreServed) {
  auto a = StartOperator("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return Leading(*a); })) << a->Log();
  CreateParent("m", "1");
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return MirrorValue("m") == "1"; }));
  ASSERT_TRUE(Until(absl::Seconds(10), [&] { return Reconciles(*a) >= 1; }));

  absl::StatusOr<std::vector<MetricSample>> samples = a->Scrape();
  ASSERT_TRUE(samples.ok()) << samples.status();
  auto value = [&](std::string_view name, const std::map<std::string, std::string>& labels) {
    absl::StatusOr<double> v = FindSample(*samples, name, labels);
    EXPECT_TRUE(v.ok()) << name;
    return v.ok() ? *v : -1;
  };
  EXPECT_GE(value("controller_runtime_reconcile_total",
                  {{"controller", "mirror"}, {"result", "success"}}),
            1);
  EXPECT_EQ(value("controller_runtime_reconcile_errors_total", {{"controller", "mirror"}}), 0);
  EXPECT_EQ(value("controller_runtime_max_concurrent_reconciles", {{"controller", "mirror"}}), 2);
  EXPECT_GE(value("controller_runtime_reconcile_time_seconds_count", {{"controller", "mirror"}}),
            1);
  EXPECT_GE(value("workqueue_adds_total", {{"name", "mirror"}}), 1);
  EXPECT_GE(value("workqueue_depth", {{"name", "mirror"}}), 0);
  // Set by the collect hook on every scrape.
  EXPECT_GE(value("workqueue_unfinished_work_seconds", {{"name", "mirror"}}), 0);
  EXPECT_GE(value("rest_client_requests_total", {{"code", "200"}, {"method", "GET"}}), 1);
  EXPECT_EQ(value("leader_election_master_status", {{"name", kLease}}), 1);

  for (const char* path : {"/healthz", "/readyz"}) {
    absl::StatusOr<HttpAnswer> r = HttpGet(a->probe_port(), path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  }
  // Probes and metrics are on their own ports.
  absl::StatusOr<HttpAnswer> r = HttpGet(a->probe_port(), "/metrics");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
}

TEST_F(OperatorProcessTest, AConvergedOperatorWritesNothingAlsoAfterARestart) {
  auto a = StartOperator("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return Leading(*a); })) << a->Log();
  for (const char* name : {"p1", "p2", "p3"}) CreateParent(name, name);
  ASSERT_TRUE(Until(absl::Seconds(30), [&] {
    return MirrorValue("p1") == "p1" && MirrorValue("p2") == "p2" && MirrorValue("p3") == "p3";
  })) << a->Log();

  // From here on, the operator has nothing to change.
  absl::StatusOr<std::vector<AuditEvent>> before = ReadAuditLog(cp().audit_log());
  ASSERT_TRUE(before.ok()) << before.status();
  const size_t mark = before->size();

  // A change that needs no mirror update still reaches the reconciler...
  const double reconciles = Reconciles(*a);
  ASSERT_TRUE(Kubectl({"annotate", "configmap", "p1", "touched=yes"}).ok());
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return Reconciles(*a) > reconciles; }));
  // ...and a restarted operator reconciles everything again.
  ASSERT_EQ(a->child().Stop(SIGTERM, absl::Seconds(40)), 0) << a->Log();
  auto b = StartOperator("b");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(Until(absl::Seconds(30), [&] { return Reconciles(*b) >= 3; })) << b->Log();
  ASSERT_EQ(b->child().Stop(SIGTERM, absl::Seconds(40)), 0) << b->Log();

  absl::StatusOr<std::vector<AuditEvent>> after = ReadAuditLog(cp().audit_log());
  ASSERT_TRUE(after.ok()) << after.status();
  std::vector<std::string> writes;
  for (size_t i = mark; i < after->size(); ++i) {
    const AuditEvent& e = (*after)[i];
    if (e.namespace_ != ns() || !absl::StartsWith(e.user_agent, "cohort-operator")) continue;
    if (e.resource == "leases") continue;  // renewals and the release
    if (e.verb == "create" || e.verb == "update" || e.verb == "patch" || e.verb == "delete") {
      writes.push_back(absl::StrCat(e.verb, " ", e.resource, "/", e.name));
    }
  }
  EXPECT_THAT(writes, ::testing::IsEmpty());

  // Every reconcile's lines carry the controller, the object and a reconcile id.
  int reconcile_lines = 0;
  for (const json& line : b->LogLines()) {
    ASSERT_FALSE(line.contains("unparsed")) << line.dump();
    if (line.value("msg", "") != "reconciled: unchanged") continue;
    ++reconcile_lines;
    EXPECT_EQ(line.value("controller", ""), "mirror");
    EXPECT_TRUE(absl::StartsWith(line.value("object", ""), ns() + "/p")) << line.dump();
    EXPECT_EQ(line.value("reconcileID", "").size(), 36u) << line.dump();
  }
  EXPECT_GE(reconcile_lines, 3);
}

}  // namespace
}  // namespace cohort::testing
