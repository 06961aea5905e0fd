// Giving freed heap memory back to the kernel in a long-running, many-threaded process.
//
// glibc's malloc gives each thread that allocates concurrently an arena of its own (up to 8 per
// core) and returns a freed page to the kernel only when it sits at the top of its heap. A process
// whose busy moments parse many short-lived trees on several threads (the operator decoding
// cached objects during a burst of reconciles) keeps that peak as RSS long after it freed the
// memory: at 1,000 pipelines the operator held 119 MB of heap for 37 MB in use. Two measures fix
// that: fewer arenas (LimitMallocArenas, before any thread starts) and a periodic malloc_trim(0),
// which hands every free page inside every arena back with madvise (HeapTrimmer).
#pragma once

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace cohort {

// mallopt(M_ARENA_MAX, arenas) unless the environment already sets MALLOC_ARENA_MAX (an operator
// of the process may know better). Call before starting threads. Returns whether it was applied.
bool LimitMallocArenas(int arenas);

// A thread that calls `trim` (by default malloc_trim(0)) every `period` of `clock`, until
// destroyed. The clock is borrowed and must outlive the trimmer. Thread-compatible: construct and
// destroy from one thread.
class HeapTrimmer {
 public:
  HeapTrimmer(absl::Duration period, Clock& clock, std::function<void()> trim = nullptr);
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

 private:
  void Loop();

  const absl::Duration period_;
  Clock& clock_;
  const std::function<void()> trim_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cohort
