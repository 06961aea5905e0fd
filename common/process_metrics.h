// The process's own series, as Prometheus' process collector names them (what controller-runtime
// operators export and dashboards chart): process_resident_memory_bytes,
// process_virtual_memory_bytes, process_cpu_seconds_total, process_open_fds,
// process_max_fds, process_start_time_seconds — and, where Go exports go_memstats_*, glibc
// malloc's view: cohort_malloc_in_use_bytes (allocated and not freed) and
// cohort_malloc_system_bytes (taken from the kernel), whose difference is freed memory the
// process still holds (common/heap_trimmer.h).
//
// Values are read from /proc/self and mallinfo2() when the registry renders. The handle keeps
// the collect hook registered; the registry must outlive it.
#pragma once

#include "common/metrics.h"

namespace cohort {

[[nodiscard]] CollectHookHandle RegisterProcessMetrics(Registry& registry);

}  // namespace cohort
