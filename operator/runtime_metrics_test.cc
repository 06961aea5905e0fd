#include "operator/runtime_metrics.h"

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operator/controller.h"
#include "operator/kube_client.h"
#include "operator/work_queue.h"
#include "tests/support/wait.h"
namespace cohort::op {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// The value of the sample `series` (metric name and label set exactly as rendered), if present.
std::optional<double> SampleValue(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) return value;
  }
  return std::nullopt;
}

// The `le` values of the bucket lines that start with `prefix` (name_bucket{labels,), in order.
std::vector<std::string> BucketBounds(const std::string& text, const std::string& prefix) {
  std::vector<std::string> bounds;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, prefix + "le=\"")) continue;
    line.remove_prefix(prefix.size() + 4);
    bounds.emplace_back(line.substr(0, line.find('"')));
  }
  return bounds;
}

TEST(WorkQueueMetricsTest, HooksProduceClientGoSeries) {
  Registry registry;
  WorkQueueMetricsPtr pipelines = NewWorkQueueMetrics(registry, "pipelines");
  WorkQueueMetricsPtr alerts = NewWorkQueueMetrics(registry, "alerts");
  pipelines->SetDepth(3);
  pipelines->IncAdds();
  pipelines->IncAdds();
  pipelines->ObserveQueueDuration(absl::Milliseconds(5));
  pipelines->ObserveWorkDuration(absl::Seconds(2));
  pipelines->SetUnfinishedWorkSeconds(1.5);
  pipelines->SetLongestRunningProcessorSeconds(0.25);
  pipelines->IncRetries();
  alerts->IncAdds();

  const std::string text = registry.Render();
  const std::string p = "{name=\"pipelines\"}";
  EXPECT_EQ(SampleValue(text, "workqueue_depth" + p), 3);
  EXPECT_EQ(SampleValue(text, "workqueue_adds_total" + p), 2);
  EXPECT_EQ(SampleValue(text, "workqueue_adds_total{name=\"alerts\"}"), 1);
  EXPECT_EQ(SampleValue(text, "workqueue_queue_duration_seconds_count" + p), 1);
  EXPECT_EQ(
      SampleValue(text, "workqueue_queue_duration_seconds_bucket{name=\"pipelines\",le=\"0.001\"}"),
      0);
  EXPECT_EQ(
      SampleValue(text, "workqueue_queue_duration_seconds_bucket{name=\"pipelines\",le=\"0.01\"}"),
      1);
  EXPECT_EQ(SampleValue(text, "workqueue_work_duration_seconds_sum" + p), 2);
  EXPECT_EQ(SampleValue(text, "workqueue_unfinished_work_seconds" + p), 1.5);
  EXPECT_EQ(SampleValue(text, "workqueue_longest_running_processor_seconds" + p), 0.25);
  EXPECT_EQ(SampleValue(text, "workqueue_retries_total" + p), 1);
  EXPECT_THAT(text, HasSubstr("# TYPE workqueue_depth gauge\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE workqueue_adds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE workqueue_queue_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE workqueue_work_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE workqueue_unfinished_work_seconds gauge\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE workqueue_longest_running_processor_seconds gauge\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE workqueue_retries_total counter\n"));
  // client-go's buckets, 1e-8 s to 10 s.
  EXPECT_THAT(BucketBounds(text, "workqueue_work_duration_seconds_bucket{name=\"alerts\","),
              ElementsAre("1e-08", "1e-07", "1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1", "1",
                          "10", "+Inf"));
}

TEST(WorkQueueMetricsTest, ARealQueueDrivesTheSeries) {
  Registry registry;
  SimulatedClock clock;
  WorkQueue queue(clock, nullptr, NewWorkQueueMetrics(registry, "q"));
  CollectHookHandle hook =
      registry.AddCollectHook([&queue] { queue.UpdateUnfinishedWorkMetrics(); });

  queue.Add("a");
  queue.Add("b");
  queue.Add("a");  // Already queued: not an add.
  clock.Advance(absl::Seconds(2));
  ASSERT_EQ(queue.Get(), "a");
  clock.Advance(absl::Milliseconds(500));

  std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "workqueue_depth{name=\"q\"}"), 1);
  EXPECT_EQ(SampleValue(text, "workqueue_adds_total{name=\"q\"}"), 2);
  EXPECT_EQ(SampleValue(text, "workqueue_queue_duration_seconds_sum{name=\"q\"}"), 2);
  EXPECT_EQ(SampleValue(text, "workqueue_unfinished_work_seconds{name=\"q\"}"), 0.5);
  EXPECT_EQ(SampleValue(text, "workqueue_longest_running_processor_seconds{name=\"q\"}"), 0.5);

  queue.Done("a");
  queue.AddRateLimited("a");
  text = registry.Render();
  EXPECT_EQ(SampleValue(text, "workqueue_work_duration_seconds_count{name=\"q\"}"), 1);
  EXPECT_EQ(SampleValue(text, "workqueue_work_duration_seconds_sum{name=\"q\"}"), 0.5);
  EXPECT_EQ(SampleValue(text, "workqueue_unfinished_work_seconds{name=\"q\"}"), 0);
  EXPECT_EQ(SampleValue(text, "workqueue_retries_total{name=\"q\"}"), 1);
}

TEST(ControllerMetricsTest, HooksProduceControllerRuntimeSeries) {
  Registry registry;
  ControllerMetricsPtr m = NewControllerMetrics(registry, "pipeline");
  // Every result is there from the start, at zero.
  std::string text = registry.Render();
  for (const char* result : {"success", "error", "requeue", "requeue_after"}) {
    EXPECT_EQ(SampleValue(text, absl::StrCat("controller_runtime_reconcile_total{controller="
                                             "\"pipeline\",result=\"",
                                             result, "\"}")),
              0)
        << result;
  }
  m->SetMaxConcurrentReconciles(4);
  m->AddActiveWorkers(1);
  m->AddActiveWorkers(1);
  m->AddActiveWorkers(-1);
  m->IncReconcileTotal(ControllerMetrics::Result::kSuccess);
  m->IncReconcileTotal(ControllerMetrics::Result::kError);
  m->IncReconcileTotal(ControllerMetrics::Result::kRequeueAfter);
  m->IncReconcileErrors();
  m->IncReconcilePanics();
  m->ObserveReconcileTime(absl::Milliseconds(30));

  text = registry.Render();
  const std::string c = "{controller=\"pipeline\"}";
  EXPECT_EQ(SampleValue(text,
                        "controller_runtime_reconcile_total{controller=\"pipeline\","
                        "result=\"success\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "controller_runtime_reconcile_total{controller=\"pipeline\","
                        "result=\"error\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "controller_runtime_reconcile_total{controller=\"pipeline\","
                        "result=\"requeue_after\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "controller_runtime_reconcile_total{controller=\"pipeline\","
                        "result=\"requeue\"}"),
            0);
  EXPECT_EQ(SampleValue(text, "controller_runtime_reconcile_errors_total" + c), 1);
  EXPECT_EQ(SampleValue(text, "controller_runtime_reconcile_panics_total" + c), 1);
  EXPECT_EQ(SampleValue(text, "controller_runtime_active_workers" + c), 1);
  EXPECT_EQ(SampleValue(text, "controller_runtime_max_concurrent_reconciles" + c), 4);
  EXPECT_EQ(SampleValue(text, "controller_runtime_reconcile_time_seconds_count" + c), 1);
  EXPECT_EQ(SampleValue(text,
                        "controller_runtime_reconcile_time_seconds_bucket{controller="
                        "\"pipeline\",le=\"0.025\"}"),
            0);
  EXPECT_EQ(SampleValue(text,
                        "controller_runtime_reconcile_time_seconds_bucket{controller="
                        "\"pipeline\",le=\"0.05\"}"),
            1);
  // controller-runtime's buckets, 5 ms to 60 s.
  const std::vector<std::string> bounds = BucketBounds(
      text, "controller_runtime_reconcile_time_seconds_bucket{controller=\"pipeline\",");
  ASSERT_EQ(bounds.size(), 41u);
  EXPECT_EQ(bounds.front(), "0.005");
  EXPECT_EQ(bounds[bounds.size() - 2], "60");
  EXPECT_EQ(bounds.back(), "+Inf");
}

TEST(ControllerMetricsTest, ARealControllerDrivesTheSeries) {
  Registry registry;
  Controller::Options options;
  options.controller_metrics = NewControllerMetrics(registry, "demo");
  options.queue_metrics = NewWorkQueueMetrics(registry, "demo");
  std::atomic<int> bad_calls{0};
  Controller controller(
      "demo",
      [&](const std::string& key) {
        if (key == "ok") return ReconcileResult::Done();
        if (key == "later") return ReconcileResult::RequeueAfter(absl::Hours(1));
        if (key == "boom") throw std::runtime_error("boom");
        // "bad" fails once, then succeeds.
        if (bad_calls.fetch_add(1) == 0) return ReconcileResult::Error(absl::InternalError("x"));
        return ReconcileResult::Done();
      },
      RealClock::Get(), std::move(options));
  ASSERT_TRUE(controller.Start(2).ok());
  for (const char* key : {"ok", "later", "bad"}) controller.Enqueue(key);

  const auto value = [&registry](const std::string& series) {
    return SampleValue(registry.Render(), series).value_or(-1);
  };
  const std::string total = "controller_runtime_reconcile_total{controller=\"demo\",result=";
  ASSERT_TRUE(testing::WaitFor("three successes and one requeue_after", absl::Seconds(30), [&] {
                return value(total + "\"success\"}") == 2 &&
                       value(total + "\"requeue_after\"}") == 1;
              }).ok());
  EXPECT_EQ(value(total + "\"error\"}"), 1);
  EXPECT_EQ(value("controller_runtime_reconcile_errors_total{controller=\"demo\"}"), 1);

  controller.Enqueue("boom");
  ASSERT_TRUE(testing::WaitFor("a panic counted", absl::Seconds(30), [&] {
                return value("controller_runtime_reconcile_panics_total{controller=\"demo\"}") >= 1;
              }).ok());
  controller.Stop(absl::Now() + absl::Seconds(30));

  const std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "controller_runtime_max_concurrent_reconciles{controller=\"demo\"}"),
            2);
  EXPECT_EQ(SampleValue(text, "controller_runtime_active_workers{controller=\"demo\"}"), 0);
  EXPECT_GE(SampleValue(text,
                        "controller_runtime_reconcile_time_seconds_count{controller="
                        "\"demo\"}")
                .value_or(0),
            5);
  EXPECT_GE(SampleValue(text, "workqueue_adds_total{name=\"demo\"}").value_or(0), 4);
  EXPECT_GE(SampleValue(text, "workqueue_retries_total{name=\"demo\"}").value_or(0), 2);
}

TEST(RestClientMetricsTest, ObserverProducesClientGoSeries) {
  static_assert(std::is_same_v<RequestObserver, decltype(NewRestClientRequestObserver(
                                                    std::declval<Registry&>(), ""))>,
                "usable as KubeClient::SetRequestObserver's argument");
  Registry registry;
  RequestObserver observer = NewRestClientRequestObserver(registry, "10.0.0.1:6443");
  observer("GET", 200, absl::Milliseconds(10));
  observer("GET", 200, absl::Milliseconds(20));
  observer("PATCH", 409, absl::Seconds(1));
  observer("GET", 0, absl::Seconds(30));  // A transport failure.

  const std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text,
                        "rest_client_requests_total{code=\"200\",method=\"GET\",host="
                        "\"10.0.0.1:6443\"}"),
            2);
  EXPECT_EQ(SampleValue(text,
                        "rest_client_requests_total{code=\"409\",method=\"PATCH\",host="
                        "\"10.0.0.1:6443\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "rest_client_requests_total{code=\"<error>\",method=\"GET\",host="
                        "\"10.0.0.1:6443\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "rest_client_request_duration_seconds_count{verb=\"GET\",host="
                        "\"10.0.0.1:6443\"}"),
            3);
  EXPECT_EQ(SampleValue(text,
                        "rest_client_request_duration_seconds_bucket{verb=\"GET\",host="
                        "\"10.0.0.1:6443\",le=\"0.025\"}"),
            2);
  EXPECT_EQ(SampleValue(text,
                        "rest_client_request_duration_seconds_bucket{verb=\"PATCH\",host="
                        "\"10.0.0.1:6443\",le=\"1\"}"),
            1);
  EXPECT_THAT(text, HasSubstr("# TYPE rest_client_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE rest_client_request_duration_seconds histogram\n"));
}

TEST(LeaderElectionMetricsTest, MasterStatusFollowsTheLease) {
  Registry registry;
  SetLeaderElectionMasterStatus(registry, "cohort-operator", true);
  SetLeaderElectionMasterStatus(registry, "other", false);
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE leader_election_master_status gauge\n"));
  EXPECT_EQ(SampleValue(text, "leader_election_master_status{name=\"cohort-operator\"}"), 1);
  EXPECT_EQ(SampleValue(text, "leader_election_master_status{name=\"other\"}"), 0);
  SetLeaderElectionMasterStatus(registry, "cohort-operator", false);
  text = registry.Render();
  EXPECT_EQ(SampleValue(text, "leader_election_master_status{name=\"cohort-operator\"}"), 0);
}

}  // namespace
}  // namespace cohort::op
