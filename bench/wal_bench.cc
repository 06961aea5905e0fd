// Write-ahead log throughput with group commit (ingest/wal/wal.h): N threads each append batches
// of 100 records (about 316 bytes like an Amplitude event in JSON, or about 100 bytes like a
// compact encoding) and wait for durability, as HTTP handlers do before answering 2xx. Runs on a
// temporary directory under /var/tmp (a real disk, not tmpfs), fdatasync on. Prints a markdown
// section for docs/benchmarks.md.
//
//   wal_bench [--seconds=S] [--dir=/var/tmp]
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ingest/wal/wal.h"

namespace {

using cohort::ingest::wal::Wal;
using cohort::ingest::wal::WalOptions;

struct Result {
  double records_per_s = 0;
  double mb_per_s = 0;
  double syncs_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

Result Run(const std::string& base, int threads, size_t record_bytes, absl::Duration length) {
  std::string tmpl = base + "/wal_bench.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  WalOptions o;
  o.dir = tmpl;
  o.max_total_bytes = uint64_t{64} << 30;
  o.min_free_bytes = uint64_t{1} << 30;
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(o);
  if (!wal.ok()) {
    std::fprintf(stderr, "open: %s\n", wal.status().ToString().c_str());
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(threads);
  std::vector<int64_t> appended(threads, 0);
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<std::string> records(100);
      std::vector<std::string_view> views(100);
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 100; ++i) {
          // Unique content per record, like events with distinct insert_ids.
          records[i] = std::to_string(t) + ":" + std::to_string(n++) + ":";
          records[i].resize(record_bytes, 'e');
          views[i] = records[i];
        }
        const absl::Time s = absl::Now();
        if (!(*wal)->Append(views).ok()) {
          failed = true;
          return;
        }
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - s));
        appended[t] += 100;
      }
    });
  }
  absl::SleepFor(length);
  stop = true;
  for (auto& w : workers) w.join();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  const Wal::Stats stats = (*wal)->stats();
  wal->reset();
  std::filesystem::remove_all(tmpl);
  if (failed) {
    std::fprintf(stderr, "an append failed\n");
    std::exit(1);
  }
  std::vector<double> all;
  int64_t total = 0;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), latencies[t].begin(), latencies[t].end());
    total += appended[t];
  }
  std::sort(all.begin(), all.end());
  Result r;
  r.records_per_s = static_cast<double>(total) / secs;
  r.mb_per_s = static_cast<double>(stats.appended_bytes) / secs / 1e6;
  r.syncs_per_s = static_cast<double>(stats.data_syncs) / secs;
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

// The disk's own ceiling in the same run: one thread writing `chunk` bytes + fdatasync in a loop.
void RawCeiling(const std::string& base, size_t chunk, absl::Duration length) {
  const std::string path = base + "/wal_bench_raw." + std::to_string(::getpid());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  const std::string data(chunk, 'r');
  int64_t syncs = 0;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < length) {
    if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      std::exit(1);
    }
    ++syncs;
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  ::close(fd);
  ::unlink(path.c_str());
  std::printf("| raw write+fdatasync, %zu KiB | 1 | - | %.1f | %.0f | %.2f (mean) | - |\n",
              chunk / 1024, static_cast<double>(syncs * chunk) / secs / 1e6,
              static_cast<double>(syncs) / secs, secs * 1e3 / static_cast<double>(syncs));
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  std::string dir = "/var/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--seconds=")) {
      if (!absl::SimpleAtod(arg.substr(10), &seconds) || seconds <= 0) {
        std::fprintf(stderr, "bad %s\n", arg.c_str());
        return 2;
      }
    } else if (absl::StartsWith(arg, "--dir=")) {
      dir = arg.substr(6);
    } else {
      std::fprintf(stderr, "usage: wal_bench [--seconds=S] [--dir=DIR]\n");
      return 2;
    }
  }
  std::printf("## Write-ahead log: group commit (bench/wal_bench.cc)\n\n");
  std::printf("Batches of 100 records per Append, fdatasync per group commit, %s, %.1f s each.\n\n",
              dir.c_str(), seconds);
  std::printf("| record | appenders | records/s | MB/s | fdatasyncs/s | p50 ms | p99 ms |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  RawCeiling(dir, 64 * 1024, absl::Seconds(seconds / 2));
  RawCeiling(dir, 1024 * 1024, absl::Seconds(seconds / 2));
  for (size_t bytes : {316, 100}) {
    for (int threads : {1, 4, 16, 64}) {
      const Result r = Run(dir, threads, bytes, absl::Seconds(seconds));
      std::printf("| %zu B | %d | %.0f | %.1f | %.0f | %.2f | %.2f |\n", bytes, threads,
                  r.records_per_s, r.mb_per_s, r.syncs_per_s, r.p50_ms, r.p99_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
