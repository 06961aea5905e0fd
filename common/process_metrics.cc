// /proc/self and mallinfo2() read at render time (process_metrics.h).
#include "common/process_metrics.h"

#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"

namespace cohort {
namespace {

// Fields of /proc/self/stat after the command name: state is field 3, utime 14, stime 15,
// starttime 22, vsize 23, rss 24 (proc(5), counting from 1).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 2));
  fields = {"", ""};  // pid and comm, so that fields[i - 1] is field i
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double value = 0;
      in >> value;
      return value;
    }
  }
  return 0;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

double Num(const std::string& text) {
  double value = 0;
  return absl::SimpleAtod(text, &value) ? value : 0;
}

}  // namespace

CollectHookHandle RegisterProcessMetrics(Registry& registry) {
  Gauge& rss = registry.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  Gauge& vsize = registry.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  Counter& cpu = registry.AddCounter("process_cpu_seconds_total",
                                     "Total user and system CPU time spent in seconds.");
  Gauge& fds = registry.AddGauge("process_open_fds", "Number of open file descriptors.");
  Gauge& max_fds = registry.AddGauge("process_max_fds", "Maximum number of open file descriptors.");
  Gauge& start = registry.AddGauge("process_start_time_seconds",
                                   "Start time of the process since unix epoch in seconds.");
  Gauge& in_use = registry.AddGauge("cohort_malloc_in_use_bytes",
                                    "Bytes malloc has handed out and not had back (mallinfo2).");
  Gauge& system = registry.AddGauge(
      "cohort_malloc_system_bytes",
      "Bytes malloc holds from the kernel, in use or free (mallinfo2 arena + mmapped).");

  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double boot = BootTimeSeconds();
  return registry.AddCollectHook([&, ticks, page, boot] {
    const std::vector<std::string> f = StatFields();
    if (f.size() >= 25) {
      const double cpu_now = (Num(f[13]) + Num(f[14])) / ticks;
      if (cpu_now > cpu.Value()) cpu.Inc(cpu_now - cpu.Value());
      start.Set(boot + Num(f[21]) / ticks);
      vsize.Set(Num(f[22]));
      rss.Set(Num(f[23]) * page);
    }
    fds.Set(OpenFds());
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds.Set(static_cast<double>(limit.rlim_cur));
    const struct mallinfo2 m = mallinfo2();
    in_use.Set(static_cast<double>(m.uordblks + m.hblkhd));
    system.Set(static_cast<double>(m.arena + m.hblkhd));
  });
}

}  // namespace cohort
