#include "common/huge_page_allocator.h"

#include <sys/mman.h>

#include <new>

namespace cohort {
namespace {

size_t MappedLength(size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}

}  // namespace

void* AllocateHugePageMemory(size_t bytes) {
  if (bytes < kHugePageBytes) return ::operator new(bytes);
  const size_t length = MappedLength(bytes);
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Advice only: without THP the mapping is still good memory.
  (void)madvise(p, length, MADV_HUGEPAGE);
  return p;
}

void FreeHugePageMemory(void* p, size_t bytes) noexcept {
  if (bytes < kHugePageBytes) {
    ::operator delete(p);
    return;
  }
  (void)munmap(p, MappedLength(bytes));
}

}  // namespace cohort
