// The informer against the fake transport on a simulated clock: the paginated first list, watch
// bodies cut anywhere, bookmarks, re-watches from the last resourceVersion, 410 Gone (in the stream
// and as an HTTP answer) relisting and delivering the differences, stall detection, reconnect
// backoff with jitter, namespace scoping, metadata-only requests, transforms, indexes and resync.
// Against the real API server: tests/integration/informer_test.cc.
//
// Determinism: the test never sleeps. It waits (in real time, with a deadline) for conditions: a
// handler call, a recorded request, a watch stream whose reader has consumed everything and waits
// for more (FakeStream::AwaitIdleReader), or the set of deadlines the informer's threads wait for
// on the clock (DeadlineClock), and then moves the simulated time exactly to one of them.
#include "operator/informer.h"

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "operator/testing/fake_transport.h"

namespace cohort::op {
namespace {

using nlohmann::json;
using testing::FakeStream;
using testing::RecordedRequest;

// Every wait for a condition gives up after this much real time (generous for TSan on a busy
// machine; a passing run waits milliseconds).
constexpr absl::Duration kWait = absl::Seconds(60);

constexpr char kPath[] = "/api/v1/namespaces/ns/configmaps";

// A SimulatedClock that shows the test the deadlines its waiters wait for, so the test can move
// the time exactly to the next one (a backoff, a stalled read, a resync) instead of guessing.
class DeadlineClock final : public Clock {
 public:
  absl::Time Now() const override { return sim_.Now(); }
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    {
      absl::MutexLock lock(&mu_);
      deadlines_.insert(deadline);
    }
    const bool held = sim_.AwaitWithDeadline(mu, cond, deadline);
    absl::MutexLock lock(&mu_);
    deadlines_.erase(deadlines_.find(deadline));
    return held;
  }

  // Moves the time to `t` or, as SimulatedClock keeps whole nanoseconds, just past it (a jittered
  // deadline has fractions of one, and a waiter wakes only once Now() >= its deadline).
  void SetTime(absl::Time t) {
    int64_t ns = absl::ToUnixNanos(t);
    if (absl::FromUnixNanos(ns) < t) ++ns;
    sim_.SetTime(absl::FromUnixNanos(ns));
  }

  // Blocks (real time, at most kWait) until `done` holds for the deadlines waited for now; returns
  // them, or nullopt on timeout.
  std::optional<std::multiset<absl::Time>> AwaitDeadlines(
      const std::function<bool(const std::multiset<absl::Time>&)>& done) {
    absl::MutexLock lock(&mu_);
    auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done(deadlines_); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&holds), kWait)) return std::nullopt;
    return deadlines_;
  }
  // Waits until exactly `n` deadlines are waited for and returns them (empty on timeout).
  std::multiset<absl::Time> AwaitWaiters(size_t n) {
    return AwaitDeadlines([n](const auto& d) { return d.size() == n; })
        .value_or(std::multiset<absl::Time>{});
  }

 private:
  SimulatedClock sim_;
  absl::Mutex mu_;
  std::multiset<absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
};

std::string Rv(const json& object) {
  return object["metadata"].value("resourceVersion", std::string());
}

// Handler calls as "add:ns/a@1", "update:ns/a@1->2", "delete:ns/a@2", and "resync:ns/a@2" for an
// update whose old and new object are the same one.
class Recorder {
 public:
  InformerHandler Handler() {
    return {
        [this](const ObjectPtr& o) { Add(absl::StrCat("add:", ObjectKey(*o), "@", Rv(*o)), o); },
        [this](const ObjectPtr& old, const ObjectPtr& o) {
          Add(old == o ? absl::StrCat("resync:", ObjectKey(*o), "@", Rv(*o))
                       : absl::StrCat("update:", ObjectKey(*o), "@", Rv(*old), "->", Rv(*o)),
              o);
        },
        [this](const ObjectPtr& o) {
          Add(absl::StrCat("delete:", ObjectKey(*o), "@", Rv(*o)), o);
        }};
  }
  std::vector<std::string> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // The (new) object of each call.
  std::vector<ObjectPtr> objects() {
    absl::MutexLock lock(&mu_);
    return objects_;
  }
  // Waits until at least `n` calls were recorded.
  bool AwaitCount(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    events_.clear();
    objects_.clear();
  }

 private:
  void Add(std::string e, const ObjectPtr& o) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(e));
    objects_.push_back(o);
  }

  absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
  std::vector<ObjectPtr> objects_ ABSL_GUARDED_BY(mu_);
};

json ConfigMapIn(const std::string& ns, const std::string& name, const std::string& rv,
                 json data = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}}},
          {"data", std::move(data)}};
}
json ConfigMap(const std::string& name, const std::string& rv, json data = json::object()) {
  return ConfigMapIn("ns", name, rv, std::move(data));
}

std::string ListBody(json items, const std::string& rv, const std::string& continue_token = "") {
  json list = {{"apiVersion", "v1"},
               {"kind", "ConfigMapList"},
               {"metadata", {{"resourceVersion", rv}}},
               {"items", std::move(items)}};
  if (!continue_token.empty()) list["metadata"]["continue"] = continue_token;
  return list.dump();
}

std::string Event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}
std::string Bookmark(const std::string& rv) {
  return Event(
      "BOOKMARK",
      {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"resourceVersion", rv}}}});
}
json GoneStatus() {
  return {{"apiVersion", "v1"},
          {"kind", "Status"},
          {"metadata", json::object()},
          {"status", "Failure"},
          {"message", "too old resource version: 10 (15)"},
          {"reason", "Expired"},
          {"code", 410}};
}

// Pushes `body` to `stream` cut at `cuts` (sorted byte offsets); returns the number of chunks.
int64_t PushCut(FakeStream& stream, const std::string& body, const std::vector<size_t>& cuts) {
  size_t from = 0;
  int64_t chunks = 0;
  for (size_t cut : cuts) {
    if (cut <= from || cut >= body.size()) continue;
    stream.Push(body.substr(from, cut - from));
    ++chunks;
    from = cut;
  }
  stream.Push(body.substr(from));
  return chunks + 1;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> Keys(const std::vector<ObjectPtr>& objects) {
  std::vector<std::string> keys;
  for (const ObjectPtr& o : objects) keys.push_back(ObjectKey(*o));
  return Sorted(keys);
}

// Every test runs twice: with the parsed trees cached, and with InformerOptions::compact_cache.
class InformerTest : public ::testing::TestWithParam<bool> {
 protected:
  InformerTest() {
    KubeClientOptions options;
    options.qps = 1e6;
    options.burst = 1'000'000;
    options.max_attempts = 1;  // the informer's own retries are under test, not the client's
    client_ = std::make_unique<KubeClient>(fake_.Connect(), options, clock_);
  }

  InformerOptions Options(std::vector<std::string> namespaces = {"ns"}) {
    InformerOptions options;
    options.type = resources::kConfigMaps;
    options.namespaces = std::move(namespaces);
    options.compact_cache = GetParam();
    return options;
  }

  Informer& Start(InformerOptions options) {
    informer_ = std::make_unique<Informer>(*client_, std::move(options), clock_);
    informer_->AddHandler(events_.Handler());
    informer_->Start();
    return *informer_;
  }

  // The recorded list (Send) or watch (Open) requests for `path`.
  std::vector<RecordedRequest> Requests(const std::string& path, bool watches) {
    std::vector<RecordedRequest> out;
    for (const RecordedRequest& r : fake_.requests()) {
      if (r.Path() == path && r.streamed == watches) out.push_back(r);
    }
    return out;
  }
  // Waits until, besides the waits in `except` (parked stream readers), exactly one thread waits
  // on the clock for a deadline still ahead, and returns that deadline. (A waiter whose deadline
  // the test just reached is on its way out.)
  absl::Time AwaitSleep(const std::multiset<absl::Time>& except = {}) {
    absl::Time found = absl::InfiniteFuture();
    const bool slept =
        clock_
            .AwaitDeadlines([&](const std::multiset<absl::Time>& waiting) {
              if (!std::includes(waiting.begin(), waiting.end(), except.begin(), except.end())) {
                return false;
              }
              std::multiset<absl::Time> rest = waiting;
              for (absl::Time t : except) rest.erase(rest.find(t));
              int ahead = 0;
              for (absl::Time t : rest) {
                if (t > clock_.Now()) {
                  ++ahead;
                  found = t;
                }
              }
              return ahead == 1;
            })
            .has_value();
    if (!slept) ADD_FAILURE() << "no thread went to sleep on the clock";
    return found;
  }

  DeadlineClock clock_;
  testing::FakeTransport fake_{clock_};
  std::unique_ptr<KubeClient> client_;
  Recorder events_;
  std::unique_ptr<Informer> informer_;  // first to go: Stop() joins its threads
};

TEST_P(InformerTest, TheFirstListIsPaginatedAndDeliveredAsAdds) {
  InformerOptions options = Options();
  options.list_page_size = 2;
  fake_.ReplyTo("GET", kPath, 200,
                ListBody({ConfigMap("a", "3"), ConfigMap("b", "4")}, "10", "page-2"));
  fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("c", "5")}, "10"));
  std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
  Informer& informer = Start(options);
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  EXPECT_TRUE(informer.HasSynced());
  EXPECT_TRUE(informer.WaitForSync(clock_.Now()));
  EXPECT_EQ(events_.events(), (std::vector<std::string>{"add:ns/a@3", "add:ns/b@4", "add:ns/c@5"}));
  EXPECT_EQ(informer.Size(), 3u);

  const std::vector<RecordedRequest> lists = Requests(kPath, false);
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0].QueryParam("limit"), "2");
  EXPECT_EQ(lists[0].QueryParam("continue"), std::nullopt);
  EXPECT_EQ(lists[1].QueryParam("limit"), "2");
  EXPECT_EQ(lists[1].QueryParam("continue"), "page-2");
  EXPECT_EQ(lists[0].Header("Accept"), "") << "full objects";

  const std::vector<RecordedRequest> watches = Requests(kPath, true);
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0].QueryParam("watch"), "1");
  EXPECT_EQ(watches[0].QueryParam("resourceVersion"), "10") << "the list's, not an item's";
  EXPECT_EQ(watches[0].QueryParam("allowWatchBookmarks"), "true");
  const int timeout = std::stoi(watches[0].QueryParam("timeoutSeconds").value_or("0"));
  EXPECT_GE(timeout, 300);
  EXPECT_LT(timeout, 600);

  const Informer::Stats stats = informer.stats();
  EXPECT_EQ(stats.lists, 1);
  EXPECT_EQ(stats.watches, 1);
  EXPECT_EQ(stats.watches_open, 1);
  EXPECT_EQ(stats.events, 0);

  informer.Stop();
  EXPECT_TRUE(watch->cancelled()) << "Stop ends the open watch";
  informer.Stop();  // idempotent
}

TEST_P(InformerTest, WatchEventsAreTheSameWhereverTheBodyIsCut) {
  const std::string greeting = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x98\x95 \xE6\x97\xA5\xE6\x9C\xAC";
  const std::string emoji = "\xF0\x9F\x99\x82";  // 4 bytes
  json d = ConfigMap("d", "11", {{"greeting", greeting}});
  d["metadata"]["annotations"] = {{"note", emoji + emoji}};
  const std::string body = Event("ADDED", d) +
                           Event("MODIFIED", ConfigMap("a", "12", {{"k", "na\xC3\xAFve"}})) +
                           Event("DELETED", ConfigMap("b", "13")) + Bookmark("14");

  // Cut plans: fixed sizes (1 byte cuts every character), after the first byte of every
  // multi-byte character, at and around every '\n', and the whole body at once.
  std::vector<std::pair<std::string, std::vector<size_t>>> plans;
  for (size_t size : {1, 2, 3, 5, 7, 64}) {
    std::vector<size_t> cuts;
    for (size_t at = size; at < body.size(); at += size) cuts.push_back(at);
    plans.emplace_back(absl::StrCat("every ", size, " bytes"), cuts);
  }
  std::vector<size_t> mid_utf8, around_newlines;
  for (size_t i = 0; i < body.size(); ++i) {
    if ((static_cast<unsigned char>(body[i]) & 0xC0) == 0xC0) mid_utf8.push_back(i + 1);
    if (body[i] == '\n') {
      around_newlines.push_back(i);
      around_newlines.push_back(i + 1);
    }
  }
  ASSERT_GE(mid_utf8.size(), 8u);
  plans.emplace_back("inside every UTF-8 character", mid_utf8);
  plans.emplace_back("at every newline", around_newlines);
  plans.emplace_back("in one chunk", std::vector<size_t>{});

  for (const auto& [plan, cuts] : plans) {
    SCOPED_TRACE(plan);
    events_.Clear();
    fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("a", "1"), ConfigMap("b", "1")}, "10"));
    std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
    Informer& informer = Start(Options());
    const int64_t chunks = PushCut(*watch, body, cuts);
    ASSERT_TRUE(watch->AwaitIdleReader(kWait));
    EXPECT_EQ(watch->chunks_read(), chunks);

    EXPECT_EQ(events_.events(), (std::vector<std::string>{"add:ns/a@1", "add:ns/b@1", "add:ns/d@11",
                                                          "update:ns/a@1->12", "delete:ns/b@1"}))
        << "a delete hands over the object as it was cached";
    ObjectPtr cached = informer.Get("ns", "d");
    ASSERT_NE(cached, nullptr);
    EXPECT_EQ((*cached)["data"]["greeting"], greeting);
    EXPECT_EQ((*cached)["metadata"]["annotations"]["note"], emoji + emoji);
    EXPECT_EQ((*informer.Get("ns", "a"))["data"]["k"], "na\xC3\xAFve");
    EXPECT_EQ(informer.Get("ns", "b"), nullptr);
    EXPECT_EQ(informer.stats().events, 3) << "the bookmark is no event";
    informer_.reset();
  }
}

TEST_P(InformerTest, ABookmarkMovesTheResourceVersionAndDeliversNothing) {
  fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("a", "5")}, "10"));
  std::shared_ptr<FakeStream> first = fake_.AddStream(kPath);
  std::shared_ptr<FakeStream> second = fake_.AddStream(kPath);
  std::shared_ptr<FakeStream> third = fake_.AddStream(kPath);
  Informer& informer = Start(Options());

  first->Push(Event("ADDED", ConfigMap("b", "11")));
  first->Push(Bookmark("20"));
  ASSERT_TRUE(first->AwaitIdleReader(kWait));
  EXPECT_EQ(events_.events(), (std::vector<std::string>{"add:ns/a@5", "add:ns/b@11"}));
  // The server's timeoutSeconds ran out: re-watch at once (the clock stands still, so a backoff
  // would never end), from the bookmark.
  first->End();

  ASSERT_TRUE(second->AwaitIdleReader(kWait));
  second->Push(Event("MODIFIED", ConfigMap("a", "21")));
  second->End();
  ASSERT_TRUE(third->AwaitIdleReader(kWait));

  const std::vector<RecordedRequest> watches = Requests(kPath, true);
  ASSERT_EQ(watches.size(), 3u);
  EXPECT_EQ(watches[0].QueryParam("resourceVersion"), "10");
  EXPECT_EQ(watches[1].QueryParam("resourceVersion"), "20") << "the bookmark's";
  EXPECT_EQ(watches[2].QueryParam("resourceVersion"), "21") << "the last event's";
  EXPECT_EQ(events_.events(),
            (std::vector<std::string>{"add:ns/a@5", "add:ns/b@11", "update:ns/a@5->21"}));
  const Informer::Stats stats = informer.stats();
  EXPECT_EQ(stats.lists, 1) << "a normal end is no reason to relist";
  EXPECT_EQ(stats.watches, 3);
  EXPECT_EQ(stats.events, 2);
}

TEST_P(InformerTest, AFinalEventWithoutANewlineIsDelivered) {
  fake_.ReplyTo("GET", kPath, 200, ListBody({}, "10"));
  std::shared_ptr<FakeStream> first = fake_.AddStream(kPath);
  std::shared_ptr<FakeStream> second = fake_.AddStream(kPath);
  Informer& informer = Start(Options());
  std::string last = Event("ADDED", ConfigMap("y", "12"));
  last.pop_back();
  first->Push(Event("ADDED", ConfigMap("x", "11")) + last);
  first->End();
  ASSERT_TRUE(second->AwaitIdleReader(kWait));
  EXPECT_EQ(events_.events(), (std::vector<std::string>{"add:ns/x@11", "add:ns/y@12"}));
  EXPECT_NE(informer.Get("ns", "y"), nullptr);
  EXPECT_EQ(Requests(kPath, true)[1].QueryParam("resourceVersion"), "12");
}

TEST_P(InformerTest, AGoneErrorInTheStreamRelistsAndDeliversTheDifferences) {
  fake_.ReplyTo("GET", kPath, 200,
                ListBody({ConfigMap("a", "1"), ConfigMap("b", "1"), ConfigMap("c", "1")}, "10"));
  std::shared_ptr<FakeStream> first = fake_.AddStream(kPath);
  // While the informer was not watching: b changed, c and e were deleted, d was created.
  fake_.ReplyTo("GET", kPath, 200,
                ListBody({ConfigMap("a", "1"), ConfigMap("b", "5"), ConfigMap("d", "6")}, "30"));
  std::shared_ptr<FakeStream> second = fake_.AddStream(kPath);
  Informer& informer = Start(Options());

  first->Push(Event("ADDED", ConfigMap("e", "12")));
  ASSERT_TRUE(first->AwaitIdleReader(kWait));
  events_.Clear();
  first->Push(Event("ERROR", GoneStatus()));  // relisted at once: the clock stands still
  ASSERT_TRUE(second->AwaitIdleReader(kWait));

  EXPECT_EQ(Sorted(events_.events()),
            (std::vector<std::string>{"add:ns/d@6", "delete:ns/c@1", "delete:ns/e@12",
                                      "update:ns/b@1->5"}))
      << "each difference exactly once; a, unchanged, not at all";
  EXPECT_EQ(Keys(informer.List()), (std::vector<std::string>{"ns/a", "ns/b", "ns/d"}));
  EXPECT_EQ(Rv(*informer.Get("ns", "b")), "5");
  const Informer::Stats stats = informer.stats();
  EXPECT_EQ(stats.relists_after_gone, 1);
  EXPECT_EQ(stats.lists, 2);
  EXPECT_EQ(stats.watches, 2);
  const std::vector<RecordedRequest> watches = Requests(kPath, true);
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_EQ(watches[1].QueryParam("resourceVersion"), "30") << "from the relist";

  // The watch after the relist goes on as usual.
  events_.Clear();
  second->Push(Event("DELETED", ConfigMap("d", "31")));
  ASSERT_TRUE(second->AwaitIdleReader(kWait));
  EXPECT_EQ(events_.events(), (std::vector<std::string>{"delete:ns/d@6"}));
}

TEST_P(InformerTest, AGoneAnswerToTheWatchRelistsAndDeliversTheDifferences) {
  fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("a", "1"), ConfigMap("b", "1")}, "10"));
  fake_.ReplyStream(kPath, 410, GoneStatus().dump());
  fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("a", "2"), ConfigMap("c", "3")}, "40"));
  std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
  Informer& informer = Start(Options());

  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  EXPECT_EQ(events_.events(),
            (std::vector<std::string>{"add:ns/a@1", "add:ns/b@1", "update:ns/a@1->2", "add:ns/c@3",
                                      "delete:ns/b@1"}));
  const Informer::Stats stats = informer.stats();
  EXPECT_EQ(stats.relists_after_gone, 1);
  EXPECT_EQ(stats.lists, 2);
  EXPECT_EQ(stats.watches, 2);
  EXPECT_EQ(stats.watches_open, 1) << "the refused watch is not open";
  EXPECT_EQ(Requests(kPath, true)[1].QueryParam("resourceVersion"), "40");
  EXPECT_EQ(Keys(informer.List()), (std::vector<std::string>{"ns/a", "ns/c"}));
}

TEST_P(InformerTest, AStalledWatchIsDeclaredDeadAndReplaced) {
  InformerOptions options = Options();
  options.stall_timeout = absl::Seconds(150);
  fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("a", "1")}, "10"));
  std::shared_ptr<FakeStream> first = fake_.AddStream(kPath);
  std::shared_ptr<FakeStream> second = fake_.AddStream(kPath);
  Informer& informer = Start(options);
  const absl::Time start = clock_.Now();

  // Bytes keep the connection alive: the stall deadline counts from the last chunk.
  ASSERT_TRUE(first->AwaitIdleReader(kWait));
  EXPECT_EQ(clock_.AwaitWaiters(1), std::multiset<absl::Time>{start + absl::Seconds(150)});
  clock_.SetTime(start + absl::Seconds(100));
  first->Push(Event("ADDED", ConfigMap("b", "11")));
  ASSERT_TRUE(first->AwaitIdleReader(kWait));
  const absl::Time stall_at = start + absl::Seconds(250);
  EXPECT_EQ(clock_.AwaitWaiters(1), std::multiset<absl::Time>{stall_at});
  EXPECT_EQ(informer.stats().stalls, 0);

  // Silence for stall_timeout: stalls++, a backoff, then a watch from the last resourceVersion.
  clock_.SetTime(stall_at);
  const absl::Time retry_at = AwaitSleep();
  EXPECT_EQ(informer.stats().stalls, 1);
  EXPECT_GE(retry_at - stall_at, options.initial_backoff);
  EXPECT_LE(retry_at - stall_at, options.initial_backoff * 1.5);
  clock_.SetTime(retry_at);
  const absl::Time retried = clock_.Now();
  ASSERT_TRUE(second->AwaitIdleReader(kWait));
  const std::vector<RecordedRequest> watches = Requests(kPath, true);
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_EQ(watches[1].QueryParam("resourceVersion"), "11");
  EXPECT_EQ(watches[1].time, retried);
  EXPECT_EQ(informer.stats().lists, 1) << "a stall is no reason to relist";
  second->Push(Event("ADDED", ConfigMap("c", "12")));
  ASSERT_TRUE(second->AwaitIdleReader(kWait));
  EXPECT_EQ(events_.events(),
            (std::vector<std::string>{"add:ns/a@1", "add:ns/b@11", "add:ns/c@12"}));
}

TEST_P(InformerTest, ReconnectsBackOffExponentiallyWithJitterAndResetAfterHealth) {
  const InformerOptions options = Options();  // 800 ms → 30 s, reset after 2 min
  fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("a", "1")}, "10"));
  constexpr int kFailures = 8;
  for (int i = 0; i < kFailures; ++i) {
    fake_.FailOpen(kPath, absl::UnavailableError("connection refused"));
  }
  std::shared_ptr<FakeStream> healthy = fake_.AddStream(kPath);
  Informer& informer = Start(options);

  // Each failed watch sleeps for backoff × [1, 1.5); the backoff doubles up to max_backoff.
  absl::Duration backoff = options.initial_backoff;
  std::vector<double> factors;
  std::vector<absl::Time> woken;
  for (int i = 0; i < kFailures; ++i) {
    SCOPED_TRACE(absl::StrCat("failure ", i + 1));
    const absl::Time wake = AwaitSleep();
    const absl::Duration sleep = wake - clock_.Now();
    EXPECT_GE(sleep, backoff);
    EXPECT_LE(sleep, backoff * 1.5);
    factors.push_back(absl::FDivDuration(sleep, backoff));
    clock_.SetTime(wake);
    woken.push_back(clock_.Now());
    backoff = std::min(backoff * 2, options.max_backoff);
  }
  EXPECT_EQ(backoff, options.max_backoff) << "the cap was reached";
  EXPECT_GT(*std::max_element(factors.begin(), factors.end()),
            *std::min_element(factors.begin(), factors.end()))
      << "jittered";
  ASSERT_TRUE(healthy->AwaitIdleReader(kWait));
  const std::vector<RecordedRequest> watches = Requests(kPath, true);
  ASSERT_EQ(watches.size(), static_cast<size_t>(kFailures + 1));
  for (int i = 0; i < kFailures; ++i) {
    EXPECT_EQ(watches[i + 1].time, woken[i]) << "a retry comes when its backoff ends";
    EXPECT_EQ(watches[i + 1].QueryParam("resourceVersion"), "10");
  }
  EXPECT_EQ(informer.stats().watches, kFailures + 1);
  EXPECT_EQ(informer.stats().watches_open, 1);
  EXPECT_EQ(informer.stats().lists, 1);

  // Two healthy minutes later the connection breaks: the backoff starts over.
  fake_.FailOpen(kPath, absl::UnavailableError("connection refused"));
  const absl::Time opened = clock_.Now();
  clock_.SetTime(opened + options.backoff_reset_after);
  healthy->Break(absl::UnavailableError("connection reset"));
  ASSERT_TRUE(healthy->AwaitFinished(kWait));
  absl::Time wake = AwaitSleep();
  EXPECT_GE(wake - clock_.Now(), options.initial_backoff);
  EXPECT_LE(wake - clock_.Now(), options.initial_backoff * 1.5);
  clock_.SetTime(wake);
  wake = AwaitSleep();  // the failed open right after is no health: the backoff doubles
  EXPECT_GE(wake - clock_.Now(), options.initial_backoff * 2);
  EXPECT_LE(wake - clock_.Now(), options.initial_backoff * 3);

  informer.Stop();  // returns while the informer sleeps, without the clock moving
}

TEST_P(InformerTest, EachNamespaceHasItsOwnListAndWatch) {
  const std::string path_a = "/api/v1/namespaces/a/configmaps";
  const std::string path_b = "/api/v1/namespaces/b/configmaps";
  fake_.ReplyTo("GET", path_a, 200, ListBody({ConfigMapIn("a", "x", "1")}, "10"));
  std::shared_ptr<FakeStream> watch_a = fake_.AddStream(path_a);
  // b's first list fails: a is synced, the informer is not.
  fake_.ReplyTo("GET", path_b, 500, R"({"kind":"Status","code":500,"reason":"InternalError"})");
  fake_.ReplyTo("GET", path_b, 200, ListBody({ConfigMapIn("b", "y", "2")}, "20"));
  std::shared_ptr<FakeStream> watch_b = fake_.AddStream(path_b);
  InformerOptions options = Options({"a", "b"});
  options.label_selector = "app=web";
  Informer& informer = Start(options);

  ASSERT_TRUE(watch_a->AwaitIdleReader(kWait));
  const absl::Time stall_a = clock_.Now() + options.stall_timeout;
  const absl::Time retry_b = AwaitSleep({stall_a});
  EXPECT_FALSE(informer.HasSynced());
  EXPECT_FALSE(informer.WaitForSync(clock_.Now())) << "b has not listed";
  EXPECT_EQ(Keys(informer.List()), (std::vector<std::string>{"a/x"}));
  clock_.SetTime(retry_b);
  ASSERT_TRUE(watch_b->AwaitIdleReader(kWait));
  EXPECT_TRUE(informer.HasSynced());

  watch_a->Push(Event("ADDED", ConfigMapIn("a", "z", "11")));
  watch_b->Push(Event("DELETED", ConfigMapIn("b", "y", "21")));
  ASSERT_TRUE(watch_a->AwaitIdleReader(kWait));
  ASSERT_TRUE(watch_b->AwaitIdleReader(kWait));
  EXPECT_EQ(Keys(informer.List("a")), (std::vector<std::string>{"a/x", "a/z"}));
  EXPECT_TRUE(informer.List("b").empty());
  EXPECT_EQ(Sorted(events_.events()),
            (std::vector<std::string>{"add:a/x@1", "add:a/z@11", "add:b/y@2", "delete:b/y@2"}));

  for (const std::string& path : {path_a, path_b}) {
    SCOPED_TRACE(path);
    const std::vector<RecordedRequest> watches = Requests(path, true);
    ASSERT_EQ(watches.size(), 1u) << "one watch per namespace";
    EXPECT_EQ(watches[0].QueryParam("labelSelector"), "app=web");
    size_t ok_lists = 0;
    for (const RecordedRequest& list : Requests(path, false)) {
      ok_lists += list.status == 200;
      EXPECT_EQ(list.QueryParam("labelSelector"), "app=web");
    }
    EXPECT_EQ(ok_lists, 1u) << "one list per namespace";
  }
  EXPECT_EQ(Requests(kPath, false).size() + Requests("/api/v1/configmaps", false).size(), 0u)
      << "no list outside the namespaces";
  EXPECT_EQ(informer.stats().lists, 2);
}

TEST_P(InformerTest, MetadataOnlyAsksForPartialObjectMetadata) {
  InformerOptions options = Options();
  options.metadata_only = true;
  options.field_selector = "metadata.name!=skip";
  const json partial = {
      {"apiVersion", "meta.k8s.io/v1"},
      {"kind", "PartialObjectMetadata"},
      {"metadata", {{"namespace", "ns"}, {"name", "s"}, {"resourceVersion", "1"}}}};
  fake_.ReplyTo("GET", kPath, 200, ListBody({partial}, "10"));
  std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
  Informer& informer = Start(options);
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));

  const std::vector<RecordedRequest> lists = Requests(kPath, false);
  const std::vector<RecordedRequest> watches = Requests(kPath, true);
  ASSERT_EQ(lists.size(), 1u);
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(lists[0].Header("Accept"),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
  EXPECT_EQ(watches[0].Header("Accept"),
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json");
  EXPECT_EQ(lists[0].QueryParam("fieldSelector"), "metadata.name!=skip");
  EXPECT_EQ(watches[0].QueryParam("fieldSelector"), "metadata.name!=skip");
  ObjectPtr cached = informer.Get("ns", "s");
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ((*cached)["kind"], "PartialObjectMetadata") << "kept, not overwritten by the list";
}

TEST_P(InformerTest, ManagedFieldsAreDroppedBeforeCaching) {
  const json managed = json::array({{{"manager", "kubectl"}, {"operation", "Apply"}}});
  json a = ConfigMap("a", "1");
  a["metadata"]["managedFields"] = managed;
  json b = ConfigMap("b", "2");
  b["metadata"]["managedFields"] = managed;
  fake_.ReplyTo("GET", kPath, 200, ListBody({a}, "10"));
  std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
  Informer& informer = Start(Options());
  watch->Push(Event("ADDED", b));
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  for (const char* name : {"a", "b"}) {
    ObjectPtr cached = informer.Get("ns", name);
    ASSERT_NE(cached, nullptr) << name;
    EXPECT_FALSE((*cached)["metadata"].contains("managedFields")) << name;
    EXPECT_EQ((*cached)["metadata"]["resourceVersion"], name == std::string("a") ? "1" : "2");
  }
  const std::vector<ObjectPtr> delivered = events_.objects();
  ASSERT_EQ(delivered.size(), 2u);
  for (const ObjectPtr& o : delivered) EXPECT_FALSE((*o)["metadata"].contains("managedFields"));
}

TEST_P(InformerTest, ACustomTransformReplacesTheDefault) {
  json a = ConfigMap("a", "1", {{"secret", "value"}});
  a["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  fake_.ReplyTo("GET", kPath, 200, ListBody({a}, "10"));
  std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
  InformerOptions options = Options();
  options.transform = [](json& o) {
    o.erase("data");
    o["metadata"]["annotations"]["transformed"] = "yes";
  };
  Informer& informer = Start(options);
  watch->Push(Event("MODIFIED", ConfigMap("a", "2", {{"secret", "new value"}})));
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  ObjectPtr cached = informer.Get("ns", "a");
  ASSERT_NE(cached, nullptr);
  EXPECT_FALSE(cached->contains("data"));
  EXPECT_EQ((*cached)["metadata"]["annotations"]["transformed"], "yes");
  EXPECT_EQ(Rv(*cached), "2");
  EXPECT_EQ(events_.events(), (std::vector<std::string>{"add:ns/a@1", "update:ns/a@1->2"}));
}

TEST_P(InformerTest, IndexesFollowTheCache) {
  auto owned = [](const std::string& ns, const std::string& name, const std::string& rv,
                  const std::string& app, std::vector<std::string> owners) {
    json o = ConfigMapIn(ns, name, rv);
    o["metadata"]["labels"] = {{"app", app}};
    o["metadata"]["ownerReferences"] = json::array();
    for (const std::string& uid : owners) {
      o["metadata"]["ownerReferences"].push_back(
          {{"apiVersion", "v1"}, {"kind", "Thing"}, {"name", "t-" + uid}, {"uid", uid}});
    }
    return o;
  };
  const std::string all = "/api/v1/configmaps";
  fake_.ReplyTo(
      "GET", all, 200,
      ListBody({owned("one", "a", "1", "web", {"u1"}), owned("one", "b", "2", "db", {"u1", "u2"}),
                owned("two", "c", "3", "web", {"u2"})},
               "10"));
  std::shared_ptr<FakeStream> watch = fake_.AddStream(all);
  informer_ = std::make_unique<Informer>(*client_, Options({}), clock_);
  informer_->AddIndex("app", [](const json& o) {
    std::vector<std::string> apps;
    if (o["metadata"].contains("labels")) apps.push_back(o["metadata"]["labels"].value("app", ""));
    return apps;
  });
  informer_->AddHandler(events_.Handler());
  informer_->Start();
  Informer& informer = *informer_;
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));

  EXPECT_EQ(Keys(informer.List()), (std::vector<std::string>{"one/a", "one/b", "two/c"}));
  EXPECT_EQ(Keys(informer.List("one")), (std::vector<std::string>{"one/a", "one/b"}));
  EXPECT_EQ(Keys(informer.ByIndex(kNamespaceIndex, "two")), (std::vector<std::string>{"two/c"}));
  EXPECT_EQ(Keys(informer.ByIndex(kOwnerUidIndex, "u1")),
            (std::vector<std::string>{"one/a", "one/b"}));
  EXPECT_EQ(Keys(informer.ByIndex(kOwnerUidIndex, "u2")),
            (std::vector<std::string>{"one/b", "two/c"}));
  EXPECT_EQ(Keys(informer.ByIndex("app", "web")), (std::vector<std::string>{"one/a", "two/c"}));
  EXPECT_TRUE(informer.ByIndex("app", "cache").empty());
  EXPECT_TRUE(informer.ByIndex("no-such-index", "web").empty());
  EXPECT_EQ(informer.KeysByIndex(kOwnerUidIndex, "u2"),
            (std::vector<std::string>{"one/b", "two/c"}));
  EXPECT_TRUE(informer.KeysByIndex("app", "cache").empty());
  EXPECT_TRUE(informer.KeysByIndex("no-such-index", "web").empty());
  ASSERT_NE(informer.Get("one", "b"), nullptr);
  EXPECT_EQ(Rv(*informer.Get("one", "b")), "2");
  EXPECT_EQ(informer.Get("two", "b"), nullptr);
  EXPECT_EQ(informer.Get("one", "zzz"), nullptr);

  // b changes app and owner, c goes away: every index follows.
  watch->Push(Event("MODIFIED", owned("one", "b", "11", "web", {"u2"})));
  watch->Push(Event("DELETED", owned("two", "c", "12", "web", {"u2"})));
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  EXPECT_EQ(Keys(informer.ByIndex(kOwnerUidIndex, "u1")), (std::vector<std::string>{"one/a"}));
  EXPECT_EQ(Keys(informer.ByIndex(kOwnerUidIndex, "u2")), (std::vector<std::string>{"one/b"}));
  EXPECT_EQ(Keys(informer.ByIndex("app", "web")), (std::vector<std::string>{"one/a", "one/b"}));
  EXPECT_EQ(informer.KeysByIndex("app", "web"), (std::vector<std::string>{"one/a", "one/b"}));
  EXPECT_TRUE(informer.ByIndex("app", "db").empty());
  EXPECT_TRUE(informer.KeysByIndex(kOwnerUidIndex, "u3").empty());
  EXPECT_TRUE(informer.List("two").empty());
  EXPECT_EQ(informer.Size(), 2u);
}

TEST_P(InformerTest, ResyncReplaysTheCacheWithoutReading) {
  InformerOptions options = Options();
  options.resync_period = absl::Seconds(30);
  fake_.ReplyTo("GET", kPath, 200, ListBody({ConfigMap("a", "1"), ConfigMap("b", "1")}, "10"));
  std::shared_ptr<FakeStream> watch = fake_.AddStream(kPath);
  Informer& informer = Start(options);
  const absl::Time start = clock_.Now();
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  const absl::Time stall = start + options.stall_timeout;
  EXPECT_EQ(clock_.AwaitWaiters(2), (std::multiset<absl::Time>{start + absl::Seconds(30), stall}));
  const size_t requests = fake_.requests().size();
  events_.Clear();

  clock_.SetTime(start + absl::Seconds(30));
  ASSERT_TRUE(events_.AwaitCount(2));
  EXPECT_EQ(Sorted(events_.events()), (std::vector<std::string>{"resync:ns/a@1", "resync:ns/b@1"}));
  EXPECT_EQ(AwaitSleep({stall}), start + absl::Seconds(60)) << "the next resync";

  watch->Push(Event("MODIFIED", ConfigMap("a", "2")));
  ASSERT_TRUE(watch->AwaitIdleReader(kWait));
  events_.Clear();
  clock_.SetTime(start + absl::Seconds(60));
  ASSERT_TRUE(events_.AwaitCount(2));
  EXPECT_EQ(Sorted(events_.events()), (std::vector<std::string>{"resync:ns/a@2", "resync:ns/b@1"}))
      << "the cache as it is now";
  EXPECT_EQ(fake_.requests().size(), requests) << "a resync reads nothing from the server";
  EXPECT_EQ(informer.stats().lists, 1);
}

INSTANTIATE_TEST_SUITE_P(TreeOrCompact, InformerTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Compact" : "Tree";
                         });

}  // namespace
}  // namespace cohort::op
