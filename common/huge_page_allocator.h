// An allocator for large, short-lived arrays that are written once, front to back (the query
// engine's actor views, rebuilt or extended at every change of the events): allocations of
// kHugePageBytes or more are mapped directly and marked for transparent huge pages
// (madvise(MADV_HUGEPAGE)), so that filling them takes one page fault per 2 MiB instead of one per
// 4 KiB — at 10 M events a view is ~450 MB, and with 4 KiB pages its page faults and zeroing cost
// about as much as copying it (docs/benchmarks.md, "Actor view"). Where the kernel's THP mode is
// `never` the advice is ignored and the mapping behaves as any other. Smaller allocations use
// operator new.
//
// Stateless; thread-safe. Allocation failure throws std::bad_alloc, as std::allocator does.
#pragma once

#include <cstddef>
#include <vector>

namespace cohort {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Raw memory of `bytes` (> 0) bytes, aligned for any type; freed by FreeHugePageMemory with the
// same size.
void* AllocateHugePageMemory(size_t bytes);
void FreeHugePageMemory(void* p, size_t bytes) noexcept;

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: allocator rebinding
  T* allocate(size_t n) { return static_cast<T*>(AllocateHugePageMemory(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { FreeHugePageMemory(p, n * sizeof(T)); }
  template <typename U>
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator<U>&) {
    return true;
  }
};

// A vector whose large buffers get huge pages.
template <typename T>
using HugePageVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace cohort
