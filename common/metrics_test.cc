#include "common/metrics.h"

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
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/support/wait.h"
namespace cohort {
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

// Runs `fn` with spdlog writing to stderr, where EXPECT_DEATH looks for the message.
template <typename Fn>
void WithStderrLog(Fn fn) {
  // Not through the registry (stderr_logger_st): a second registration of the same name throws.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "stderr", std::make_shared<spdlog::sinks::stderr_sink_st>()));
  fn();
}
TEST(RegistryTest, RendersTheTextFormatExactly) {
  Registry registry;
  CounterFamily& requests = registry.AddCounterFamily(
      "http_requests_total", "Requests by path.\nSecond line, a \\ and a \"quote\".",
      {"path", "code"});
  requests.WithLabels({"/a", "200"}).Inc(3);
  requests.WithLabels({"say \"hi\"\\\nbye", "500"}).Inc();
  registry.AddGauge("a_gauge", "A gauge.").Set(-2.5);
  Histogram& latency = registry.AddHistogram("latency_seconds", "Latency.", {0.5, 1, 2});
  for (double v : {0.25, 0.5, 0.75, 3.0}) latency.Observe(v);
  HistogramFamily& labelled =
      registry.AddHistogramFamily("work_seconds", "Work.", {"controller"}, {1});
  labelled.WithLabels({"b"}).Observe(absl::Seconds(2));
  labelled.WithLabels({"a"}).Observe(absl::Milliseconds(500));
  // A family without children renders nothing, not even HELP and TYPE.
  registry.AddCounterFamily("unused_total", "Never used.", {"x"});

  // Families by name, children by label values; HELP escapes \ and newline, label values also ".
  EXPECT_EQ(registry.Render(), R"(# HELP a_gauge A gauge.
# TYPE a_gauge gauge
a_gauge -2.5
# HELP http_requests_total Requests by path.\nSecond line, a \\ and a "quote".
# TYPE http_requests_total counter
http_requests_total{path="/a",code="200"} 3
http_requests_total{path="say \"hi\"\\\nbye",code="500"} 1
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.5"} 2
latency_seconds_bucket{le="1"} 3
latency_seconds_bucket{le="2"} 3
latency_seconds_bucket{le="+Inf"} 4
latency_seconds_sum 4.5
latency_seconds_count 4
# HELP work_seconds Work.
# TYPE work_seconds histogram
work_seconds_bucket{controller="a",le="1"} 1
work_seconds_bucket{controller="a",le="+Inf"} 1
work_seconds_sum{controller="a"} 0.5
work_seconds_count{controller="a"} 1
work_seconds_bucket{controller="b",le="1"} 0
work_seconds_bucket{controller="b",le="+Inf"} 1
work_seconds_sum{controller="b"} 2
work_seconds_count{controller="b"} 1
)");
}

TEST(RegistryTest, FormatsValuesAsPrometheusClientsDo) {
  // Go's strconv.FormatFloat(v, 'g', -1, 64): shortest round-trip digits, exponent form below
  // 1e-4 and from 1e6 on.
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0"},
      {1, "1"},
      {-3, "-3"},
      {0.005, "0.005"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1e-8, "1e-08"},
      {123456, "123456"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1e21, "1e+21"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const auto& [value, text] : cases) {
    Registry registry;
    registry.AddGauge("g", "G.").Set(value);
    EXPECT_THAT(registry.Render(), HasSubstr("\ng " + text + "\n")) << "value " << value;
  }
}

TEST(RegistryTest, HistogramBucketsAreInclusiveAndCumulative) {
  Registry registry;
  Histogram& h = registry.AddHistogram("h", "H.", {1, 2, 4});
  for (double v : {-1.0, 1.0, 1.5, 2.0, 4.0, 4.5, 100.0}) h.Observe(v);
  const Histogram::Snapshot s = h.Read();
  EXPECT_THAT(s.cumulative, ElementsAre(2, 4, 5, 7));
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 112);
  // A trailing +Inf bound is the implicit one.
  Histogram& same = registry.AddHistogram("h", "H.", {1, 2, 4, INFINITY});
  EXPECT_EQ(&same, &h);
}

TEST(RegistryTest, SameSchemaReturnsTheRegisteredMetric) {
  Registry registry;
  CounterFamily& a = registry.AddCounterFamily("x_total", "X.", {"name"});
  CounterFamily& b = registry.AddCounterFamily("x_total", "X.", {"name"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.WithLabels({"q"}), &b.WithLabels(std::vector<std::string>{"q"}));
  EXPECT_EQ(&registry.AddGauge("g", "G."), &registry.AddGauge("g", "G."));
}

TEST(RegistryTest, ZeroValuedChildrenAreRendered) {
  Registry registry;
  registry.AddCounterFamily("c_total", "C.", {"k"}).WithLabels({"v"});
  registry.AddCounter("plain_total", "Plain.");
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("\nc_total{k=\"v\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nplain_total 0\n"));
}

using RegistryDeathTest = ::testing::Test;

TEST(RegistryDeathTest, MisuseAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry registry;
  registry.AddCounterFamily("x_total", "X.", {"name"});
  EXPECT_DEATH(WithStderrLog([&] { registry.AddGaugeFamily("x_total", "X.", {"name"}); }),
               "x_total is registered already");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddCounterFamily("x_total", "X.", {"other"}); }),
               "x_total is registered already");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddCounterFamily("x_total", "Other.", {"name"}); }),
               "x_total is registered already");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddCounter("1x", "X."); }), "invalid metric name");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddCounter("a-b", "X."); }), "invalid metric name");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddCounterFamily("y", "Y.", {"__reserved"}); }),
               "invalid label name");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddCounterFamily("y", "Y.", {"a:b"}); }),
               "invalid label name");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddHistogramFamily("y", "Y.", {"le"}, {1}); }),
               "invalid label name");
  EXPECT_DEATH(WithStderrLog([&] {
                 registry.AddCounterFamily("y", "Y.", {"a", "a"});
               }),
               "given twice");
  EXPECT_DEATH(WithStderrLog([&] {
                 registry.AddHistogram("y", "Y.", {2, 1});
               }),
               "strictly increasing");
  EXPECT_DEATH(WithStderrLog([&] {
                 registry.AddHistogram("y", "Y.", {1, NAN});
               }),
               "strictly increasing");
  EXPECT_DEATH(WithStderrLog([&] {
                 registry.AddCounterFamily("x_total", "X.", {"name"}).WithLabels({"a", "b"});
               }),
               "x_total has 1 labels");
  EXPECT_DEATH(WithStderrLog([&] { registry.AddCounter("z_total", "Z.").Inc(-1); }),
               "cannot decrease");
}

TEST(RegistryTest, ConcurrentUpdatesSumExactly) {
  Registry registry;
  CounterFamily& counters = registry.AddCounterFamily("c_total", "C.", {"k"});
  Gauge& gauge = registry.AddGauge("g", "G.");
  HistogramFamily& histograms = registry.AddHistogramFamily("h", "H.", {"k"}, {1, 2});
  constexpr int kThreads = 4;
  constexpr int kIterations = 20000;

  std::atomic<bool> done{false};
  std::atomic<int> renders{0};
  std::thread renderer([&] {
    while (!done.load()) {
      const std::string text = registry.Render();
      ASSERT_THAT(text, Not(HasSubstr("NaN")));
      renders.fetch_add(1);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& own = counters.WithLabels({absl::StrCat("t", t)});
      for (int i = 0; i < kIterations; ++i) {
        counters.WithLabels({"shared"}).Inc();
        own.Inc(0.5);
        gauge.Add(1);
        gauge.Add(-0.5);
        histograms.WithLabels({"shared"}).Observe(i % 3);
        // Registration races with the updates and the renders.
        registry.AddCounter(absl::StrCat("late_", i % 7, "_total"), "Late.").Inc();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  done.store(true);
  renderer.join();
  EXPECT_GT(renders.load(), 0);

  constexpr double kTotal = kThreads * kIterations;
  EXPECT_EQ(counters.WithLabels({"shared"}).Value(), kTotal);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(counters.WithLabels({absl::StrCat("t", t)}).Value(), kIterations * 0.5);
  }
  EXPECT_EQ(gauge.Value(), kTotal * 0.5);
  const Histogram::Snapshot s = histograms.WithLabels({"shared"}).Read();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kTotal));
  // i % 3 is 0 or 1 (le 1) two thirds of the time, rounded up; 2 (le 2) the rest.
  const uint64_t twos = kThreads * (kIterations / 3);
  EXPECT_THAT(s.cumulative, ElementsAre(s.count - twos, s.count, s.count));
  EXPECT_EQ(s.sum, static_cast<double>(kThreads * (kIterations / 3 * 3) + kThreads * 1));

  const std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "c_total{k=\"shared\"}"), kTotal);
  EXPECT_EQ(SampleValue(text, "h_count{k=\"shared\"}"), kTotal);
  double late = 0;
  for (int i = 0; i < 7; ++i) late += *SampleValue(text, absl::StrCat("late_", i, "_total"));
  EXPECT_EQ(late, kTotal);
}

TEST(RegistryTest, CollectHooksRunBeforeEachRenderUntilReleased) {
  Registry registry;
  Counter& runs = registry.AddCounter("hook_runs_total", "Hook runs.");
  CollectHookHandle handle = registry.AddCollectHook([&runs] { runs.Inc(); });
  EXPECT_EQ(SampleValue(registry.Render(), "hook_runs_total"), 1);
  CollectHookHandle moved = std::move(handle);
  EXPECT_EQ(SampleValue(registry.Render(), "hook_runs_total"), 2);
  moved = CollectHookHandle();
  EXPECT_EQ(SampleValue(registry.Render(), "hook_runs_total"), 2);
  {
    CollectHookHandle scoped = registry.AddCollectHook([&runs] { runs.Inc(10); });
    EXPECT_EQ(SampleValue(registry.Render(), "hook_runs_total"), 12);
  }
  EXPECT_EQ(SampleValue(registry.Render(), "hook_runs_total"), 12);
}

}  // namespace
}  // namespace cohort
