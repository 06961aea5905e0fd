// AnalyticsPipeline at scale (issue 4). A fresh control plane; the Helm chart installed from the
// working tree (CRD, ServiceAccount, RBAC) with its operator Deployment scaled to zero; the real
// cohort-operator binary run with the chart's flags as the chart's ServiceAccount (a token from
// `kubectl create token`, so API priority and fairness treats it as any workload: flow schema
// service-accounts, priority level workload-low). kube-controller-manager and kube-scheduler get
// raised client limits and kwok more parallelism, so they are not what is measured.
//
// A writer child process creates --pipelines AnalyticsPipelines at once (16 threads, exempt
// admin identity), all referencing one API-key Secret, with ClickHouse storage (a volume claim for
// the WAL only) or embedded storage (a volume claim for the data). Measured:
//   - time from the first create until every pipeline's status says Ready=True (a watch in this
//     process records when each one first does);
//   - writes per pipeline to converge: the operator's mutating requests in the audit log from the
//     first create until it is idle (every pipeline settled, its queue empty, no write for 15 s),
//     Lease renewals excluded and Events counted apart;
//   - the operator's CPU seconds (/proc/<pid>/stat), peak RSS (VmHWM) and steady RSS (VmRSS once
//     converged and again after the rest), the p99 of its queue wait (from its
//     workqueue_queue_duration_seconds buckets for controller "analyticspipeline");
//   - what limits it: the operator's request rate against its --kube-api-qps, its API latency,
//     APF's queue wait and rejections for its priority level, every component's CPU seconds;
//   - then --rest-seconds at rest with the operator's --sync-period short enough that at least one
//     resync (every pipeline and child reconciled again) falls inside the window: the operator's
//     mutating requests other than Lease renewals must be zero.
// Prints a markdown section for docs/benchmarks.md on standard output, progress on standard error.
//
//   build/bench/pipeline_bench [--pipelines=1000] [--storage=clickhouse|embedded]
//       [--rest-seconds=600] [--sync-period=5m] [--operator-arg=--kube-api-qps=200 ...]
//       [--nodes=1] [--ready-timeout-seconds=1800] [--keep-logs]
//
// --sync-period defaults to half the rest window, at most 5m; it must not exceed the window.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/flag_set.h"
#include "nlohmann/json.hpp"
#include "operator/applier.h"
#include "operator/cpprest_transport.h"
#include "operator/informer.h"
#include "operator/kube_client.h"
#include "operator/kube_config.h"
#include "operator/resource.h"
#include "tests/support/audit_log.h"
#include "tests/support/control_plane.h"
#include "tests/support/operator_process.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/subprocess.h"
#include "tests/support/wait.h"

namespace cohort::bench {
namespace {

using nlohmann::json;
using testing::MetricSample;
namespace fs = std::filesystem;

const op::ResourceType kPipelines{"cohort.dev", "v1alpha1", "analyticspipelines",
                                  "AnalyticsPipeline", true};
constexpr char kChartNamespace[] = "cohort-system";
constexpr char kRelease[] = "cohort-operator";
constexpr char kNamespace[] = "bench";
constexpr char kController[] = "analyticspipeline";
constexpr char kLeaseName[] = "cohort-operator.cohort.dev";
// The operator counts as idle once it has written nothing for this long.
constexpr absl::Duration kQuiet = absl::Seconds(15);

// Goals (issue 4).
constexpr double kGoalReadySeconds = 60;
constexpr double kGoalRssMb = 50;
constexpr double kGoalWritesPerPipeline = 10;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "pipeline_bench: %s\n", what.c_str());
  std::exit(1);
}

void Progress(const std::string& what) {
  std::fprintf(stderr, "[%s] %s\n",
               absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()).c_str(),
               what.c_str());
}

struct Flags {
  int pipelines = 1000;
  std::string storage = "clickhouse";
  int rest_seconds = 600;
  std::string sync_period;  // Go duration; empty: min(5m, rest / 2)
  std::vector<std::string> operator_args;
  int nodes = 1;
  int ready_timeout_seconds = 1800;
  bool keep_logs = false;
  std::string command;  // as given, for the report
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  std::vector<std::string> words = {"build/bench/pipeline_bench"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    words.push_back(a);
    auto value = [&](const char* name) -> std::optional<std::string> {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (!absl::StartsWith(a, prefix)) return std::nullopt;
      return a.substr(prefix.size());
    };
    auto number = [&](const std::string& text, int* out) {
      if (!absl::SimpleAtoi(text, out) || *out < 0) Die(absl::StrCat("bad flag ", a));
    };
    if (auto v = value("pipelines")) {
      number(*v, &f.pipelines);
    } else if (auto v = value("storage")) {
      f.storage = *v;
    } else if (auto v = value("rest-seconds")) {
      number(*v, &f.rest_seconds);
    } else if (auto v = value("sync-period")) {
      f.sync_period = *v;
    } else if (auto v = value("operator-arg")) {
      f.operator_args.push_back(*v);
    } else if (auto v = value("nodes")) {
      number(*v, &f.nodes);
    } else if (auto v = value("ready-timeout-seconds")) {
      number(*v, &f.ready_timeout_seconds);
    } else if (a == "--keep-logs") {
      f.keep_logs = true;
    } else {
      Die(absl::StrCat("unknown flag ", a, " (see the comment at the top of pipeline_bench.cc)"));
    }
  }
  if (f.storage != "clickhouse" && f.storage != "embedded") Die("--storage: clickhouse|embedded");
  if (f.pipelines < 1 || f.nodes < 1) Die("--pipelines and --nodes must be >= 1");
  if (f.sync_period.empty()) {
    f.sync_period = absl::StrCat(std::min(300, std::max(1, f.rest_seconds / 2)), "s");
  }
  f.command = absl::StrJoin(words, " ");
  return f;
}

// --- /proc

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// utime + stime of `pid` in seconds, -1 if it is gone.
double CpuSeconds(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ');
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return -1;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A field of /proc/<pid>/status in MB ("VmRSS", "VmHWM"), -1 if missing.
double StatusMb(pid_t pid, const std::string& field) {
  for (absl::string_view line :
       absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    if (!absl::ConsumePrefix(&line, field + ":")) continue;
    int64_t kb = 0;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    if (absl::SimpleAtoi(line, &kb)) return kb / 1e3;
  }
  return -1;
}

std::string LoadAverage() {
  std::vector<std::string> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(ReadFile("/proc/loadavg")), ' ');
  if (parts.size() < 3) return "?";
  return absl::StrCat(parts[0], " / ", parts[1], " / ", parts[2]);
}

std::string Machine() {
  std::string model = "?";
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/cpuinfo"), '\n')) {
    if (absl::ConsumePrefix(&line, "model name")) {
      model = std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
      break;
    }
  }
  double mem_gib = 0;
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/meminfo"), '\n')) {
    if (absl::ConsumePrefix(&line, "MemTotal:")) {
      int64_t kb = 0;
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, " kB");
      if (absl::SimpleAtoi(line, &kb)) mem_gib = kb / 1048576.0;
    }
  }
  return absl::StrFormat("%ld CPUs (%s), %.0f GiB", sysconf(_SC_NPROCESSORS_ONLN), model, mem_gib);
}

std::string SelfPath() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// CPU seconds of each control-plane component (by the name of its pid file) and of this process.
std::map<std::string, double> ComponentCpu(const testing::ControlPlane& cp) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cp.dir() + "/pids", ec)) {
    int pid = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(entry.path().string())), &pid)) {
      out[entry.path().filename().string()] = CpuSeconds(pid);
    }
  }
  out["pipeline_bench (this process)"] = CpuSeconds(getpid());
  return out;
}

// --- Kubernetes clients

std::unique_ptr<op::KubeClient> NewClient(const std::string& kubeconfig, double qps, int threads) {
  absl::StatusOr<op::RestConfig> config = op::LoadKubeconfig(kubeconfig);
  if (!config.ok()) Die(config.status().ToString());
  op::CpprestTransportOptions transport_options;
  transport_options.pool_threads = threads;
  absl::StatusOr<std::unique_ptr<op::HttpTransport>> transport =
      op::NewCpprestTransport(*config, transport_options);
  if (!transport.ok()) Die(transport.status().ToString());
  op::KubeClientOptions options;
  options.qps = qps;
  options.burst = static_cast<int>(qps);
  return std::make_unique<op::KubeClient>(*std::move(transport), options);
}

json Pipeline(int i, const std::string& storage) {
  json spec = {{"auth", {{"apiKeysSecretRef", {{"name", "bench-api-keys"}}}}}};
  if (storage == "embedded") {
    spec["storage"] = {{"embedded", {{"size", "1Gi"}}}};
  } else {
    spec["storage"] = {{"clickhouse",
                        {{"url", "http://clickhouse.bench.svc:8123"},
                         {"credentialsSecretRef", {{"name", "bench-clickhouse"}}}}}};
  }
  return {{"apiVersion", "cohort.dev/v1alpha1"},
          {"kind", "AnalyticsPipeline"},
          {"metadata", {{"name", absl::StrFormat("p-%04d", i)}}},
          {"spec", std::move(spec)}};
}

// The writer process: creates the pipelines as fast as 16 threads can and prints
// "<unix ns of the first create's send> <unix ns when the last returned> <failures>".
int Writer(const std::string& kubeconfig, const std::string& ns, int pipelines,
           const std::string& storage) {
  std::unique_ptr<op::KubeClient> client = NewClient(kubeconfig, 5000, 16);
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::atomic<int64_t> first_ns{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < pipelines; i = next++) {
        int64_t expected = 0;
        first_ns.compare_exchange_strong(expected, absl::ToUnixNanos(absl::Now()));
        absl::Status s = client->Create(kPipelines, ns, Pipeline(i, storage)).status();
        if (!s.ok()) {
          if (failed++ < 5) std::fprintf(stderr, "create %d: %s\n", i, s.ToString().c_str());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("%ld %ld %d\n", first_ns.load(), absl::ToUnixNanos(absl::Now()), failed.load());
  return 0;
}

// --- The audit log, read incrementally.

struct Writes {
  int64_t writes = 0;  // mutating requests other than Lease renewals and Events
  int64_t leases = 0;
  int64_t events = 0;
  std::map<std::string, int64_t> by_request;  // "verb resource[/sub] code" → count
  std::vector<std::string> examples;          // a few of `writes`, for the report
};

class AuditTail {
 public:
  AuditTail(std::string path, std::string user) : path_(std::move(path)), user_(std::move(user)) {}

  // Skips everything written so far.
  void Mark() {
    std::error_code ec;
    offset_ = fs::file_size(path_, ec);
    if (ec) offset_ = 0;
  }

  // Adds the user's completed mutating requests written since the last call to `out`; returns
  // how many requests (of any kind) were added.
  int64_t Read(Writes& out) {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t end = text.rfind('\n');
    if (end == std::string::npos) return 0;
    offset_ += end + 1;
    int64_t added = 0;
    for (absl::string_view line :
         absl::StrSplit(absl::string_view(text).substr(0, end), '\n', absl::SkipEmpty())) {
      if (!absl::StrContains(line, user_)) continue;
      absl::StatusOr<testing::AuditEvent> e =
          testing::ParseAuditLine(std::string_view(line.data(), line.size()));
      if (!e.ok() || e->user != user_) continue;
      if (e->stage != "ResponseComplete" && e->stage != "Panic") continue;
      static const std::set<std::string> kMutating = {"create", "update", "patch", "delete",
                                                      "deletecollection"};
      if (!kMutating.contains(e->verb)) continue;
      ++added;
      if (e->resource == "leases") {
        ++out.leases;
        continue;
      }
      const std::string what =
          absl::StrCat(e->verb, " ", e->resource, e->subresource.empty() ? "" : "/", e->subresource,
                       " ", e->code);
      ++out.by_request[what];
      if (e->resource == "events") {
        ++out.events;
        continue;
      }
      ++out.writes;
      if (out.examples.size() < 10) {
        out.examples.push_back(absl::StrCat(what, " ", e->namespace_, "/", e->name));
      }
    }
    return added;
  }

 private:
  std::string path_;
  std::string user_;
  uintmax_t offset_ = 0;
};

// --- Prometheus histograms

bool LabelsInclude(const MetricSample& s, const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : labels) {
    auto it = s.labels.find(k);
    if (it == s.labels.end() || it->second != v) return false;
  }
  return true;
}

double Sum(const std::vector<MetricSample>& samples, const std::string& name,
           const std::map<std::string, std::string>& labels) {
  double total = 0;
  for (const MetricSample& s : samples) {
    if (s.name == name && LabelsInclude(s, labels)) total += s.value;
  }
  return total;
}

// Cumulative bucket counts by upper bound, summed over the series matching `labels`, minus those
// of `base` (an earlier scrape) when given.
std::map<double, double> Buckets(const std::vector<MetricSample>& samples,
                                 const std::vector<MetricSample>* base, const std::string& name,
                                 const std::map<std::string, std::string>& labels) {
  std::map<double, double> out;
  auto add = [&](const std::vector<MetricSample>& from, double sign) {
    for (const MetricSample& s : from) {
      if (s.name != name + "_bucket" || !LabelsInclude(s, labels)) continue;
      auto le = s.labels.find("le");
      if (le == s.labels.end()) continue;
      double bound = 0;
      if (le->second == "+Inf") {
        bound = INFINITY;
      } else if (!absl::SimpleAtod(le->second, &bound)) {
        continue;
      }
      out[bound] += sign * s.value;
    }
  };
  add(samples, 1);
  if (base != nullptr) add(*base, -1);
  return out;
}

struct Quantile {
  double count = 0;  // observations
  double value = 0;  // interpolated inside its bucket, as Prometheus' histogram_quantile
  double lower = 0;  // the bucket it falls in
  double upper = 0;  //   (upper = +Inf: beyond the last finite bound, value = that bound)
};

Quantile HistogramQuantile(const std::map<double, double>& buckets, double q) {
  Quantile r;
  if (buckets.empty()) return r;
  r.count = buckets.rbegin()->second;
  if (r.count <= 0) return r;
  const double rank = q * r.count;
  double prev_bound = 0, prev_count = 0;
  for (const auto& [bound, count] : buckets) {
    if (count >= rank) {
      r.lower = prev_bound;
      r.upper = bound;
      if (std::isinf(bound)) {
        r.value = prev_bound;
      } else {
        r.value = prev_bound +
                  (bound - prev_bound) * (rank - prev_count) / std::max(count - prev_count, 1e-12);
      }
      return r;
    }
    prev_bound = bound;
    prev_count = count;
  }
  return r;
}

std::string Seconds(double s) {
  if (s == 0) return "0";
  if (s < 0.001) return absl::StrFormat("%.3g µs", s * 1e6);
  if (s < 1) return absl::StrFormat("%.1f ms", s * 1e3);
  return absl::StrFormat("%.2f s", s);
}

std::string Describe(const Quantile& q) {
  if (q.count <= 0) return "n/a (no observations)";
  if (std::isinf(q.upper)) {
    return absl::StrCat("> ", Seconds(q.lower), " (beyond the last finite bucket)");
  }
  return absl::StrCat(Seconds(q.value), " (bucket ", Seconds(q.lower), " – ", Seconds(q.upper),
                      ")");
}

// The API server's flowcontrol metrics (only those lines, so the strict parser sees no others).
std::vector<MetricSample> ApfMetrics(const testing::ControlPlane& cp) {
  absl::StatusOr<std::string> text = cp.Kubectl({"get", "--raw", "/metrics"});
  if (!text.ok()) return {};
  std::string kept;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::StartsWith(line, "apiserver_flowcontrol_request_wait_duration_seconds") ||
        absl::StartsWith(line, "apiserver_flowcontrol_rejected_requests_total") ||
        absl::StartsWith(line, "apiserver_flowcontrol_dispatched_requests_total")) {
      absl::StrAppend(&kept, line, "\n");
    }
  }
  absl::StatusOr<std::vector<MetricSample>> samples = testing::ParsePrometheusText(kept);
  return samples.ok() ? *std::move(samples) : std::vector<MetricSample>{};
}

// --- The pipelines as the operator reports them.

class PipelineWatch {
 public:
  PipelineWatch(op::KubeClient& client, int expected) : expected_(expected) {
    op::InformerOptions options;
    options.type = kPipelines;
    options.namespaces = {kNamespace};
    informer_ = std::make_unique<op::Informer>(client, options);
    informer_->AddHandler({[this](const op::ObjectPtr& o) { Observe(*o); },
                           [this](const op::ObjectPtr&, const op::ObjectPtr& o) { Observe(*o); },
                           nullptr});
    informer_->Start();
  }
  ~PipelineWatch() { informer_->Stop(); }

  int ready() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(ready_at_.size());
  }
  int settled() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(settled_.size());
  }
  // Seconds from `start` until each pipeline first reported Ready=True.
  std::vector<double> ReadySeconds(absl::Time start) const {
    absl::MutexLock lock(&mu_);
    std::vector<double> out;
    for (const auto& [key, t] : ready_at_) out.push_back(absl::ToDoubleSeconds(t - start));
    std::sort(out.begin(), out.end());
    return out;
  }
  // A pipeline that is not settled, with its status, for error messages.
  std::string OneUnsettled() const {
    for (const op::ObjectPtr& p : informer_->List()) {
      const std::string key = op::ObjectKey(*p);
      absl::MutexLock lock(&mu_);
      if (!settled_.contains(key)) {
        return absl::StrCat(key, ": ", (*p).value("status", json::object()).dump());
      }
    }
    return "";
  }
  int expected() const { return expected_; }

 private:
  static std::string ConditionStatus(const json& status, const std::string& type) {
    for (const json& c : status.value("conditions", json::array())) {
      if (c.value("type", "") == type) return c.value("status", "");
    }
    return "";
  }

  void Observe(const json& p) {
    const absl::Time now = absl::Now();
    const json status = p.value("status", json::object());
    const bool ready = ConditionStatus(status, "Ready") == "True";
    const bool settled = ready && ConditionStatus(status, "Progressing") == "False" &&
                         ConditionStatus(status, "Degraded") == "False" &&
                         status.value("observedGeneration", int64_t{-1}) ==
                             p["metadata"].value("generation", int64_t{-2});
    const std::string key = op::ObjectKey(p);
    absl::MutexLock lock(&mu_);
    if (ready) ready_at_.try_emplace(key, now);
    if (settled) {
      settled_.insert(key);
    } else {
      settled_.erase(key);
    }
  }

  const int expected_;
  std::unique_ptr<op::Informer> informer_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> ready_at_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> settled_ ABSL_GUARDED_BY(mu_);
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t idx = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
}

std::string Goal(bool met, const std::string& by) {
  return met ? "met" : absl::StrCat("**missed** by ", by);
}

// --- The run.

// --- Setting up: a control plane of its own, the chart, the ServiceAccount's kubeconfig.

struct Cluster {
  std::unique_ptr<testing::ControlPlane> cp;
  std::string sa_user;                  // system:serviceaccount:<namespace>:<name>
  std::vector<std::string> chart_args;  // the chart's operator flags, but addresses and logs
  std::string operator_kubeconfig;      // the ServiceAccount's token and the CA
};

Cluster SetUpCluster(const Flags& flags, const std::string& home) {
  // kwok has no client-side rate limit; give its pod stages more workers than the default 4. A
  // configuration from a file gets no defaults, so every option kwok needs is here (the rest at
  // kwok's defaults; the command line still sets the CIDR and the node selection).
  const std::string kwok_config = home + "/kwok.yaml";
  {
    std::ofstream out(kwok_config);
    out << "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions:\n"
        << "  podPlayStageParallelism: 16\n  nodePlayStageParallelism: 4\n"
        << "  nodeLeaseParallelism: 4\n  podsOnNodeSyncParallelism: 4\n"
        << "  enablePodsOnNodeSyncListPager: true\n  enablePodsOnNodeSyncStreamWatch: false\n"
        << "  enableDebuggingHandlers: true\n  enableProfilingHandler: true\n"
        << "  enableContentionProfiling: false\n";
  }
  testing::ControlPlane::Options cp_options;
  cp_options.cpctl_flags = {
      "--controller-manager-arg=--kube-api-qps=1000",
      "--controller-manager-arg=--kube-api-burst=2000",
      "--controller-manager-arg=--concurrent-statefulset-syncs=20",
      "--scheduler-arg=--kube-api-qps=1000",
      "--scheduler-arg=--kube-api-burst=2000",
      absl::StrCat("--kwok-arg=--config=", kwok_config),
      absl::StrCat("--nodes=", flags.nodes),
      absl::StrCat("--node-pods=", std::max(1000, 2 * flags.pipelines)),
  };
  Progress("starting the control plane");
  absl::StatusOr<std::unique_ptr<testing::ControlPlane>> started =
      testing::ControlPlane::Start(cp_options);
  if (!started.ok()) Die(started.status().ToString());
  Cluster cluster;
  cluster.cp = *std::move(started);
  const testing::ControlPlane& cp = *cluster.cp;

  auto kubectl = [&](const std::vector<std::string>& args, const std::string& input = "") {
    absl::StatusOr<std::string> out = cp.Kubectl(args, input);
    if (!out.ok()) {
      Die(absl::StrCat("kubectl ", absl::StrJoin(args, " "), ": ", out.status().ToString()));
    }
    return *out;
  };

  // The chart: CRD, ServiceAccount, RBAC; no operator pod.
  Progress("helm install (replicas=0)");
  testing::RunOptions helm;
  helm.env = {{"KUBECONFIG", cp.kubeconfig()},
              {"HELM_CACHE_HOME", home + "/helm/cache"},
              {"HELM_CONFIG_HOME", home + "/helm/config"},
              {"HELM_DATA_HOME", home + "/helm/data"}};
  helm.timeout = absl::Minutes(3);
  if (absl::StatusOr<std::string> out = testing::RunCommandOk(
          {cp.bin_dir() + "/helm", "install", kRelease,
           absl::StrCat(COHORT_SOURCE_DIR, "/charts/cohort-operator"), "--namespace",
           kChartNamespace, "--create-namespace", "--set", "replicas=0"},
          helm);
      !out.ok()) {
    Die(out.status().ToString());
  }
  kubectl({"wait", "--for=condition=Established", "--timeout=60s",
           "crd/analyticspipelines.cohort.dev"});
  const json deployments =
      json::parse(kubectl({"get", "deployments", "-n", kChartNamespace, "-l",
                           absl::StrCat("app.kubernetes.io/instance=", kRelease), "-o", "json"}));
  if (deployments["items"].size() != 1) Die("expected one operator Deployment");
  const json& pod_spec = deployments["items"][0]["spec"]["template"]["spec"];
  const std::string sa = pod_spec.value("serviceAccountName", "");
  cluster.sa_user = absl::StrCat("system:serviceaccount:", kChartNamespace, ":", sa);
  for (const json& a : pod_spec["containers"][0]["args"]) {
    const std::string arg = a.get<std::string>();
    // OperatorProcess chooses the addresses and the log format.
    if (absl::StartsWith(arg, "--metrics-bind-address") ||
        absl::StartsWith(arg, "--health-probe-bind-address") ||
        absl::StartsWith(arg, "--log-format")) {
      continue;
    }
    cluster.chart_args.push_back(arg);
  }

  // The ServiceAccount's identity: a token and the CA, no client certificate.
  const std::string token = std::string(absl::StripAsciiWhitespace(
      kubectl({"create", "token", sa, "-n", kChartNamespace, "--duration=6h"})));
  const std::string server = std::string(absl::StripAsciiWhitespace(
      kubectl({"config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"})));
  cluster.operator_kubeconfig = home + "/operator.kubeconfig";
  {
    std::ofstream out(cluster.operator_kubeconfig);
    out << "apiVersion: v1\nkind: Config\n"
        << "clusters:\n- name: cp\n  cluster:\n    server: " << server
        << "\n    certificate-authority: " << cp.dir() << "/pki/ca.crt\n"
        << "users:\n- name: operator\n  user:\n    token: " << token
        << "\ncontexts:\n- name: operator\n  context: {cluster: cp, user: operator}\n"
        << "current-context: operator\n";
  }
  chmod(cluster.operator_kubeconfig.c_str(), 0600);

  // The namespace and the Secrets every pipeline references.
  kubectl({"create", "namespace", kNamespace});
  kubectl({"apply", "-n", kNamespace, "-f", "-"}, R"(
apiVersion: v1
kind: Secret
metadata: {name: bench-api-keys}
stringData:
  api-keys: |
    FAKE-ingest-key-0000-do-not-use  demo  amplitude,native
---
apiVersion: v1
kind: Secret
metadata: {name: bench-clickhouse}
stringData: {username: cohort, password: FAKE-password-0000}
)");
  return cluster;
}

// The raw JSON (managedFields dropped, as the operator's informers drop them) of what the operator
// caches: the pipelines and the children it labels as managed by it. Returns {MB, objects}.
std::pair<double, int64_t> CachedJson(op::KubeClient& client) {
  const std::string children = absl::StrCat(op::kManagedByLabel, "=", op::kDefaultFieldManager);
  const std::vector<std::pair<op::ResourceType, std::string>> lists = {
      {kPipelines, ""},
      {op::resources::kServiceAccounts, children},
      {op::resources::kConfigMaps, children},
      {op::resources::kServices, children},
      {op::resources::kStatefulSets, children},
      {op::resources::kPodDisruptionBudgets, children},
      {op::resources::kHorizontalPodAutoscalers, children},
      {op::resources::kNetworkPolicies, children}};
  size_t bytes = 0;
  int64_t objects = 0;
  for (const auto& [type, selector] : lists) {
    op::ListOptions options;
    options.label_selector = selector;
    options.limit = 500;
    absl::StatusOr<op::ListPage> page = client.ListAll(type, "", options);
    if (!page.ok()) Die(absl::StrCat("listing ", type.resource, ": ", page.status().ToString()));
    for (json& item : page->items) {
      op::StripManagedFields(item);
      bytes += item.dump().size();
      ++objects;
    }
  }
  return {bytes / 1e6, objects};
}

// --- What one run measured.

struct Measurements {
  absl::Time began;
  std::string load_at_start, load_during, load_at_end;
  std::vector<std::string> operator_args;  // as run
  std::string sa_user;
  std::vector<std::string> chart_args;

  double create_seconds = 0;          // the writer's burst
  std::vector<double> ready_seconds;  // per pipeline, from the first create, sorted
  double converge_seconds = 0;
  Writes converge, rest;
  double cpu_converge = 0, cpu_rest = 0;
  double cpu_window = 0;  // wall seconds that component_cpu covers
  std::map<std::string, double> component_cpu;
  double rss_before = 0;  // before the burst: the operator with empty caches
  double hwm_at_ready = 0, peak_rss = 0, rss_steady = 0, rss_after_rest = 0;
  double cached_json_mb = 0;  // CachedJson() once converged
  int64_t cached_objects = 0;
  int64_t peak_depth = 0;
  // The operator's and the API server's metrics before the burst and once converged, and the
  // operator's after the rest.
  std::vector<MetricSample> op_before, op_after, op_rest, apf_before, apf_after;
  std::vector<std::string> resyncs_in_window;  // offsets into the rest window
};

// Runs the operator, the burst, the wait for convergence and the rest; fills `m`.
void Measure(const Flags& flags, absl::Duration sync_period, const Cluster& cluster,
             const std::string& home, Measurements& m) {
  const testing::ControlPlane& cp = *cluster.cp;
  std::vector<std::string> args = cluster.chart_args;
  args.push_back("--kubeconfig=" + cluster.operator_kubeconfig);
  args.push_back(absl::StrCat("--leader-election-namespace=", kChartNamespace));
  args.push_back(absl::StrCat("--sync-period=", flags.sync_period));
  args.insert(args.end(), flags.operator_args.begin(), flags.operator_args.end());
  m.operator_args = args;
  const std::string operator_log = home + "/operator.log";
  const absl::Time operator_started = absl::Now();
  std::unique_ptr<testing::OperatorProcess> op =
      testing::OperatorProcess::Start(COHORT_OPERATOR_PATH, args, operator_log);
  if (op == nullptr) Die("the operator did not start; log in " + operator_log);
  const pid_t op_pid = op->child().pid();
  if (!testing::WaitFor("the operator to lead", absl::Minutes(2), [&] {
         return op->Metric("leader_election_master_status", {{"name", kLeaseName}}) == 1;
       }).ok()) {
    Die("the operator did not become leader; log in " + operator_log);
  }
  Progress(absl::StrCat("operator pid ", op_pid, " leading; args: ", absl::StrJoin(args, " ")));
  auto scrape = [&] {
    absl::StatusOr<std::vector<MetricSample>> samples = op->Scrape();
    if (!samples.ok()) Die(absl::StrCat("scraping the operator: ", samples.status().ToString()));
    return *std::move(samples);
  };

  std::unique_ptr<op::KubeClient> admin = NewClient(cp.kubeconfig(), 1000, 4);
  PipelineWatch watch(*admin, flags.pipelines);
  AuditTail audit(cp.audit_log(), cluster.sa_user);
  audit.Mark();
  const double cpu_before = CpuSeconds(op_pid);
  m.rss_before = StatusMb(op_pid, "VmRSS");
  const absl::Time cpu_window_start = absl::Now();
  const std::map<std::string, double> components_before = ComponentCpu(cp);
  m.apf_before = ApfMetrics(cp);
  m.op_before = scrape();

  // --- The burst.
  Progress(absl::StrCat("creating ", flags.pipelines, " pipelines (", flags.storage, ")"));
  testing::RunOptions writer_options;
  writer_options.timeout = absl::Minutes(30);
  absl::StatusOr<testing::RunResult> wrote =
      testing::RunCommand({SelfPath(), "--writer", cp.kubeconfig(), kNamespace,
                           absl::StrCat(flags.pipelines), flags.storage},
                          writer_options);
  if (!wrote.ok() || wrote->exit_code != 0) {
    Die(absl::StrCat("writer failed: ", wrote.ok() ? wrote->err : wrote.status().ToString()));
  }
  int64_t first_ns = 0, last_ns = 0;
  int failed = 0;
  if (std::sscanf(wrote->out.c_str(), "%ld %ld %d", &first_ns, &last_ns, &failed) != 3 ||
      failed != 0) {
    Die(absl::StrCat("writer: ", wrote->out, wrote->err));
  }
  const absl::Time first_create = absl::FromUnixNanos(first_ns);
  m.create_seconds = absl::ToDoubleSeconds(absl::FromUnixNanos(last_ns) - first_create);
  Progress(absl::StrFormat("created in %.2f s", m.create_seconds));

  // --- Until every pipeline is Ready.
  absl::Time last_report = absl::Now();
  absl::Time last_depth = absl::InfinitePast();
  const absl::Time ready_deadline = first_create + absl::Seconds(flags.ready_timeout_seconds);
  while (watch.ready() < flags.pipelines) {
    if (absl::Now() > ready_deadline) {
      Die(absl::StrCat("only ", watch.ready(), " of ", flags.pipelines, " Ready after ",
                       flags.ready_timeout_seconds, " s; e.g. ", watch.OneUnsettled(),
                       "; operator log in ", operator_log));
    }
    if (!op->child().Running()) Die("the operator exited; log in " + operator_log);
    // Scraping costs the operator CPU too: every 5 s only.
    if (absl::Now() - last_depth >= absl::Seconds(5)) {
      last_depth = absl::Now();
      m.peak_depth = std::max<int64_t>(
          m.peak_depth,
          static_cast<int64_t>(op->Metric("workqueue_depth", {{"name", kController}})));
    }
    if (absl::Now() - last_report > absl::Seconds(10)) {
      audit.Read(m.converge);
      last_report = absl::Now();
      m.load_during = LoadAverage();
      Progress(
          absl::StrFormat("%d Ready, peak queue depth %ld, operator writes %ld (+%ld Events), "
                          "RSS %.1f MB (malloc in use %.1f MB), load %s",
                          watch.ready(), m.peak_depth, m.converge.writes, m.converge.events,
                          StatusMb(op_pid, "VmRSS"),
                          op->Metric("cohort_malloc_in_use_bytes", {}) / 1e6, m.load_during));
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  m.ready_seconds = watch.ReadySeconds(first_create);
  Progress(absl::StrFormat("all %d Ready %.2f s after the first create", flags.pipelines,
                           m.ready_seconds.back()));
  m.hwm_at_ready = StatusMb(op_pid, "VmHWM");

  // --- Converged: every pipeline settled, then no write but Lease renewals for kQuiet and an
  // empty queue. The convergence time is that of the last write seen (or of settling, if none
  // came after it).
  if (!testing::WaitFor("every pipeline to settle", absl::Minutes(10), [&] {
         return watch.settled() == flags.pipelines;
       }).ok()) {
    Die(absl::StrCat("not settled: ", watch.OneUnsettled()));
  }
  audit.Read(m.converge);
  absl::Time last_write = absl::Now();
  int64_t writes_seen = m.converge.writes + m.converge.events;
  if (!testing::WaitFor(
           "the operator to be idle", absl::Minutes(10),
           [&] {
             audit.Read(m.converge);
             if (m.converge.writes + m.converge.events != writes_seen) {
               writes_seen = m.converge.writes + m.converge.events;
               last_write = absl::Now();
             }
             return absl::Now() - last_write >= kQuiet &&
                    op->Metric("workqueue_depth", {{"name", kController}}) == 0;
           },
           absl::Seconds(2))
           .ok()) {
    Die("the operator did not go idle");
  }
  m.converge_seconds = absl::ToDoubleSeconds(last_write - first_create);
  m.cpu_converge = CpuSeconds(op_pid) - cpu_before;
  m.rss_steady = StatusMb(op_pid, "VmRSS");
  for (const auto& [name, after] : ComponentCpu(cp)) {
    auto before = components_before.find(name);
    if (before != components_before.end() && after >= 0 && before->second >= 0) {
      m.component_cpu[name] = after - before->second;
    }
  }
  m.cpu_window = absl::ToDoubleSeconds(absl::Now() - cpu_window_start);
  m.apf_after = ApfMetrics(cp);
  m.op_after = scrape();
  std::tie(m.cached_json_mb, m.cached_objects) = CachedJson(*admin);
  Progress(absl::StrFormat("converged %.1f s after the first create: %ld writes, %ld Events",
                           m.converge_seconds, m.converge.writes, m.converge.events));

  // --- At rest, with resyncs.
  audit.Mark();
  const double cpu_rest_before = CpuSeconds(op_pid);
  const absl::Time rest_start = absl::Now();
  const absl::Time rest_end = rest_start + absl::Seconds(flags.rest_seconds);
  Progress(
      absl::StrFormat("at rest for %d s (sync period %s)", flags.rest_seconds, flags.sync_period));
  while (absl::Now() < rest_end) {
    absl::SleepFor(std::min(absl::Seconds(30), rest_end - absl::Now()));
    audit.Read(m.rest);
    if (!op->child().Running()) Die("the operator exited at rest; log in " + operator_log);
    Progress(absl::StrFormat("rest: %.0f s, %ld writes, %ld Events, %ld Lease renewals",
                             absl::ToDoubleSeconds(absl::Now() - rest_start), m.rest.writes,
                             m.rest.events, m.rest.leases));
  }
  // Requests still in flight at the end show up in the log a moment later.
  absl::SleepFor(absl::Seconds(2));
  audit.Read(m.rest);
  m.op_rest = scrape();
  m.cpu_rest = CpuSeconds(op_pid) - cpu_rest_before;
  m.rss_after_rest = StatusMb(op_pid, "VmRSS");
  m.peak_rss = StatusMb(op_pid, "VmHWM");
  // Resyncs fall at multiples of the sync period after the informers started (just after the
  // operator did).
  for (absl::Time t = operator_started + sync_period; t < rest_end; t += sync_period) {
    if (t >= rest_start) {
      m.resyncs_in_window.push_back(
          absl::StrFormat("%.0f s", absl::ToDoubleSeconds(t - rest_start)));
    }
  }
  m.load_at_end = LoadAverage();

  // Stop the operator (it releases its Lease); remove the volumes' directories, which outlive
  // the control plane (every replica has a volume: the data, or only the WAL under ClickHouse).
  op->child().Stop(SIGTERM, absl::Seconds(40));
  absl::StatusOr<std::string> paths =
      cp.Kubectl({"get", "pv", "-o", "jsonpath={.items[*].spec.hostPath.path}"});
  if (paths.ok()) {
    for (absl::string_view p : absl::StrSplit(*paths, ' ', absl::SkipEmpty())) {
      if (absl::StartsWith(p, "/tmp/hostpath_pv/")) {
        std::error_code ec;
        fs::remove_all(std::string(p), ec);
      }
    }
  }
}

// --- The report: a markdown section on standard output.

// The change of the sum of `name` over the series with `labels` between two scrapes.
double Delta(const std::vector<MetricSample>& after, const std::vector<MetricSample>& before,
             const std::string& name, const std::map<std::string, std::string>& labels) {
  return Sum(after, name, labels) - Sum(before, name, labels);
}

void PrintReport(const Flags& flags, const Measurements& m) {
  const double n = flags.pipelines;
  const double all_ready = m.ready_seconds.back();
  const double per_pipeline = m.converge.writes / n;
  const std::map<std::string, std::string> controller = {{"controller", kController}};
  const std::map<std::string, std::string> queue = {{"name", kController}};
  const Quantile queue_p99 = HistogramQuantile(
      Buckets(m.op_after, &m.op_before, "workqueue_queue_duration_seconds", queue), 0.99);
  const Quantile queue_p50 = HistogramQuantile(
      Buckets(m.op_after, &m.op_before, "workqueue_queue_duration_seconds", queue), 0.50);
  const Quantile api_p99 = HistogramQuantile(
      Buckets(m.op_after, &m.op_before, "rest_client_request_duration_seconds", {}), 0.99);
  const double api_requests = Delta(m.op_after, m.op_before, "rest_client_requests_total", {});
  const double api_seconds =
      Delta(m.op_after, m.op_before, "rest_client_request_duration_seconds_sum", {});
  const double reconciles =
      Delta(m.op_after, m.op_before, "controller_runtime_reconcile_total", controller);
  const double reconcile_errors =
      Delta(m.op_after, m.op_before, "controller_runtime_reconcile_errors_total", controller);
  const double reconciles_rest =
      Delta(m.op_rest, m.op_after, "controller_runtime_reconcile_total", controller);
  std::string qps_flag = "50", burst_flag = "100";
  for (const std::string& a : m.operator_args) {
    if (absl::StartsWith(a, "--kube-api-qps=")) qps_flag = a.substr(15);
    if (absl::StartsWith(a, "--kube-api-burst=")) burst_flag = a.substr(17);
  }
  const std::map<std::string, std::string> apf = {{"priority_level", "workload-low"},
                                                  {"execute", "true"}};
  const Quantile apf_wait_p99 =
      HistogramQuantile(Buckets(m.apf_after, &m.apf_before,
                                "apiserver_flowcontrol_request_wait_duration_seconds", apf),
                        0.99);
  const double apf_waited = Delta(m.apf_after, m.apf_before,
                                  "apiserver_flowcontrol_request_wait_duration_seconds_count", apf);
  const double apf_wait_sum = Delta(m.apf_after, m.apf_before,
                                    "apiserver_flowcontrol_request_wait_duration_seconds_sum", apf);
  const double apf_rejected =
      Delta(m.apf_after, m.apf_before, "apiserver_flowcontrol_rejected_requests_total",
            {{"priority_level", "workload-low"}});
  const bool rest_met = m.rest.writes == 0 && m.rest.events == 0;

  std::printf("### %d pipelines, %s storage — %s\n\n", flags.pipelines, flags.storage.c_str(),
              absl::FormatTime("%Y-%m-%d", m.began, absl::UTCTimeZone()).c_str());
  std::printf("`%s`\n\n", flags.command.c_str());
  std::printf(
      "Machine: %s. Load average (1/5/15 min) at start %s, during the burst %s, at the "
      "end %s.\n\n",
      Machine().c_str(), m.load_at_start.c_str(), m.load_during.c_str(), m.load_at_end.c_str());
  std::vector<std::string> shown_args;
  for (const std::string& a : m.operator_args) {
    shown_args.push_back(absl::StartsWith(a, "--kubeconfig=") ? "--kubeconfig=<token kubeconfig>"
                                                              : a);
  }
  std::printf(
      "Operator: `cohort-operator %s` (the chart's flags plus the benchmark's), as "
      "`%s`. Pipelines created by 16 threads in %.2f s.\n\n",
      absl::StrJoin(shown_args, " ").c_str(), m.sa_user.c_str(), m.create_seconds);
  std::printf("| measure | value | goal |\n|---|---|---|\n");
  std::printf(
      "| all Ready after the first create | %.1f s (per pipeline: p50 %.1f s, p99 %.1f "
      "s) | ≤ %.0f s: %s |\n",
      all_ready, Percentile(m.ready_seconds, 0.5), Percentile(m.ready_seconds, 0.99),
      kGoalReadySeconds,
      Goal(all_ready <= kGoalReadySeconds,
           absl::StrFormat("%.1f s (%.1f×)", all_ready - kGoalReadySeconds,
                           all_ready / kGoalReadySeconds))
          .c_str());
  std::printf(
      "| converged (every pipeline settled, operator idle) | %.1f s after the first "
      "create | |\n",
      m.converge_seconds);
  std::printf(
      "| writes per pipeline to converge | %.2f (%ld writes; Lease renewals excluded) | "
      "≤ %.0f: %s |\n",
      per_pipeline, m.converge.writes, kGoalWritesPerPipeline,
      Goal(per_pipeline <= kGoalWritesPerPipeline,
           absl::StrFormat("%.2f", per_pipeline - kGoalWritesPerPipeline))
          .c_str());
  std::printf("| Events written | %ld (%.2f per pipeline) | |\n", m.converge.events,
              m.converge.events / n);
  std::printf("| operator CPU | %.1f s to converge; %.1f s in %d s at rest | |\n", m.cpu_converge,
              m.cpu_rest, flags.rest_seconds);
  std::printf("| queue wait (analyticspipeline) | p99 %s; p50 %s | |\n",
              Describe(queue_p99).c_str(), Describe(queue_p50).c_str());
  std::printf(
      "| peak RSS (VmHWM) | %.1f MB (%.1f MB when all were Ready) | ≤ %.0f MB: %s |\n", m.peak_rss,
      m.hwm_at_ready, kGoalRssMb,
      Goal(m.peak_rss <= kGoalRssMb, absl::StrFormat("%.1f MB", m.peak_rss - kGoalRssMb)).c_str());
  std::printf(
      "| steady RSS (VmRSS) | %.1f MB converged; %.1f MB after the rest (%.1f MB before the "
      "burst; the %ld cached objects are %.1f MB of JSON without managedFields) | ≤ %.0f MB: "
      "%s |\n",
      m.rss_steady, m.rss_after_rest, m.rss_before, m.cached_objects, m.cached_json_mb, kGoalRssMb,
      Goal(m.rss_steady <= kGoalRssMb, absl::StrFormat("%.1f MB", m.rss_steady - kGoalRssMb))
          .c_str());
  std::printf(
      "| malloc heap (cohort_malloc_in_use_bytes / _system_bytes) | in use %.1f MB of %.1f MB "
      "held converged; %.1f of %.1f MB after the rest (%.1f of %.1f MB before the burst) | |\n",
      Sum(m.op_after, "cohort_malloc_in_use_bytes", {}) / 1e6,
      Sum(m.op_after, "cohort_malloc_system_bytes", {}) / 1e6,
      Sum(m.op_rest, "cohort_malloc_in_use_bytes", {}) / 1e6,
      Sum(m.op_rest, "cohort_malloc_system_bytes", {}) / 1e6,
      Sum(m.op_before, "cohort_malloc_in_use_bytes", {}) / 1e6,
      Sum(m.op_before, "cohort_malloc_system_bytes", {}) / 1e6);
  std::printf(
      "| at rest: %d s, resync at %s into it | %ld writes, %ld Events, %ld Lease "
      "renewals; %.0f reconciles | 0 writes: %s |\n",
      flags.rest_seconds,
      m.resyncs_in_window.empty() ? "none (!)" : absl::StrJoin(m.resyncs_in_window, ", ").c_str(),
      m.rest.writes, m.rest.events, m.rest.leases, reconciles_rest,
      rest_met ? "met" : "**missed**");
  std::printf(
      "\nWhat the operator did to converge: %.0f reconciles (%.0f errors), peak queue "
      "depth %ld (sampled every 5 s); %.0f API requests in %.1f s = %.1f/s against "
      "--kube-api-qps=%s (burst %s); API latency mean %s, p99 %s.\n",
      reconciles, reconcile_errors, m.peak_depth, api_requests, m.converge_seconds,
      api_requests / std::max(m.converge_seconds, 1e-9), qps_flag.c_str(), burst_flag.c_str(),
      Seconds(api_requests > 0 ? api_seconds / api_requests : 0).c_str(),
      Describe(api_p99).c_str());
  std::printf(
      "API priority and fairness, priority level workload-low (the operator's, shared "
      "with any other ServiceAccount outside kube-system): %.0f requests executed, queue "
      "wait mean %s, p99 %s; %.0f rejected.\n",
      apf_waited, Seconds(apf_waited > 0 ? apf_wait_sum / apf_waited : 0).c_str(),
      Describe(apf_wait_p99).c_str(), apf_rejected);
  std::printf("\nWrites to converge by request (verb, resource, HTTP code):\n\n");
  std::printf("| request | count | per pipeline |\n|---|---|---|\n");
  for (const auto& [what, count] : m.converge.by_request) {
    std::printf("| %s | %ld | %.2f |\n", what.c_str(), count, count / n);
  }
  if (!m.rest.by_request.empty()) {
    std::printf("\nWrites at rest (should be none):\n\n");
    for (const auto& [what, count] : m.rest.by_request) {
      std::printf("- %s: %ld\n", what.c_str(), count);
    }
    for (const std::string& e : m.rest.examples) std::printf("  - e.g. %s\n", e.c_str());
  }
  std::printf(
      "\nCPU seconds from just before the burst until the operator was seen idle "
      "(%.1f s of wall time, %ld cores):\n\n| process | CPU s |\n|---|---|\n",
      m.cpu_window, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("| cohort-operator | %.1f |\n", m.cpu_converge);
  for (const auto& [name, seconds] : m.component_cpu) {
    std::printf("| %s | %.1f |\n", name.c_str(), seconds);
  }
  std::printf("\nChart flags used: `%s`.\n", absl::StrJoin(m.chart_args, " ").c_str());
  std::fflush(stdout);
}

int Run(const Flags& flags) {
  absl::StatusOr<absl::Duration> sync_period = ParseGoDuration(flags.sync_period);
  if (!sync_period.ok() || *sync_period <= absl::ZeroDuration()) Die("bad --sync-period");
  if (*sync_period > absl::Seconds(flags.rest_seconds)) {
    Die("--sync-period is longer than --rest-seconds: no resync would be sure to fall inside the "
        "rest window");
  }
  Measurements m;
  m.load_at_start = LoadAverage();
  m.began = absl::Now();
  std::string home = (fs::temp_directory_path() / "cohort-pipeline-bench.XXXXXX").string();
  if (mkdtemp(home.data()) == nullptr) Die("mkdtemp");
  Progress(absl::StrCat("working directory ", home));

  const Cluster cluster = SetUpCluster(flags, home);
  m.sa_user = cluster.sa_user;
  m.chart_args = cluster.chart_args;
  Measure(flags, *sync_period, cluster, home, m);
  PrintReport(flags, m);

  if (!flags.keep_logs) {
    std::error_code ec;
    fs::remove_all(home, ec);
  } else {
    Progress(absl::StrCat("logs kept in ", home));
  }
  return m.rest.writes == 0 && m.rest.events == 0 ? 0 : 3;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  using namespace cohort::bench;
  if (argc == 6 && std::string(argv[1]) == "--writer") {
    int pipelines = 0;
    if (!absl::SimpleAtoi(argv[4], &pipelines)) return 2;
    return Writer(argv[2], argv[3], pipelines, argv[5]);
  }
  return Run(ParseFlags(argc, argv));
}
