// HeapTrimmer: trims once per period of the injected clock and stops when destroyed.
#include "common/heap_trimmer.h"

#include <atomic>
#include <memory>

#include "gtest/gtest.h"

namespace cohort {
namespace {

// Waits (real time, bounded) until `done` holds.
template <typename F>
bool Eventually(F done) {
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(HeapTrimmerTest, TrimsOncePerPeriod) {
  SimulatedClock clock;
  std::atomic<int> trims{0};
  {
    HeapTrimmer trimmer(absl::Seconds(30), clock, [&] { trims.fetch_add(1); });
    ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
    clock.Advance(absl::Seconds(29));
    absl::SleepFor(absl::Milliseconds(20));
    EXPECT_EQ(trims.load(), 0) << "not before the period";
    clock.Advance(absl::Seconds(1));
    ASSERT_TRUE(Eventually([&] { return trims.load() == 1; }));
    ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; })) << "waiting for the next one";
    clock.Advance(absl::Seconds(30));
    ASSERT_TRUE(Eventually([&] { return trims.load() == 2; }));
  }
  EXPECT_EQ(trims.load(), 2) << "destroying it stops it without another trim";
}

TEST(HeapTrimmerTest, TheDefaultTrimRunsAndDestructionIsPrompt) {
  SimulatedClock clock;
  auto trimmer = std::make_unique<HeapTrimmer>(absl::Milliseconds(1), clock);
  ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
  clock.Advance(absl::Milliseconds(1));  // malloc_trim(0) itself
  ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
  const absl::Time before = absl::Now();
  trimmer.reset();  // the clock never reaches the next deadline: Stop must not wait for it
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
}

// Sanitizers replace malloc with their own allocator; whether mallopt() then reaches glibc's
// (unused) one differs between them (ASan refuses it, TSan passes it on).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kGlibcMalloc = false;
#else
constexpr bool kGlibcMalloc = true;
#endif

TEST(HeapTrimmerTest, LimitMallocArenasDefersToTheEnvironment) {
  ::setenv("MALLOC_ARENA_MAX", "4", 1);
  EXPECT_FALSE(LimitMallocArenas(2));
  ::unsetenv("MALLOC_ARENA_MAX");
  const bool applied = LimitMallocArenas(2);
  if (kGlibcMalloc) {
    EXPECT_TRUE(applied);
  }
}

}  // namespace
}  // namespace cohort
