// Informer benchmark (issue 3): 10,000 ConfigMaps (1 KB of data, 5 labels each) in a fresh real
// control plane. Measures the initial sync time, peak and steady RSS, the cache's heap bytes
// against the raw JSON (managedFields stripped), and the latency from a write to the start of its
// reconcile, with an open-loop writer at 200 updates/s stamping the send time into each object and
// a no-op reconciler. Repeats the whole measurement `--runs` times and prints a markdown section
// for docs/benchmarks.md.
//
//   build/bench/informer_bench [--objects=10000] [--rate=200] [--seconds=30] [--runs=3]
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "operator/controller.h"
#include "operator/cpprest_transport.h"
#include "operator/informer.h"
#include "operator/kube_client.h"
#include "operator/kube_config.h"
#include "tests/support/control_plane.h"

namespace cohort::bench {
namespace {

using nlohmann::json;
using op::ObjectPtr;

struct Flags {
  int objects = 10000;
  int rate = 200;
  int seconds = 30;
  int runs = 3;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name, int* out) {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (a.rfind(prefix, 0) == 0 && !absl::SimpleAtoi(a.substr(prefix.size()), out)) {
        std::fprintf(stderr, "bad %s\n", a.c_str());
        std::exit(2);
      }
    };
    value("objects", &f.objects);
    value("rate", &f.rate);
    value("seconds", &f.seconds);
    value("runs", &f.runs);
  }
  return f;
}

int64_t ProcStatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      int64_t kb = 0;
      std::sscanf(line.c_str() + std::strlen(field), ": %ld", &kb);
      return kb;
    }
  }
  return -1;
}

size_t HeapInUse() { return mallinfo2().uordblks; }

std::string SelfPath() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::unique_ptr<op::KubeClient> NewClient(const std::string& kubeconfig, double qps) {
  absl::StatusOr<op::RestConfig> config = op::LoadKubeconfig(kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    std::exit(1);
  }
  op::CpprestTransportOptions transport_options;
  transport_options.pool_threads = 8;
  absl::StatusOr<std::unique_ptr<op::HttpTransport>> transport =
      op::NewCpprestTransport(*config, transport_options);
  if (!transport.ok()) std::exit(1);
  op::KubeClientOptions options;
  options.qps = qps;
  options.burst = static_cast<int>(qps);
  return std::make_unique<op::KubeClient>(*std::move(transport), options);
}

json ConfigMap(int i) {
  json labels = {{"bench", "informer"},
                 {"shard", absl::StrCat(i % 10)},
                 {"group", absl::StrCat(i % 100)},
                 {"tier", i % 2 ? "gold" : "silver"},
                 {"index", absl::StrCat(i)}};
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", absl::StrCat("cm-", i)}, {"labels", labels}}},
          {"data", {{"payload", std::string(1024, static_cast<char>('a' + i % 26))}}}};
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

struct RunResult {
  double sync_seconds = 0;
  double raw_json_mb = 0;
  double cache_heap_mb = 0;
  double rss_after_sync_mb = 0;
  double peak_rss_mb = 0;
  double steady_rss_mb = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  // The runtime's share: from the watch event's arrival in the handler to the reconcile's start.
  double runtime_p50_ms = 0, runtime_p99_ms = 0;
  int64_t updates = 0, observed = 0;
};

RunResult RunOnce(const Flags& flags) {
  absl::StatusOr<std::unique_ptr<testing::ControlPlane>> cp =
      testing::ControlPlane::Start({{"--apiserver-arg=--max-requests-inflight=2000",
                                     "--apiserver-arg=--max-mutating-requests-inflight=1000"},
                                    absl::Minutes(3)});
  if (!cp.ok()) {
    std::fprintf(stderr, "%s\n", cp.status().ToString().c_str());
    std::exit(1);
  }
  const std::string ns = "bench";
  if (!(*cp)->Kubectl({"create", "namespace", ns}).ok()) std::exit(1);

  // The writer runs in a child process so its memory and threads don't count against ours.
  const std::vector<std::string> writer_argv = {SelfPath(),
                                                "--writer",
                                                (*cp)->kubeconfig(),
                                                ns,
                                                absl::StrCat(flags.objects),
                                                absl::StrCat(flags.rate),
                                                absl::StrCat(flags.seconds)};
  {
    std::vector<std::string> fill = writer_argv;
    fill[1] = "--fill";
    testing::RunOptions options;
    options.timeout = absl::Minutes(10);
    absl::StatusOr<testing::RunResult> filled = testing::RunCommand(fill, options);
    if (!filled.ok() || filled->exit_code != 0) {
      std::fprintf(stderr, "fill failed: %s\n", filled.ok() ? filled->err.c_str() : "spawn");
      std::exit(1);
    }
  }
  // The raw JSON the cache represents: the list's items without managedFields.
  RunResult r;
  {
    std::unique_ptr<op::KubeClient> lister = NewClient((*cp)->kubeconfig(), 50);
    absl::StatusOr<op::ListPage> all = lister->ListAll(op::resources::kConfigMaps, ns, {});
    if (!all.ok()) std::exit(1);
    size_t bytes = 0;
    for (json& item : all->items) {
      op::StripManagedFields(item);
      bytes += item.dump().size();
    }
    r.raw_json_mb = bytes / 1e6;
  }

  // The measured side: its own client (default limits), informer, controller with a no-op
  // reconciler that records write → reconcile-start latency.
  std::unique_ptr<op::KubeClient> client = NewClient((*cp)->kubeconfig(), 50);
  malloc_trim(0);
  const size_t heap_before = HeapInUse();
  op::InformerOptions options;
  options.type = op::resources::kConfigMaps;
  options.namespaces = {ns};
  op::Informer informer(*client, options);

  absl::Mutex mu;
  std::vector<double> latencies_ms;          // write sent → reconcile start
  std::vector<double> runtime_latencies_ms;  // watch event received → reconcile start
  absl::flat_hash_map<std::string, absl::Time> received_at;  // by key, the latest event
  std::atomic<int64_t> observed{0};
  std::atomic<bool> measuring{false};
  op::Controller controller(
      "bench",
      [&](const std::string& key) {
        const absl::Time start = absl::Now();
        const size_t slash = key.find('/');
        ObjectPtr o = informer.Get(key.substr(0, slash), key.substr(slash + 1));
        if (o != nullptr && measuring.load()) {
          const json& ann = (*o)["metadata"].value("annotations", json::object());
          auto it = ann.find("bench/sent-at");
          int64_t sent_ns = 0;
          if (it != ann.end() && absl::SimpleAtoi(it->get<std::string>(), &sent_ns)) {
            absl::MutexLock lock(&mu);
            latencies_ms.push_back(
                absl::ToDoubleMilliseconds(start - absl::FromUnixNanos(sent_ns)));
            if (auto r = received_at.find(key); r != received_at.end()) {
              runtime_latencies_ms.push_back(absl::ToDoubleMilliseconds(start - r->second));
            }
            observed++;
          }
        }
        return op::ReconcileResult::Done();
      },
      RealClock::Get());
  informer.AddHandler({[&](const ObjectPtr& o) { controller.Enqueue(op::ObjectKey(*o)); },
                       [&](const ObjectPtr&, const ObjectPtr& o) {
                         const std::string key = op::ObjectKey(*o);
                         if (measuring.load()) {
                           absl::MutexLock lock(&mu);
                           received_at[key] = absl::Now();
                         }
                         controller.Enqueue(key);
                       },
                       [&](const ObjectPtr& o) { controller.Enqueue(op::ObjectKey(*o)); }});
  if (!controller.Start(2).ok()) std::exit(1);
  const absl::Time sync_start = absl::Now();
  informer.Start();
  if (!informer.WaitForSync(absl::Now() + absl::Minutes(5))) std::exit(1);
  r.sync_seconds = absl::ToDoubleSeconds(absl::Now() - sync_start);
  // Let the initial adds drain through the queue before measuring memory.
  while (controller.queue().Len() > 0) absl::SleepFor(absl::Milliseconds(50));
  malloc_trim(0);
  r.cache_heap_mb = (HeapInUse() - heap_before) / 1e6;
  r.rss_after_sync_mb = ProcStatusKb("VmRSS") / 1e3;

  measuring = true;
  {
    testing::RunOptions options;
    options.timeout = absl::Seconds(flags.seconds + 120);
    absl::StatusOr<testing::RunResult> load = testing::RunCommand(writer_argv, options);
    if (!load.ok() || load->exit_code != 0) {
      std::fprintf(stderr, "writer failed: %s\n", load.ok() ? load->err.c_str() : "spawn");
      std::exit(1);
    }
    absl::SimpleAtoi(absl::StripAsciiWhitespace(load->out), &r.updates);
  }
  absl::SleepFor(absl::Seconds(3));  // let the last events arrive
  measuring = false;
  r.steady_rss_mb = ProcStatusKb("VmRSS") / 1e3;
  r.peak_rss_mb = ProcStatusKb("VmHWM") / 1e3;
  {
    absl::MutexLock lock(&mu);
    r.p50_ms = Percentile(latencies_ms, 0.50);
    r.p99_ms = Percentile(latencies_ms, 0.99);
    r.runtime_p50_ms = Percentile(runtime_latencies_ms, 0.50);
    r.runtime_p99_ms = Percentile(runtime_latencies_ms, 0.99);
    r.max_ms =
        latencies_ms.empty() ? 0 : *std::max_element(latencies_ms.begin(), latencies_ms.end());
    r.observed = observed.load();
  }
  controller.Stop(absl::Now() + absl::Seconds(10));
  informer.Stop();
  return r;
}

// The writer process: "--fill" creates the objects; "--writer" sends the open-loop updates
// (update i at start + i/rate, however earlier ones fared) and prints how many it sent.
int Writer(bool fill, const std::string& kubeconfig, const std::string& ns, int objects, int rate,
           int seconds) {
  std::unique_ptr<op::KubeClient> writer = NewClient(kubeconfig, 5000);
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  const int total = fill ? objects : rate * seconds;
  const absl::Time t0 = absl::Now();
  for (int t = 0; t < (fill ? 8 : 16); ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < total; i = next++) {
        absl::Status s;
        if (fill) {
          s = writer->Create(op::resources::kConfigMaps, ns, ConfigMap(i)).status();
        } else {
          absl::SleepFor(t0 + absl::Seconds(1) * i / rate - absl::Now());
          const std::string patch = absl::StrCat(R"({"metadata":{"annotations":{"bench/sent-at":")",
                                                 absl::ToUnixNanos(absl::Now()), R"("}}})");
          s = writer
                  ->Patch(op::resources::kConfigMaps, ns, absl::StrCat("cm-", i % objects),
                          op::PatchType::kMerge, patch)
                  .status();
        }
        if (!s.ok()) failed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed > 0) std::fprintf(stderr, "%d writes failed\n", failed.load());
  std::printf("%d\n", total - failed.load());
  return 0;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  using namespace cohort::bench;
  if (argc == 7 && (std::string(argv[1]) == "--fill" || std::string(argv[1]) == "--writer")) {
    int objects = 0, rate = 0, seconds = 0;
    if (!absl::SimpleAtoi(argv[4], &objects) || !absl::SimpleAtoi(argv[5], &rate) ||
        !absl::SimpleAtoi(argv[6], &seconds)) {
      return 2;
    }
    return Writer(std::string(argv[1]) == "--fill", argv[2], argv[3], objects, rate, seconds);
  }
  const Flags flags = ParseFlags(argc, argv);
  std::vector<RunResult> runs;
  for (int i = 0; i < flags.runs; ++i) {
    runs.push_back(RunOnce(flags));
    const RunResult& r = runs.back();
    std::fprintf(stderr,
                 "run %d: sync %.2fs, cache %.1f MB vs raw %.1f MB, rss %.1f/%.1f/%.1f MB, "
                 "p50 %.1f ms p99 %.1f ms, event->reconcile p50 %.2f ms p99 %.2f ms (%ld/%ld)\n",
                 i + 1, r.sync_seconds, r.cache_heap_mb, r.raw_json_mb, r.rss_after_sync_mb,
                 r.peak_rss_mb, r.steady_rss_mb, r.p50_ms, r.p99_ms, r.runtime_p50_ms,
                 r.runtime_p99_ms, r.observed, r.updates);
  }
  std::printf(
      "| run | sync s | cache MB | raw JSON MB | cache/raw | RSS after sync MB | peak RSS MB | "
      "steady RSS MB | p50 ms | p99 ms | max ms | event→reconcile p50 ms | event→reconcile p99 ms "
      "| reconciles/updates |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunResult& r = runs[i];
    std::printf(
        "| %zu | %.2f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f "
        "| %ld/%ld |\n",
        i + 1, r.sync_seconds, r.cache_heap_mb, r.raw_json_mb, r.cache_heap_mb / r.raw_json_mb,
        r.rss_after_sync_mb, r.peak_rss_mb, r.steady_rss_mb, r.p50_ms, r.p99_ms, r.max_ms,
        r.runtime_p50_ms, r.runtime_p99_ms, r.observed, r.updates);
  }
  return 0;
}
