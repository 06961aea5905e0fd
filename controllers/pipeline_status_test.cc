// The status truth table of pipeline_status.h, row by row, with a simulated clock.
#include "controllers/pipeline_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/conditions.h"

namespace cohort::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Pipeline(int64_t generation = 2) {
  return {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"generation", generation}}},
          {"spec", json::object()}};
}

json StatefulSet(int64_t replicas, int64_t ready, int64_t updated, bool observed = true,
                 bool same_revision = true) {
  return {{"metadata", {{"generation", 3}}},
          {"spec", {{"replicas", replicas}}},
          {"status",
           {{"observedGeneration", observed ? 3 : 2},
            {"replicas", replicas},
            {"readyReplicas", ready},
            {"updatedReplicas", updated},
            {"currentRevision", "r1"},
            {"updateRevision", same_revision ? "r1" : "r2"}}}};
}

struct Row {
  std::string ready, ready_reason, progressing, progressing_reason, degraded, degraded_reason;
};

Row Read(const json& status) {
  auto c = [&](const char* type) {
    std::optional<op::Condition> cond = op::FindCondition(status["conditions"], type);
    EXPECT_TRUE(cond.has_value()) << type;
    return cond ? std::pair{std::string(op::ConditionStatusName(cond->status)), cond->reason}
                : std::pair{std::string(), std::string()};
  };
  auto [r, rr] = c(kReady);
  auto [p, pr] = c(kProgressing);
  auto [d, dr] = c(kDegraded);
  return {r, rr, p, pr, d, dr};
}

class PipelineStatusTest : public ::testing::Test {
 protected:
  PipelineStatus Compute(const json& pipeline, const PipelineObservation& o) {
    return ComputePipelineStatus(pipeline, o, config_, clock_);
  }
  SimulatedClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  OperatorConfig config_;
};

TEST_F(PipelineStatusTest, InvalidSpecBlocksEverything) {
  PipelineObservation o;
  o.render_error = absl::InvalidArgumentError("spec: mapping[0].regex: invalid RE2");
  const PipelineStatus s = Compute(Pipeline(), o);
  const Row row = Read(s.status);
  EXPECT_EQ(row.ready, "False");
  EXPECT_EQ(row.ready_reason, "InvalidSpec");
  EXPECT_EQ(row.degraded, "True");
  EXPECT_EQ(row.degraded_reason, "InvalidSpec");
  EXPECT_EQ(row.progressing, "False");
  EXPECT_THAT(op::FindCondition(s.status["conditions"], kDegraded)->message,
              HasSubstr("mapping[0].regex"));
  EXPECT_EQ(s.status["observedGeneration"], 2);
}

TEST_F(PipelineStatusTest, ImageTooOld) {
  PipelineObservation o;
  o.render_error = absl::FailedPreconditionError("needs revision 1");
  EXPECT_EQ(Read(Compute(Pipeline(), o).status).degraded_reason, "ImageTooOld");
}

TEST_F(PipelineStatusTest, MissingSecretIsNamed) {
  PipelineObservation o;
  o.missing_secrets = {"shop-keys"};
  const PipelineStatus s = Compute(Pipeline(), o);
  const Row row = Read(s.status);
  EXPECT_EQ(row.ready_reason, "SecretNotFound");
  EXPECT_EQ(row.degraded, "True");
  EXPECT_EQ(op::FindCondition(s.status["conditions"], kDegraded)->message,
            "Secret \"shop-keys\" not found in namespace ns");
}

TEST_F(PipelineStatusTest, NoStatefulSetYetIsCreating) {
  PipelineObservation o;
  o.endpoint = "http://p.ns.svc:8080";
  o.config_hash = "abc";
  const PipelineStatus s = Compute(Pipeline(), o);
  const Row row = Read(s.status);
  EXPECT_EQ(row.ready_reason, "Creating");
  EXPECT_EQ(row.progressing, "True");
  EXPECT_EQ(row.degraded, "False");
  EXPECT_EQ(s.status["endpoint"], "http://p.ns.svc:8080");
  EXPECT_EQ(s.status["configHash"], "abc");
  EXPECT_EQ(s.recheck_after, config_.progress_deadline);
}

TEST_F(PipelineStatusTest, RolloutStates) {
  struct Case {
    json sts;
    std::string ready, ready_reason, progressing;
  };
  const std::vector<Case> cases = {
      {StatefulSet(3, 3, 3), "True", "Available", "False"},
      {StatefulSet(3, 1, 3), "False", "ReplicasUnavailable", "True"},
      {StatefulSet(3, 3, 1, true, false), "True", "Available", "True"},       // mid-rollout, all up
      {StatefulSet(3, 3, 3, false), "False", "ReplicasUnavailable", "True"},  // not observed
      {StatefulSet(0, 0, 0), "False", "ScaledToZero", "False"},
  };
  for (const Case& c : cases) {
    PipelineObservation o;
    o.stateful_set = &c.sts;
    const PipelineStatus s = Compute(Pipeline(), o);
    const Row row = Read(s.status);
    EXPECT_EQ(row.ready, c.ready) << c.sts.dump();
    EXPECT_EQ(row.ready_reason, c.ready_reason) << c.sts.dump();
    EXPECT_EQ(row.progressing, c.progressing) << c.sts.dump();
    EXPECT_EQ(row.degraded, "False") << c.sts.dump();
    EXPECT_EQ(s.status["readyReplicas"], c.sts["status"]["readyReplicas"]);
  }
}

TEST_F(PipelineStatusTest, ProgressDeadlineMakesItDegradedAndTransitionTimesHold) {
  const json sts = StatefulSet(3, 1, 3);
  PipelineObservation o;
  o.stateful_set = &sts;
  json pipeline = Pipeline();
  PipelineStatus s = Compute(pipeline, o);
  const absl::Time started = clock_.Now();
  EXPECT_EQ(s.recheck_after, absl::Minutes(10));
  pipeline["status"] = s.status;

  clock_.Advance(absl::Minutes(4));
  s = Compute(pipeline, o);
  EXPECT_EQ(s.recheck_after, absl::Minutes(6));
  EXPECT_EQ(Read(s.status).degraded, "False");
  // Nothing changed: the same status, lastTransitionTime included.
  EXPECT_EQ(s.status, pipeline["status"]);
  pipeline["status"] = s.status;

  clock_.Advance(absl::Minutes(6));
  s = Compute(pipeline, o);
  const Row row = Read(s.status);
  EXPECT_EQ(row.degraded, "True");
  EXPECT_EQ(row.degraded_reason, "ProgressDeadlineExceeded");
  EXPECT_EQ(op::FindCondition(s.status["conditions"], kProgressing)->last_transition_time, started);
  EXPECT_EQ(s.recheck_after, absl::ZeroDuration());

  // Recovery clears it.
  pipeline["status"] = s.status;
  const json done = StatefulSet(3, 3, 3);
  o.stateful_set = &done;
  EXPECT_EQ(Read(Compute(pipeline, o).status).degraded, "False");
}

TEST_F(PipelineStatusTest, ApplyErrorsHaveTheirReason) {
  const json sts = StatefulSet(1, 1, 1);
  struct Case {
    absl::Status error;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {op::MakeApiError({.http_code = 403,
    .message = "persistentvolumeclaims \"data-p-0\" is forbidden: "
               "exceeded quota: storage"}),
            "QuotaExceeded"},
           {op::MakeApiError({.http_code = 403, .message = "admission webhook denied"}),
            "Forbidden"},
           {op::MakeApiError({.http_code = 422, .reason = "Invalid", .message = "bad"}), "Invalid"},
           {op::FromTransportError(op::TransportFailure::kConnection, "refused"), "ApplyFailed"}}) {
    PipelineObservation o;
    o.stateful_set = &sts;
    o.apply_error = c.error;
    const Row row = Read(Compute(Pipeline(), o).status);
    EXPECT_EQ(row.degraded, "True");
    EXPECT_EQ(row.degraded_reason, c.reason) << c.error;
    EXPECT_EQ(row.ready, "True");  // the running replicas still serve
  }
}

}  // namespace
}  // namespace cohort::controllers
