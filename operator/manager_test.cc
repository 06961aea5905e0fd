// Manager unit tests: the sync period (controller-runtime's SyncPeriod) reaches the informers the
// manager makes, unless a caller chose its own resync period, and the informer then really replays
// its cache at that period without reading from the API server.
#include "operator/manager.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "operator/testing/fake_transport.h"

namespace cohort::op {
namespace {

using nlohmann::json;
using testing::FakeStream;

// Every wait for a condition gives up after this much real time (a passing run waits
// milliseconds).
constexpr absl::Duration kWait = absl::Seconds(60);

constexpr char kPath[] = "/api/v1/namespaces/ns/configmaps";

InformerOptions ConfigMapsIn(std::string ns) {
  InformerOptions options;
  options.type = resources::kConfigMaps;
  options.namespaces = {std::move(ns)};
  return options;
}

class ManagerSyncPeriodTest : public ::testing::Test {
 protected:
  ManagerSyncPeriodTest() {
    KubeClientOptions options;
    options.qps = 1e6;
    options.burst = 1'000'000;
    client_ = std::make_unique<KubeClient>(fake_.Connect(), options, clock_);
  }

  std::unique_ptr<Manager> NewManager(ManagerOptions options) {
    absl::StatusOr<std::unique_ptr<Manager>> manager =
        Manager::Create(*client_, registry_, std::move(options), clock_);
    EXPECT_TRUE(manager.ok()) << manager.status();
    return manager.ok() ? *std::move(manager) : nullptr;
  }

  SimulatedClock clock_;
  testing::FakeTransport fake_{clock_};
  std::unique_ptr<KubeClient> client_;
  Registry registry_;
};

TEST_F(ManagerSyncPeriodTest, TheDefaultIsControllerRuntimesTenHours) {
  EXPECT_EQ(ManagerOptions().sync_period, absl::Hours(10));
  std::unique_ptr<Manager> manager = NewManager({});
  ASSERT_NE(manager, nullptr);
  EXPECT_EQ(manager->GetInformer(ConfigMapsIn("ns")).options().resync_period, absl::Hours(10));
}

TEST_F(ManagerSyncPeriodTest, AnInformerWithoutItsOwnPeriodTakesTheSyncPeriod) {
  ManagerOptions options;
  options.sync_period = absl::Minutes(5);
  std::unique_ptr<Manager> manager = NewManager(options);
  ASSERT_NE(manager, nullptr);
  EXPECT_EQ(manager->GetInformer(ConfigMapsIn("a")).options().resync_period, absl::Minutes(5));

  InformerOptions own = ConfigMapsIn("b");
  own.resync_period = absl::Seconds(30);
  EXPECT_EQ(manager->GetInformer(own).options().resync_period, absl::Seconds(30))
      << "a period the caller chose is kept";
}

TEST_F(ManagerSyncPeriodTest, ZeroTurnsResyncsOff) {
  ManagerOptions options;
  options.sync_period = absl::ZeroDuration();
  std::unique_ptr<Manager> manager = NewManager(options);
  ASSERT_NE(manager, nullptr);
  EXPECT_EQ(manager->GetInformer(ConfigMapsIn("ns")).options().resync_period, absl::ZeroDuration());
}

TEST_F(ManagerSyncPeriodTest, ANegativeSyncPeriodIsRejected) {
  ManagerOptions options;
  options.sync_period = absl::Seconds(-1);
  absl::StatusOr<std::unique_ptr<Manager>> manager =
      Manager::Create(*client_, registry_, options, clock_);
  ASSERT_FALSE(manager.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(manager.status())) << manager.status();
}

// The informer the manager made replays its cache at the sync period: every cached object is
// handed to the handlers as an update from itself to itself, and nothing is read for it.
TEST_F(ManagerSyncPeriodTest, TheInformerReplaysItsCacheAtTheSyncPeriod) {
  ManagerOptions options;
  // Below the informer's stall timeout, so moving the clock there leaves the watch alone.
  options.sync_period = absl::Seconds(60);
  std::unique_ptr<Manager> manager = NewManager(options);
  ASSERT_NE(manager, nullptr);
  Informer& informer = manager->GetInformer(ConfigMapsIn("ns"));

  absl::Mutex mu;
  std::vector<std::string> resyncs;  // GUARDED_BY(mu)
  informer.AddHandler({nullptr,
                       [&](const ObjectPtr& old_object, const ObjectPtr& new_object) {
                         if (old_object != new_object) return;
                         absl::MutexLock lock(&mu);
                         resyncs.push_back(ObjectKey(*new_object));
                       },
                       nullptr});
  const json cm = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"namespace", "ns"}, {"name", "a"}, {"resourceVersion", "5"}}}};
  fake_.ReplyTo("GET", kPath, 200,
                json{{"apiVersion", "v1"},
                     {"kind", "ConfigMapList"},
                     {"metadata", {{"resourceVersion", "10"}}},
                     {"items", {cm}}}
                    .dump());
  std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
  const absl::Time start = clock_.Now();
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(start + kWait));
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  const size_t requests = fake_.requests().size();
  // The resync thread and the watch's stall timer both sleep on the clock before it moves (else
  // the resync thread could start its 60 s after the jump).
  const absl::Time parked_by = absl::Now() + kWait;
  while (clock_.waiters() < 2 && absl::Now() < parked_by) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_GE(clock_.waiters(), 2);

  clock_.SetTime(start + absl::Seconds(60));
  {
    absl::MutexLock lock(&mu);
    auto one = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !resyncs.empty(); };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&one), kWait)) << "no resync at 60 s";
    EXPECT_EQ(resyncs, std::vector<std::string>{"ns/a"});
  }
  EXPECT_EQ(fake_.requests().size(), requests) << "a resync reads nothing from the server";
  informer.Stop();
}

}  // namespace
}  // namespace cohort::op
