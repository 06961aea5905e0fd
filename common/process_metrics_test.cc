// RegisterProcessMetrics: every series is rendered with values that describe this process.
#include "common/process_metrics.h"

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/prometheus_text.h"

namespace cohort {
namespace {

using ::cohort::testing::FindSample;
using ::cohort::testing::ParsePrometheusText;

// Sanitizers replace malloc with their own allocator: mallinfo2() then describes glibc's unused
// one, and the cohort_malloc_* gauges cannot see the test's block.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kGlibcMalloc = false;
#else
constexpr bool kGlibcMalloc = true;
#endif

double Sample(const std::vector<testing::MetricSample>& samples, const char* name) {
  absl::StatusOr<double> v = FindSample(samples, name);
  EXPECT_TRUE(v.ok()) << name << ": " << v.status();
  return v.ok() ? *v : -1;
}

TEST(ProcessMetricsTest, DescribeThisProcess) {
  Registry registry;
  CollectHookHandle handle = RegisterProcessMetrics(registry);
  // Hold 64 MiB, touched, so the memory series must see it.
  constexpr size_t kBlock = size_t{64} << 20;
  auto block = std::make_unique<char[]>(kBlock);
  for (size_t i = 0; i < kBlock; i += 4096) block[i] = 1;

  absl::StatusOr<std::vector<testing::MetricSample>> samples =
      ParsePrometheusText(registry.Render());
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_GE(Sample(*samples, "process_resident_memory_bytes"), double{kBlock});
  EXPECT_GE(Sample(*samples, "process_virtual_memory_bytes"),
            Sample(*samples, "process_resident_memory_bytes"));
  EXPECT_EQ(Sample(*samples, "cohort_malloc_in_use_bytes") >= double{kBlock}, kGlibcMalloc);
  EXPECT_GE(Sample(*samples, "cohort_malloc_system_bytes"),
            Sample(*samples, "cohort_malloc_in_use_bytes"));
  EXPECT_GE(Sample(*samples, "process_open_fds"), 3);  // stdin, stdout, stderr at least
  EXPECT_GE(Sample(*samples, "process_max_fds"), Sample(*samples, "process_open_fds"));
  const double start = Sample(*samples, "process_start_time_seconds");
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600) << "this test process started less than an hour ago";

  // CPU time only goes up, and burning some shows.
  const double cpu_before = Sample(*samples, "process_cpu_seconds_total");
  const absl::Time until = absl::Now() + absl::Milliseconds(300);
  volatile uint64_t spin = 0;
  while (absl::Now() < until) spin = spin + 1;
  samples = ParsePrometheusText(registry.Render());
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_GT(Sample(*samples, "process_cpu_seconds_total"), cpu_before);

  block.reset();
  samples = ParsePrometheusText(registry.Render());
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_LT(Sample(*samples, "cohort_malloc_in_use_bytes"), double{kBlock})
      << "freed memory is no longer in use";
}

}  // namespace
}  // namespace cohort
