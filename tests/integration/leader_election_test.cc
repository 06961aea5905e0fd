// Leader election and Events against the real API server: two candidates in one process (each with
// a client of its own) never lead at once; a released Lease passes to the standby within a
// retry period; a leader that dies without releasing is replaced once its Lease expires; an Event
// recorded five times is one Event object with series.count 5, written as one create and patches
// (checked in the audit log).
#include "operator/leader_election.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "operator/cpprest_transport.h"
#include "operator/event_recorder.h"
#include "operator/kube_client.h"
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

constexpr char kLease[] = "cohort-operator";

class LeaderElectionIntegrationTest : public ControlPlaneTest {
 protected:
  // One candidate: a client of its own and an elector.
  struct Candidate {
    std::unique_ptr<KubeClient> client;
    std::unique_ptr<LeaderElector> elector;
  };

  void TearDown() override {
    for (Candidate& c : candidates_) {
      if (c.elector != nullptr) c.elector->Stop();
    }
    ControlPlaneTest::TearDown();
  }

  std::unique_ptr<KubeClient> NewClient() {
    absl::StatusOr<RestConfig> config = LoadKubeconfig(cp().kubeconfig());
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport = NewCpprestTransport(*config);
    EXPECT_TRUE(transport.ok()) << transport.status();
    if (!transport.ok()) return nullptr;
    return std::make_unique<KubeClient>(*std::move(transport), KubeClientOptions{});
  }

  // A candidate with the default timings (15 s / 10 s / 2 s) and identity. Leading is counted in
  // `leaders_`; two at once is recorded in `overlap_`.
  LeaderElector& NewCandidate() {
    Candidate c;
    c.client = NewClient();
    LeaderElectionConfig config;
    config.lease_namespace = ns();
    config.lease_name = kLease;
    config.callbacks.on_started_leading = [this] {
      if (leaders_.fetch_add(1) + 1 > 1) overlap_ = true;
    };
    config.callbacks.on_stopped_leading = [this] { leaders_.fetch_sub(1); };
    absl::StatusOr<std::unique_ptr<LeaderElector>> elector =
        LeaderElector::Create(*c.client, std::move(config));
    EXPECT_TRUE(elector.ok()) << elector.status();
    c.elector = *std::move(elector);
    candidates_.push_back(std::move(c));
    return *candidates_.back().elector;
  }

  json LeaseSpec() {
    absl::StatusOr<json> lease = candidates_.front().client->Get(resources::kLeases, ns(), kLease);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? (*lease)["spec"] : json();
  }

  std::atomic<int> leaders_{0};
  std::atomic<bool> overlap_{false};
  std::vector<Candidate> candidates_;
};

TEST_F(LeaderElectionIntegrationTest, OneLeaderAndAReleasedLeaseGoesToTheStandbyAtOnce) {
  LeaderElector& a = NewCandidate();
  LeaderElector& b = NewCandidate();
  a.Start();
  b.Start();
  absl::Status led = WaitFor("a leader", absl::Seconds(30), [&] {
    return (a.IsLeader() || b.IsLeader()) && a.GetLeader() == b.GetLeader();
  });
  ASSERT_TRUE(led.ok()) << led;
  LeaderElector& leader = a.IsLeader() ? a : b;
  LeaderElector& standby = a.IsLeader() ? b : a;
  EXPECT_FALSE(standby.IsLeader());
  EXPECT_EQ(standby.GetLeader(), leader.identity());
  json spec = LeaseSpec();
  EXPECT_EQ(spec["holderIdentity"], leader.identity());
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  // A few renewals pass with the leader staying put.
  const std::string first_renewal = spec["renewTime"];
  absl::Status renewed = WaitFor("renewals", absl::Seconds(20), [&] {
    json s = LeaseSpec();
    return s.is_object() && s["renewTime"] != first_renewal;
  });
  ASSERT_TRUE(renewed.ok()) << renewed;
  EXPECT_TRUE(leader.IsLeader());
  EXPECT_FALSE(standby.IsLeader());

  const absl::Status released = leader.Release();
  ASSERT_TRUE(released.ok()) << released;
  EXPECT_FALSE(leader.IsLeader());
  absl::Status taken = WaitFor("the standby to take the released Lease", absl::Seconds(10),
                               [&] { return standby.IsLeader(); });
  ASSERT_TRUE(taken.ok()) << taken;
  spec = LeaseSpec();
  EXPECT_EQ(spec["holderIdentity"], standby.identity());
  EXPECT_EQ(spec["leaseTransitions"], 1);
  EXPECT_FALSE(overlap_.load()) << "two candidates led at once";
}

TEST_F(LeaderElectionIntegrationTest, AStandbyReplacesALeaderThatDiedWithoutReleasing) {
  LeaderElector& a = NewCandidate();
  a.Start();
  absl::Status led = WaitFor("a to lead", absl::Seconds(30), [&] { return a.IsLeader(); });
  ASSERT_TRUE(led.ok()) << led;
  LeaderElector& b = NewCandidate();
  b.Start();
  absl::Status seen =
      WaitFor("b to see a", absl::Seconds(10), [&] { return b.GetLeader() == a.identity(); });
  ASSERT_TRUE(seen.ok()) << seen;

  a.Stop();  // as if killed: no more renewals, no release
  const absl::Time died = absl::Now();
  EXPECT_EQ(LeaseSpec()["holderIdentity"], a.identity());
  // 15 s from b's last sight of a renewal, plus at most one jittered retry (4.4 s), plus slack.
  absl::Status taken = WaitFor("b to take over", absl::Seconds(30), [&] { return b.IsLeader(); });
  ASSERT_TRUE(taken.ok()) << taken;
  // b saw a's last renewal at most ~2 s before a died, and waits 15 s from then.
  EXPECT_GE(absl::Now() - died, absl::Seconds(12)) << "the Lease was taken before it expired";
  const json spec = LeaseSpec();
  EXPECT_EQ(spec["holderIdentity"], b.identity());
  EXPECT_EQ(spec["leaseTransitions"], 1);
  EXPECT_FALSE(overlap_.load());
}

TEST_F(LeaderElectionIntegrationTest, AnEventRecordedFiveTimesIsOneEventWithASeriesOfFive) {
  std::unique_ptr<KubeClient> client = NewClient();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<json> cm = client->Create(
      resources::kConfigMaps, ns(),
      {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "regarded"}}}});
  ASSERT_TRUE(cm.ok()) << cm.status();

  EventRecorderOptions options;
  options.reporting_controller = "cohort.dev/cohort-operator";
  absl::StatusOr<std::unique_ptr<EventRecorder>> recorder = EventRecorder::Create(*client, options);
  ASSERT_TRUE(recorder.ok()) << recorder.status();
  const ObjectReference regarding = ObjectReference::From(*cm);
  for (int i = 0; i < 5; ++i) {
    (*recorder)->Record(regarding, EventType::kWarning, "ReconcileFailed", "Apply",
                        "applying Deployment web failed: conflict");
  }
  const absl::Status flushed = (*recorder)->Flush(absl::Seconds(30));
  ASSERT_TRUE(flushed.ok()) << flushed;
  const EventRecorderStats stats = (*recorder)->stats();
  EXPECT_EQ(stats.created, 1u);
  EXPECT_GE(stats.series_updates, 1u);
  EXPECT_EQ(stats.write_errors, 0u);

  absl::StatusOr<ListPage> events = client->ListAll(resources::kEvents, ns(), {});
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<json> ours;
  for (const json& e : events->items) {
    if (e.value("reportingController", "") == options.reporting_controller) ours.push_back(e);
  }
  ASSERT_EQ(ours.size(), 1u) << events->items.dump();
  const json& e = ours[0];
  EXPECT_EQ(e["series"]["count"], 5);
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["reason"], "ReconcileFailed");
  EXPECT_EQ(e["action"], "Apply");
  EXPECT_EQ(e["note"], "applying Deployment web failed: conflict");
  EXPECT_EQ(e["regarding"]["name"], "regarded");
  EXPECT_EQ(e["regarding"]["uid"], (*cm)["metadata"]["uid"]);
  EXPECT_EQ(e["reportingInstance"], (*recorder)->reporting_instance());
  // kubectl sees the same single Event.
  absl::StatusOr<std::string> listed =
      Kubectl({"get", "events.events.k8s.io", "-o", "jsonpath={.items[*].series.count}"});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, "5");

  // The audit log: one create, then patches — not five creates.
  int creates = 0;
  int patches = 0;
  absl::Status audited = WaitFor("the writes in the audit log", absl::Seconds(30), [&] {
    absl::StatusOr<std::vector<AuditEvent>> log = ReadAuditLog(cp().audit_log());
    if (!log.ok()) return false;
    creates = patches = 0;
    for (const AuditEvent& a : *log) {
      if (a.namespace_ != ns() || a.resource != "events" || a.api_group != "events.k8s.io") {
        continue;
      }
      creates += a.verb == "create";
      patches += a.verb == "patch";
    }
    return creates >= 1 && patches >= static_cast<int>(stats.series_updates);
  });
  ASSERT_TRUE(audited.ok()) << audited;
  EXPECT_EQ(creates, 1);
  EXPECT_GE(patches, 1);
  EXPECT_LE(patches, 4);
  (*recorder)->Stop();
}

}  // namespace
}  // namespace cohort::op
