// LeaderElector against an in-memory Lease API (optimistic concurrency like the real one) on a
// simulated clock. Two candidates against the real API server: tests/integration/
// leader_election_test.cc.
#include "operator/leader_election.h"

#include <unistd.h>

#include <atomic>
#include <functional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/testing/fake_transport.h"

namespace cohort::op {
namespace {

using nlohmann::json;

constexpr char kNs[] = "ops";
constexpr char kName[] = "cohort-operator";
constexpr char kLeasePath[] = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/cohort-operator";
constexpr char kLeasesPath[] = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";

std::string StatusBody(int code, const std::string& reason) {
  return json{{"kind", "Status"},  {"apiVersion", "v1"}, {"status", "Failure"},
              {"message", reason}, {"reason", reason},   {"code", code}}
      .dump();
}

// One Lease in memory, served through the fake transport with the API server's rules for GET,
// POST and PUT (a PUT whose resourceVersion is stale is a 409 Conflict). Requests can be made to
// fail, and a hook can change the Lease just before a request is served (a rival's write). The
// transports of several clients share it (FakeTransport::Connect).
class FakeLeaseApi {
 public:
  absl::StatusOr<HttpResponse> Serve(const HttpRequest& request) {
    absl::MutexLock lock(&mu_);
    if (before_request_) before_request_(request);
    return Route(request, json::parse(request.body.empty() ? "null" : request.body));
  }

  // A write by someone else: the Lease's spec becomes `spec` (resourceVersion bumped).
  void SetSpec(json spec) {
    absl::MutexLock lock(&mu_);
    if (!lease_.has_value()) {
      lease_ = json{{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", kName}, {"namespace", kNs}}}};
    }
    (*lease_)["spec"] = std::move(spec);
    (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
  }
  void SetLabel(const std::string& key, const std::string& value) {
    absl::MutexLock lock(&mu_);
    (*lease_)["metadata"]["labels"][key] = value;
    (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
  }
  std::optional<json> lease() {
    absl::MutexLock lock(&mu_);
    return lease_;
  }
  // Every request answers 500 while set.
  void FailAll(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  // Called with the lock held before each request is served; may change the Lease via
  // SetSpecLocked.
  void BeforeRequest(std::function<void(const HttpRequest&)> hook) {
    absl::MutexLock lock(&mu_);
    before_request_ = std::move(hook);
  }
  void SetSpecLocked(json spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    (*lease_)["spec"] = std::move(spec);
    (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
  }

 private:
  HttpResponse Route(const HttpRequest& request, const json& body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (fail_) return {500, {}, StatusBody(500, "InternalError")};
    if (request.method == "GET" && request.path_and_query == kLeasePath) {
      if (!lease_.has_value()) return {404, {}, StatusBody(404, "NotFound")};
      return {200, {}, lease_->dump()};
    }
    if (request.method == "POST" && request.path_and_query == kLeasesPath) {
      if (lease_.has_value()) return {409, {}, StatusBody(409, "AlreadyExists")};
      lease_ = body;
      (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
      return {201, {}, lease_->dump()};
    }
    if (request.method == "PUT" && request.path_and_query == kLeasePath) {
      if (!lease_.has_value()) return {404, {}, StatusBody(404, "NotFound")};
      if (body["metadata"].value("resourceVersion", "") !=
          (*lease_)["metadata"]["resourceVersion"].get<std::string>()) {
        return {409, {}, StatusBody(409, "Conflict")};
      }
      lease_ = body;
      (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
      return {200, {}, lease_->dump()};
    }
    return {400, {}, StatusBody(400, "BadRequest")};
  }

  absl::Mutex mu_;
  std::optional<json> lease_ ABSL_GUARDED_BY(mu_);
  int64_t rv_ ABSL_GUARDED_BY(mu_) = 100;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const HttpRequest&)> before_request_ ABSL_GUARDED_BY(mu_);
};

json Body(const testing::RecordedRequest& r) {
  return json::parse(r.request.body.empty() ? "null" : r.request.body);
}

// What an elector's callbacks reported.
struct Observed {
  absl::Mutex mu;
  int started ABSL_GUARDED_BY(mu) = 0;
  int stopped ABSL_GUARDED_BY(mu) = 0;
  absl::Time stopped_at ABSL_GUARDED_BY(mu);
  std::vector<std::string> leaders ABSL_GUARDED_BY(mu);
  std::vector<bool> status ABSL_GUARDED_BY(mu);

  int Started() {
    absl::MutexLock lock(&mu);
    return started;
  }
  int Stopped() {
    absl::MutexLock lock(&mu);
    return stopped;
  }
};

json Spec(const std::string& holder, const std::string& renew_time, int64_t transitions,
          int64_t duration = 15) {
  return {{"holderIdentity", holder},
          {"leaseDurationSeconds", duration},
          {"acquireTime", renew_time},
          {"renewTime", renew_time},
          {"leaseTransitions", transitions}};
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  LeaderElectionTest() {
    fake_.SetHandler([this](const HttpRequest& r) { return api_.Serve(r); });
  }

  ~LeaderElectionTest() override {
    fake_.Hang(false);
    electors_.clear();  // stop them before the clients go
  }

  Observed& NewObserved() { return *observed_.emplace_back(std::make_unique<Observed>()); }

  LeaderElector& NewElector(const std::string& identity, Observed& observed) {
    KubeClientOptions options;
    options.qps = 1e6;
    options.burst = 1000000;
    options.max_attempts = 1;
    clients_.push_back(std::make_unique<KubeClient>(fake_.Connect(), options, clock_));
    LeaderElectionConfig config;
    config.lease_namespace = kNs;
    config.lease_name = kName;
    config.identity = identity;
    config.callbacks.on_started_leading = [&observed] {
      absl::MutexLock lock(&observed.mu);
      ++observed.started;
    };
    config.callbacks.on_stopped_leading = [this, &observed] {
      absl::MutexLock lock(&observed.mu);
      ++observed.stopped;
      observed.stopped_at = clock_.Now();
    };
    config.callbacks.on_new_leader = [&observed](const std::string& id) {
      absl::MutexLock lock(&observed.mu);
      observed.leaders.push_back(id);
    };
    config.callbacks.set_master_status = [&observed](bool leading) {
      absl::MutexLock lock(&observed.mu);
      observed.status.push_back(leading);
    };
    absl::StatusOr<std::unique_ptr<LeaderElector>> elector =
        LeaderElector::Create(*clients_.back(), std::move(config), clock_);
    EXPECT_TRUE(elector.ok()) << elector.status();
    electors_.push_back(*std::move(elector));
    return *electors_.back();
  }

  // Waits (in real time) until `done` holds, or until `parked` threads wait on the clock and stay
  // so for a few of the simulated clock's 1 ms polls (so a thread whose deadline just passed has
  // left).
  void WaitParked(
      int parked, const std::function<bool()>& done = [] { return false; }) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    int stable = 0;
    while (stable < 3) {
      if (done()) return;
      ASSERT_LT(absl::Now(), give_up)
          << "threads did not park: " << clock_.waiters() << " of " << parked << " waiting";
      stable = clock_.waiters() == parked ? stable + 1 : 0;
      absl::SleepFor(absl::Milliseconds(1));
    }
  }

  // Waits (in real time) until no thread waits on the clock, no request is in flight and none was
  // answered for 50 polls: the elector's threads have ended, including one still finishing a
  // renewal that was due at the very time the watchdog declared the loss.
  void WaitQuiet() {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    size_t answered = fake_.requests().size();
    int stable = 0;
    while (stable < 50) {
      ASSERT_LT(absl::Now(), give_up) << "the elector's threads did not end";
      const size_t now = fake_.requests().size();
      stable = clock_.waiters() == 0 && fake_.in_flight() == 0 && now == answered ? stable + 1 : 0;
      answered = now;
      absl::SleepFor(absl::Milliseconds(1));
    }
  }

  // Moves the clock in `step`s, letting `parked` threads react after each, until `done` holds
  // (true) or `limit` has passed (false).
  bool AdvanceUntil(const std::function<bool()>& done, absl::Duration limit, int parked,
                    absl::Duration step = absl::Milliseconds(100)) {
    const absl::Time end = clock_.Now() + limit;
    while (true) {
      WaitParked(parked, done);
      if (done()) return true;
      if (clock_.Now() >= end) return false;
      clock_.Advance(step);
    }
  }

  // Waits in real time (the elector acts at once, without the clock moving).
  static bool Eventually(const std::function<bool()>& done) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (!done()) {
      if (absl::Now() >= give_up) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

  // The simulated time of the last request with `method` that succeeded.
  absl::Time LastOk(const std::string& method) {
    absl::Time t = absl::InfinitePast();
    for (const testing::RecordedRequest& r : fake_.requests()) {
      if (r.method() == method && r.status >= 200 && r.status < 300) t = r.time;
    }
    return t;
  }

  SimulatedClock clock_;
  FakeLeaseApi api_;
  testing::FakeTransport fake_{clock_};  // every client's; requests can hang
  std::vector<std::unique_ptr<KubeClient>> clients_;
  std::vector<std::unique_ptr<Observed>> observed_;  // outlives the electors reporting to it
  std::vector<std::unique_ptr<LeaderElector>> electors_;
};

TEST(LeaderElectionConfigTest, FollowsClientGoRules) {
  auto valid = [] {
    LeaderElectionConfig c;
    c.lease_namespace = "ns";
    c.lease_name = "lease";
    c.identity = "me";
    c.callbacks.on_started_leading = [] {};
    c.callbacks.on_stopped_leading = [] {};
    return c;
  };
  EXPECT_TRUE(ValidateLeaderElectionConfig(valid()).ok());

  struct Case {
    const char* what;
    std::function<void(LeaderElectionConfig&)> change;
    const char* message;
  };
  const Case cases[] = {
      {"lease == renew", [](auto& c) { c.lease_duration = absl::Seconds(10); },
       "leaseDuration must be greater than renewDeadline"},
      {"renew == 1.2 retry",
       [](auto& c) {
         c.renew_deadline = absl::Milliseconds(2400);
         c.retry_period = absl::Seconds(2);
       },
       "renewDeadline must be greater than retryPeriod*JitterFactor"},
      {"retry 0", [](auto& c) { c.retry_period = absl::ZeroDuration(); },
       "retryPeriod must be greater than zero"},
      {"no started", [](auto& c) { c.callbacks.on_started_leading = nullptr; },
       "on_started_leading"},
      {"no stopped", [](auto& c) { c.callbacks.on_stopped_leading = nullptr; },
       "on_stopped_leading"},
      {"no identity", [](auto& c) { c.identity.clear(); }, "identity"},
      {"identity not UTF-8", [](auto& c) { c.identity = "host\xff"; }, "UTF-8"},
      {"no lease name", [](auto& c) { c.lease_name.clear(); }, "name"},
      {"sub-second lease",
       [](auto& c) {
         c.lease_duration = absl::Milliseconds(900);
         c.renew_deadline = absl::Milliseconds(800);
         c.retry_period = absl::Milliseconds(100);
       },
       "at least 1s"},
  };
  for (const Case& c : cases) {
    LeaderElectionConfig config = valid();
    c.change(config);
    absl::Status s = ValidateLeaderElectionConfig(config);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.what << ": " << s;
    EXPECT_TRUE(absl::StrContains(s.message(), c.message)) << c.what << ": " << s;
  }
  // Just above the limits is fine.
  LeaderElectionConfig edge = valid();
  edge.lease_duration = absl::Seconds(3);
  edge.renew_deadline = absl::Milliseconds(2401);
  edge.retry_period = absl::Seconds(2);
  EXPECT_TRUE(ValidateLeaderElectionConfig(edge).ok());
}

TEST(LeaderElectionConfigTest, DefaultIdentityIsTheHostnameAndARandomSuffix) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  const std::string a = DefaultLeaderIdentity();
  const std::string b = DefaultLeaderIdentity();
  EXPECT_TRUE(absl::StartsWith(a, absl::StrCat(host, "_"))) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), std::string(host).size() + 1 + 36) << a;  // a UUID
}

TEST_F(LeaderElectionTest, AcquiresAnAbsentLeaseAtOnce) {
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Started() == 1; }));
  EXPECT_TRUE(e.IsLeader());
  EXPECT_EQ(e.GetLeader(), "me");
  std::optional<json> lease = api_.lease();
  ASSERT_TRUE(lease.has_value());
  const json& spec = (*lease)["spec"];
  EXPECT_EQ(spec["holderIdentity"], "me");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(spec["acquireTime"], spec["renewTime"]);
  EXPECT_EQ(spec["renewTime"], "2023-11-14T22:13:20.000000Z");  // the clock's start
  EXPECT_EQ(fake_.Count("GET"), 1);
  EXPECT_EQ(fake_.Count("POST"), 1);
  {
    absl::MutexLock lock(&seen.mu);
    EXPECT_EQ(seen.leaders, std::vector<std::string>{"me"});
    EXPECT_EQ(seen.status, (std::vector<bool>{false, true}));
  }
  e.Stop();
  EXPECT_EQ(seen.Stopped(), 1);
  EXPECT_FALSE(e.IsLeader());
  // Stop() does not release: the Lease still names this candidate.
  EXPECT_EQ((*api_.lease())["spec"]["holderIdentity"], "me");
}

TEST_F(LeaderElectionTest, RenewsEveryRetryPeriodWithTheLastResourceVersion) {
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Started() == 1; }));
  const std::string acquired = (*api_.lease())["spec"]["acquireTime"];
  ASSERT_TRUE(AdvanceUntil([&] { return fake_.Count("PUT") >= 3; }, absl::Seconds(30), 2));

  std::vector<testing::RecordedRequest> puts;
  for (const testing::RecordedRequest& r : fake_.requests()) {
    if (r.method() == "PUT") puts.push_back(r);
  }
  EXPECT_EQ(fake_.Count("GET"), 1) << "renewals take the fast path, without reading";
  std::string last_rv = "101";  // the create's
  absl::Time last_time = clock_.Now() - absl::Hours(1);
  for (const testing::RecordedRequest& put : puts) {
    EXPECT_EQ(put.status, 200);
    EXPECT_EQ(Body(put)["metadata"]["resourceVersion"], last_rv) << "optimistic concurrency";
    EXPECT_EQ(Body(put)["spec"]["holderIdentity"], "me");
    EXPECT_EQ(Body(put)["spec"]["acquireTime"], acquired);
    EXPECT_EQ(Body(put)["spec"]["leaseTransitions"], 0);
    EXPECT_GE(put.time - last_time, absl::Seconds(2));
    last_rv = std::to_string(std::stoi(last_rv) + 1);
    last_time = put.time;
  }
  EXPECT_NE(Body(puts.back())["spec"]["renewTime"], acquired);
  EXPECT_TRUE(e.IsLeader());
  EXPECT_EQ(seen.Stopped(), 0);
}

TEST_F(LeaderElectionTest, WaitsOutAnotherHoldersLeaseByTheLocalClock) {
  // The remote renewTime is decades old: only the local clock may say the Lease expired.
  json spec = Spec("other", "2000-01-01T00:00:00.000000Z", 4);
  spec["strategy"] = "OldestEmulationVersion";  // a field leader election does not manage
  api_.SetSpec(spec);
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return fake_.Count("GET") == 1; }));
  const absl::Time first_seen = clock_.Now();
  ASSERT_TRUE(AdvanceUntil([&] { return seen.Started() == 1; }, absl::Seconds(40), 2));

  EXPECT_EQ(fake_.Count("PUT"), 1) << "no attempt to write a Lease that has not expired";
  const absl::Time took_over = LastOk("PUT");
  EXPECT_GE(took_over - first_seen, absl::Seconds(15));
  EXPECT_LE(took_over - first_seen, absl::Seconds(15) + 2.2 * absl::Seconds(2) + absl::Seconds(2));
  spec = (*api_.lease())["spec"];
  EXPECT_EQ(spec["holderIdentity"], "me");
  EXPECT_EQ(spec["leaseTransitions"], 5) << "a takeover counts as a transition";
  EXPECT_EQ(spec["acquireTime"], spec["renewTime"]);
  EXPECT_EQ(spec["strategy"], "OldestEmulationVersion");
  absl::MutexLock lock(&seen.mu);
  EXPECT_EQ(seen.leaders, (std::vector<std::string>{"other", "me"}));
}

TEST_F(LeaderElectionTest, AChangedLeaseRestartsTheExpiry) {
  api_.SetSpec(Spec("other", "2023-11-14T22:13:20.000000Z", 0));
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return fake_.Count("GET") == 1; }));
  const absl::Time start = clock_.Now();
  ASSERT_TRUE(AdvanceUntil([&] { return clock_.Now() - start >= absl::Seconds(10); },
                           absl::Seconds(11), 2));
  api_.SetSpec(Spec("other", "2023-11-14T22:13:30.000000Z", 0));  // the holder renewed
  const absl::Time renewed = clock_.Now();
  ASSERT_TRUE(AdvanceUntil([&] { return seen.Started() == 1; }, absl::Seconds(40), 2));
  EXPECT_GE(LastOk("PUT") - renewed, absl::Seconds(15));
}

TEST_F(LeaderElectionTest, LosesLeadershipWhenRenewalsFailForTheRenewDeadline) {
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Started() == 1; }));
  ASSERT_TRUE(AdvanceUntil([&] { return fake_.Count("PUT") >= 2; }, absl::Seconds(10), 2));
  api_.FailAll(true);
  const absl::Time last_ok = LastOk("PUT");
  // After losing, both threads end: nothing waits on the clock any more.
  ASSERT_TRUE(AdvanceUntil([&] { return seen.Stopped() == 1; }, absl::Seconds(30), 2));
  absl::Time lost_at;
  {
    absl::MutexLock lock(&seen.mu);
    lost_at = seen.stopped_at;
    EXPECT_EQ(seen.status, (std::vector<bool>{false, true, false}));
  }
  EXPECT_GE(lost_at - last_ok, absl::Seconds(10));
  EXPECT_LE(lost_at - last_ok, absl::Seconds(11));
  EXPECT_FALSE(e.IsLeader());
  EXPECT_GE(fake_.Count("GET"), 2) << "failed fast-path renewals fall back to reading";

  // Losing is final: no more attempts, even once the API answers again.
  api_.FailAll(false);
  WaitQuiet();
  const size_t requests = fake_.requests().size();
  ASSERT_FALSE(AdvanceUntil([] { return false; }, absl::Seconds(20), 0));
  EXPECT_EQ(fake_.requests().size(), requests);
  EXPECT_EQ(seen.Started(), 1);
  e.Stop();
  EXPECT_EQ(seen.Stopped(), 1) << "on_stopped_leading is called once";
}

TEST_F(LeaderElectionTest, LosesLeadershipAtTheDeadlineWhileARenewalHangs) {
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Started() == 1; }));
  fake_.Hang(true);
  const absl::Time acquired = LastOk("POST");
  // The loop thread blocks in the renewal; only the watchdog waits on the clock.
  ASSERT_TRUE(AdvanceUntil([&] { return fake_.in_flight() == 1 && clock_.waiters() == 1; },
                           absl::Seconds(5), 2));
  ASSERT_TRUE(AdvanceUntil([&] { return seen.Stopped() == 1; }, absl::Seconds(30), 1));
  absl::Time lost_at;
  {
    absl::MutexLock lock(&seen.mu);
    lost_at = seen.stopped_at;
  }
  EXPECT_GE(lost_at - acquired, absl::Seconds(10));
  EXPECT_LE(lost_at - acquired, absl::Seconds(11));
  EXPECT_FALSE(e.IsLeader());
  fake_.Hang(false);
  e.Stop();
  EXPECT_EQ(seen.Stopped(), 1);
}

TEST_F(LeaderElectionTest, AConflictOnTakeoverIsALostRace) {
  api_.SetSpec(Spec("other", "2023-11-14T22:13:20.000000Z", 2));
  // A rival takes the Lease just before our takeover is written.
  api_.BeforeRequest([this, raced = false](const HttpRequest& r) mutable {
    if (r.method == "PUT" && !raced) {
      raced = true;
      api_.SetSpecLocked(Spec("rival", "2023-11-14T22:13:40.000000Z", 3));
    }
  });
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(AdvanceUntil([&] { return fake_.Count("PUT") == 1; }, absl::Seconds(30), 2));
  const absl::Time lost_race = clock_.Now();
  EXPECT_EQ(fake_.requests().back().status, 409);
  EXPECT_FALSE(e.IsLeader());
  // The next read shows the rival with a fresh Lease: no further write for its duration.
  ASSERT_FALSE(AdvanceUntil([&] { return fake_.Count("PUT") > 1; }, absl::Seconds(14), 2));
  EXPECT_EQ(seen.Started(), 0);
  EXPECT_EQ(e.GetLeader(), "rival");
  EXPECT_EQ((*api_.lease())["spec"]["holderIdentity"], "rival");
  EXPECT_EQ((*api_.lease())["spec"]["leaseTransitions"], 3);
  // When the rival does not renew, its Lease expires like any other.
  ASSERT_TRUE(AdvanceUntil([&] { return seen.Started() == 1; }, absl::Seconds(20), 2));
  EXPECT_GE(LastOk("PUT") - lost_race, absl::Seconds(15));
  EXPECT_EQ((*api_.lease())["spec"]["leaseTransitions"], 4);
}

TEST_F(LeaderElectionTest, ALeaderYieldsAtOnceWhenTheLeaseWasTaken) {
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Started() == 1; }));
  api_.SetSpec(Spec("usurper", "2023-11-14T22:13:21.000000Z", 1));
  const absl::Time taken = clock_.Now();
  ASSERT_TRUE(AdvanceUntil([&] { return seen.Stopped() == 1; }, absl::Seconds(10), 2));
  absl::Time lost_at;
  {
    absl::MutexLock lock(&seen.mu);
    lost_at = seen.stopped_at;
    EXPECT_EQ(seen.leaders, (std::vector<std::string>{"me", "usurper"}));
  }
  EXPECT_LE(lost_at - taken, absl::Seconds(2) + absl::Milliseconds(200))
      << "the first renewal after the takeover ends leadership, not the deadline";
  EXPECT_FALSE(e.IsLeader());
  EXPECT_EQ(e.GetLeader(), "usurper");
  EXPECT_EQ((*api_.lease())["spec"]["holderIdentity"], "usurper") << "the leader did not fight";
}

TEST_F(LeaderElectionTest, AConflictWithTheLeaseStillOursKeepsLeading) {
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Started() == 1; }));
  api_.SetLabel("touched-by", "someone");  // a new resourceVersion, same holder
  ASSERT_TRUE(AdvanceUntil([&] { return fake_.Count("PUT") >= 3; }, absl::Seconds(10), 2));
  std::vector<int> put_statuses;
  for (const testing::RecordedRequest& r : fake_.requests()) {
    if (r.method() == "PUT") put_statuses.push_back(r.status);
  }
  EXPECT_EQ(put_statuses, (std::vector<int>{409, 200, 200}))
      << "the stale fast path conflicts; the re-read Lease is renewed";
  EXPECT_EQ(fake_.Count("GET"), 2);
  EXPECT_TRUE(e.IsLeader());
  EXPECT_EQ(seen.Stopped(), 0);
  EXPECT_EQ((*api_.lease())["metadata"]["labels"]["touched-by"], "someone");
}

TEST_F(LeaderElectionTest, ReleaseHandsTheLeaseToAStandbyAtOnce) {
  Observed& seen_a = NewObserved();
  Observed& seen_b = NewObserved();
  LeaderElector& a = NewElector("a", seen_a);
  a.Start();
  ASSERT_TRUE(Eventually([&] { return seen_a.Started() == 1; }));
  LeaderElector& b = NewElector("b", seen_b);
  b.Start();
  ASSERT_TRUE(AdvanceUntil([&] { return b.GetLeader() == "a"; }, absl::Seconds(5), 4));

  ASSERT_TRUE(a.Release().ok());
  EXPECT_EQ(seen_a.Stopped(), 1);
  EXPECT_FALSE(a.IsLeader());
  json spec = (*api_.lease())["spec"];
  EXPECT_EQ(spec["holderIdentity"], "");
  EXPECT_EQ(spec["leaseDurationSeconds"], 1);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  const absl::Time released = clock_.Now();

  ASSERT_TRUE(AdvanceUntil([&] { return seen_b.Started() == 1; }, absl::Seconds(10), 2));
  EXPECT_LE(LastOk("PUT") - released, 2.2 * absl::Seconds(2) + absl::Milliseconds(200))
      << "the next attempt takes a released Lease";
  spec = (*api_.lease())["spec"];
  EXPECT_EQ(spec["holderIdentity"], "b");
  EXPECT_EQ(spec["leaseTransitions"], 1);
  // Releasing again (nothing held) is a no-op.
  EXPECT_TRUE(a.Release().ok());
  EXPECT_EQ((*api_.lease())["spec"]["holderIdentity"], "b");
}

TEST_F(LeaderElectionTest, TwoCandidatesNeverLeadAtOnceAndTheStandbyOutlivesAStoppedLeader) {
  Observed& seen_a = NewObserved();
  Observed& seen_b = NewObserved();
  LeaderElector& a = NewElector("a", seen_a);
  LeaderElector& b = NewElector("b", seen_b);
  a.Start();
  b.Start();
  bool both = false;
  ASSERT_FALSE(AdvanceUntil(
      [&] {
        both = both || (a.IsLeader() && b.IsLeader());
        return both;
      },
      absl::Seconds(30), 4));
  ASSERT_NE(a.IsLeader(), b.IsLeader());
  LeaderElector& leader = a.IsLeader() ? a : b;
  LeaderElector& standby = a.IsLeader() ? b : a;
  Observed& standby_seen = a.IsLeader() ? seen_b : seen_a;
  EXPECT_EQ(standby.GetLeader(), leader.identity());

  leader.Stop();  // dies without releasing
  const absl::Time last_renewal = LastOk("PUT");
  ASSERT_TRUE(AdvanceUntil([&] { return standby_seen.Started() == 1; }, absl::Seconds(30), 2));
  EXPECT_GE(LastOk("PUT") - last_renewal, absl::Seconds(15));
  EXPECT_EQ((*api_.lease())["spec"]["holderIdentity"], standby.identity());
  EXPECT_EQ((*api_.lease())["spec"]["leaseTransitions"], 1);
}

TEST_F(LeaderElectionTest, StopIsPromptWhileWaiting) {
  api_.SetSpec(Spec("other", "2023-11-14T22:13:20.000000Z", 0));
  Observed& seen = NewObserved();
  LeaderElector& e = NewElector("me", seen);
  e.Start();
  WaitParked(2);
  e.Stop();  // the clock never moves: Stop must not wait for the retry period
  EXPECT_EQ(clock_.waiters(), 0);
  EXPECT_EQ(seen.Started(), 0);
  EXPECT_EQ(seen.Stopped(), 0) << "on_stopped_leading only ends a leadership";
}

}  // namespace
}  // namespace cohort::op
