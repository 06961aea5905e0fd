#include "bench/analytics/product_generator.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace cohort::bench {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

ProductGeneratorOptions Small() {
  ProductGeneratorOptions o;
  o.events = 200'000;
  o.actors = 20'000;
  return o;
}

std::vector<analytics::Event> All(ProductGenerator& g) {
  std::vector<analytics::Event> events;
  while (g.Next(10'000, &events) > 0) {
  }
  return events;
}

// FNV-1a over every field the store reads, in emission order.
uint64_t Fingerprint(const std::vector<analytics::Event>& events) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto add = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
  };
  for (const analytics::Event& e : events) {
    add(e.project);
    add(e.event_type);
    add(e.user_id);
    add(e.device_id);
    add(std::to_string(e.time_ms));
    add(e.insert_id);
    add(e.session_id ? std::to_string(*e.session_id) : "none");
    std::map<std::string, std::string> props;  // sorted: hash map order is not part of the data
    for (const auto& [k, v] : e.event_properties) props[k] = v.ToJson();
    for (const auto& [k, v] : e.user_properties) props["user." + k] = v.ToJson();
    for (const auto& [k, v] : props) {
      add(k);
      add(v);
    }
  }
  return h;
}

TEST(ProductGeneratorTest, SameSeedSameEventsOnEveryMachine) {
  ProductGenerator a(Small()), b(Small());
  const std::vector<analytics::Event> first = All(a);
  const uint64_t fingerprint = Fingerprint(first);
  EXPECT_EQ(fingerprint, Fingerprint(All(b)));
  // Committed: the generator uses integer arithmetic only, so this holds on any machine; a
  // change here changes the benchmark's data set (update docs/benchmarks.md with it).
  EXPECT_EQ(fingerprint, 0xaf140a933985274cULL) << std::hex << fingerprint;

  ProductGeneratorOptions other = Small();
  other.seed = 7;
  ProductGenerator c(other);
  EXPECT_NE(fingerprint, Fingerprint(All(c)));
}

TEST(ProductGeneratorTest, HasTheStatedShape) {
  const ProductGeneratorOptions options = Small();
  ProductGenerator g(options);
  const std::vector<analytics::Event> events = All(g);
  const ProductGeneratorStats& stats = g.stats();
  ASSERT_EQ(stats.emitted, static_cast<int64_t>(events.size()));

  // Size: the target within 5 %, about 1 % resends, each an exact copy of an earlier event.
  const int64_t unique = stats.emitted - stats.resends;
  EXPECT_NEAR(static_cast<double>(unique), static_cast<double>(options.events),
              0.05 * static_cast<double>(options.events));
  EXPECT_NEAR(static_cast<double>(stats.resends) / static_cast<double>(unique), 0.01, 0.003);
  absl::flat_hash_set<std::string> seen;
  int64_t repeated = 0;
  for (const analytics::Event& e : events) {
    if (!seen.insert(e.device_id + "/" + e.insert_id).second) ++repeated;
  }
  EXPECT_EQ(repeated, stats.resends);

  // Types: all 20; the funnel narrows step by step.
  std::map<std::string, int64_t> per_type;
  for (const analytics::Event& e : events) ++per_type[e.event_type];
  EXPECT_EQ(per_type.size(), 20u);
  const std::vector<std::string>& types = ProductEventTypes();
  for (size_t i = 0; i + 1 < 5; ++i) {
    EXPECT_GT(per_type[types[i]], per_type[types[i + 1]]) << types[i];
  }
  EXPECT_GT(per_type["purchase"], 0);

  // Time: inside the days (sessions may run a few hours past the last midnight); arrival is out
  // of order, but within minutes.
  for (const analytics::Event& e : events) {
    ASSERT_GE(e.time_ms, options.start_ms);
    ASSERT_LT(e.time_ms, g.end_ms() + 6 * 3600 * 1000);
  }
  EXPECT_GT(stats.late, unique / 100);
  EXPECT_LE(stats.max_lag_ms, 10 * 60 * 1000);

  // Sessions: ios/android events carry a session_id (push_received -1), web events none.
  for (const analytics::Event& e : events) {
    const bool web = e.event_properties.at("platform").text() == "web";
    ASSERT_EQ(web, !e.session_id.has_value()) << e.insert_id;
    if (e.session_id) {
      ASSERT_EQ(*e.session_id == -1, e.event_type == "push_received") << e.insert_id;
    }
  }
  EXPECT_GT(stats.sessioned, unique / 2);

  // Identity: every actor has one device; some devices are anonymous first and log in later,
  // some never log in, most are users from their first event.
  struct Device {
    bool anonymous_first = false, ever_user = false, saw_any = false;
    int64_t first_time = INT64_MAX;
    std::set<int64_t> days;
  };
  absl::flat_hash_map<std::string, Device> devices;
  for (const analytics::Event& e : events) {
    ASSERT_FALSE(e.device_id.empty());
    Device& d = devices[e.device_id];
    if (!d.saw_any && e.user_id.empty()) d.anonymous_first = true;
    d.saw_any = true;
    if (!e.user_id.empty()) d.ever_user = true;
    d.first_time = std::min(d.first_time, e.time_ms);
    d.days.insert((e.time_ms - options.start_ms) / kDayMs);
  }
  EXPECT_LE(devices.size(), static_cast<size_t>(options.actors));
  EXPECT_GE(devices.size(), static_cast<size_t>(options.actors * 99 / 100));
  int64_t merges = 0, never = 0, users = 0;
  for (const auto& [id, d] : devices) {
    if (d.anonymous_first && d.ever_user) ++merges;
    if (!d.ever_user) ++never;
    if (!d.anonymous_first) ++users;
  }
  const auto n = static_cast<double>(devices.size());
  EXPECT_NEAR(static_cast<double>(users) / n, 0.55, 0.03);
  EXPECT_NEAR(static_cast<double>(never) / n, 0.15 + 0.30 * 0.1, 0.06);  // late logins not yet
  EXPECT_GT(static_cast<double>(merges) / n, 0.15);

  // Retention decay: of the actors whose day N is inside the range, the share active on it.
  auto retained = [&](int day) {
    int64_t out_of = 0, back = 0;
    for (const auto& [id, d] : devices) {
      const int64_t cohort = (d.first_time - options.start_ms) / kDayMs;
      if (cohort + day >= options.days) continue;
      ++out_of;
      if (d.days.contains(cohort + day)) ++back;
    }
    return static_cast<double>(back) / static_cast<double>(out_of);
  };
  EXPECT_NEAR(retained(1), 0.35, 0.03);
  EXPECT_NEAR(retained(7), 0.15, 0.03);
  EXPECT_NEAR(retained(20), 0.098, 0.03);
}

TEST(ProductGeneratorTest, BatchesNeverExceedTheirSize) {
  ProductGenerator g(Small());
  std::vector<analytics::Event> batch;
  size_t total = 0;
  while (true) {
    batch.clear();
    const size_t n = g.Next(777, &batch);
    ASSERT_EQ(n, batch.size());
    ASSERT_LE(n, 777u);
    if (n == 0) break;
    total += n;
  }
  EXPECT_EQ(static_cast<int64_t>(total), g.stats().emitted);
}

}  // namespace
}  // namespace cohort::bench
