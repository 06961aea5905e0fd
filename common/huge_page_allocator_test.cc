// HugePageVector behaves as a vector on both sides of the mapping threshold: growth across it,
// copies, and release (run under ASan, a size mismatch between allocate and deallocate or a
// leak fails).
#include "common/huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

namespace cohort {
namespace {

TEST(HugePageAllocatorTest, VectorsGrowAcrossTheThresholdAndCopy) {
  HugePageVector<uint64_t> v;
  const size_t n = 3 * kHugePageBytes / sizeof(uint64_t) + 17;  // past the threshold, unaligned
  for (size_t i = 0; i < n; ++i) v.push_back(i);
  EXPECT_EQ(std::accumulate(v.begin(), v.end(), uint64_t{0}), uint64_t{n} * (n - 1) / 2);
  HugePageVector<uint64_t> copy = v;
  EXPECT_EQ(copy, v);
  copy.resize(10);  // small again; shrink_to_fit moves it back below the threshold
  copy.shrink_to_fit();
  EXPECT_EQ(copy.size(), 10u);
  EXPECT_EQ(copy[9], 9u);
  v.clear();
  v.shrink_to_fit();
  EXPECT_EQ(v.capacity(), 0u);
}

TEST(HugePageAllocatorTest, LargeBuffersAreWritable) {
  // One byte past two huge pages: the mapping is rounded up, every byte asked for is usable.
  const size_t bytes = 2 * kHugePageBytes + 1;
  auto* p = static_cast<unsigned char*>(AllocateHugePageMemory(bytes));
  for (size_t i = 0; i < bytes; i += 4096) p[i] = 1;
  p[bytes - 1] = 2;
  EXPECT_EQ(p[bytes - 1], 2);
  FreeHugePageMemory(p, bytes);
}

}  // namespace
}  // namespace cohort
