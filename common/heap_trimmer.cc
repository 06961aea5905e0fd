// glibc malloc tuning (heap_trimmer.h).
#include "common/heap_trimmer.h"

#include <malloc.h>

#include <cstdlib>
#include <utility>

namespace cohort {

bool LimitMallocArenas(int arenas) {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return false;
  return mallopt(M_ARENA_MAX, arenas) == 1;
}

HeapTrimmer::HeapTrimmer(absl::Duration period, Clock& clock, std::function<void()> trim)
    : period_(period), clock_(clock), trim_(trim ? std::move(trim) : [] { malloc_trim(0); }) {
  thread_ = std::thread([this] { Loop(); });
}

HeapTrimmer::~HeapTrimmer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void HeapTrimmer::Loop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    const absl::Condition stop(&stopping_);
    clock_.AwaitWithDeadline(mu_, stop, clock_.Now() + period_);
    if (stopping_) return;
    mu_.Unlock();
    trim_();
    mu_.Lock();
  }
}

}  // namespace cohort
