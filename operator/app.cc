#include "operator/app.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/flag_set.h"
#include "common/heap_trimmer.h"
#include "common/logging.h"
#include "common/process_metrics.h"
#include "operator/cpprest_transport.h"
#include "operator/runtime_metrics.h"
#include "spdlog/spdlog.h"

namespace cohort::op {
namespace {

// The manager the signal thread stops; null outside RunOperator's run phase.
std::atomic<Manager*> g_manager{nullptr};

void FlushLogs() {
  if (auto logger = spdlog::default_logger()) logger->flush();
}

// Waits for SIGTERM/SIGINT (blocked in every thread) and turns them into a graceful stop, or an
// immediate exit the second time.
void SignalLoop(sigset_t set) {
  int received = 0;
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (++received == 1) {
      spdlog::info("received {}: shutting down gracefully (again to exit at once)",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      if (Manager* manager = g_manager.load()) manager->RequestStop();
      continue;
    }
    spdlog::error("received a second signal: exiting at once");
    FlushLogs();
    std::_Exit(1);
  }
}

// "https://host:port/..." → "host:port" (client-go's rest_client_* host label).
std::string HostOf(const std::string& url) {
  absl::string_view server = url;
  absl::ConsumePrefix(&server, "https://") || absl::ConsumePrefix(&server, "http://");
  return std::string(server.substr(0, server.find('/')));
}

struct Flags {
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> namespaces;
  double kube_api_qps = 50;
  int kube_api_burst = 100;
  bool leader_elect = false;
  std::string leader_election_namespace;
  std::string leader_election_id = "cohort-operator.cohort.dev";
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  std::string metrics_bind_address = ":8080";
  std::string health_probe_bind_address = ":8081";
  int max_concurrent_reconciles = 2;
  absl::Duration graceful_shutdown_timeout = absl::Seconds(30);
  absl::Duration cache_sync_timeout = absl::Minutes(2);
  absl::Duration sync_period = absl::Hours(10);
  std::string log_format = "text";
  std::string log_level = "info";

  void Register(FlagSet& set) {
    set.Add("kubeconfig", &kubeconfig,
            "Path to a kubeconfig. Empty: $KUBECONFIG, then the in-cluster service account, then "
            "~/.kube/config.");
    set.Add("context", &context, "The kubeconfig context to use. Empty: its current-context.");
    set.Add("namespaces", &namespaces,
            "Comma-separated namespaces to watch (the operator then needs RBAC in these only). "
            "Empty: all namespaces.");
    set.Add("kube-api-qps", &kube_api_qps,
            "Client-side rate limit: steady requests per second to the API server.");
    set.Add("kube-api-burst", &kube_api_burst,
            "Client-side rate limit: requests allowed at once above --kube-api-qps.");
    set.Add("leader-elect", &leader_elect,
            "Campaign for a coordination.k8s.io/v1 Lease and reconcile only while holding it "
            "(required with more than one replica).");
    set.Add("leader-election-namespace", &leader_election_namespace,
            "Namespace of the Lease. Empty: the operator's own namespace (in-cluster) or the "
            "kubeconfig context's.");
    set.Add("leader-election-id", &leader_election_id, "Name of the Lease.");
    set.Add("leader-election-lease-duration", &lease_duration,
            "How long a standby waits after the last change of the Lease before taking over.");
    set.Add("leader-election-renew-deadline", &renew_deadline,
            "How long the leader keeps leading without a successful renewal.");
    set.Add("leader-election-retry-period", &retry_period,
            "Pause between attempts to acquire or renew the Lease.");
    set.Add("metrics-bind-address", &metrics_bind_address,
            "host:port of the Prometheus /metrics endpoint; \"0\" turns it off.");
    set.Add("health-probe-bind-address", &health_probe_bind_address,
            "host:port of /healthz and /readyz; \"0\" turns them off.");
    set.Add("max-concurrent-reconciles", &max_concurrent_reconciles,
            "Worker threads per controller.");
    set.Add("graceful-shutdown-timeout", &graceful_shutdown_timeout,
            "After SIGTERM, how long in-flight reconciles get to finish.");
    set.Add("cache-sync-timeout", &cache_sync_timeout,
            "How long to wait for the caches' first lists before giving up.");
    set.Add("sync-period", &sync_period,
            "How often every cached object is handed to its controllers again, changed or not (a "
            "resync: everything is reconciled, nothing is read from the API server). 0: never.");
    set.Add("log-format", &log_format, "Log line format: text or json.");
    set.Add("log-level", &log_level,
            "Lowest level logged: trace, debug, info, warn, error, critical or off.");
  }
};

}  // namespace

int RunOperator(int argc, char** argv, const OperatorProgram& program) {
  // Before any thread exists, so every thread inherits the mask and only SignalLoop sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Also before any thread: two malloc arenas rather than up to 16, and (below) a periodic trim,
  // so a burst's freed memory goes back to the kernel (common/heap_trimmer.h).
  LimitMallocArenas(2);
  signal(SIGPIPE, SIG_IGN);  // a peer closing a socket is an error return, not a death

  Flags flags;
  FlagSet flag_set(program.name);
  flags.Register(flag_set);
  if (program.add_flags) program.add_flags(flag_set);
  absl::StatusOr<std::vector<std::string>> positional = flag_set.Parse(argc, argv);
  if (flag_set.help_requested()) {
    fputs(flag_set.Usage(program.description).c_str(), stdout);
    return 0;
  }
  if (!positional.ok()) {
    fprintf(stderr, "%s: %s\n", program.name.c_str(),
            std::string(positional.status().message()).c_str());
    return 2;
  }
  if (!positional->empty()) {
    fprintf(stderr, "%s: unexpected argument \"%s\" (see --help)\n", program.name.c_str(),
            positional->front().c_str());
    return 2;
  }

  absl::StatusOr<LogFormat> format = ParseLogFormat(flags.log_format);
  if (!format.ok()) {
    fprintf(stderr, "%s: --log-format: %s\n", program.name.c_str(),
            std::string(format.status().message()).c_str());
    return 2;
  }
  if (absl::Status s = ConfigureLogging(*format, flags.log_level); !s.ok()) {
    fprintf(stderr, "%s: --log-level: %s\n", program.name.c_str(),
            std::string(s.message()).c_str());
    return 2;
  }
  auto fail = [&](std::string_view what, const absl::Status& s) {
    spdlog::critical("{}: {}", what, s.ToString());
    FlushLogs();
    return 1;
  };

  absl::StatusOr<RestConfig> rest_config =
      LoadDefault(flags.kubeconfig, flags.context, ProcessEnv());
  if (!rest_config.ok()) return fail("loading the Kubernetes config", rest_config.status());
  spdlog::info("{} starting; API server {}", program.name, rest_config->DebugString());

  absl::StatusOr<std::unique_ptr<HttpTransport>> transport = NewCpprestTransport(*rest_config);
  if (!transport.ok()) return fail("creating the HTTP transport", transport.status());
  KubeClientOptions client_options;
  client_options.qps = flags.kube_api_qps;
  client_options.burst = flags.kube_api_burst;
  if (!(client_options.qps > 0) || client_options.burst < 1) {
    return fail("flags",
                absl::InvalidArgumentError("--kube-api-qps must be > 0 and --kube-api-burst >= 1"));
  }
  KubeClient client(*std::move(transport), client_options);
  Registry registry;
  CollectHookHandle process_metrics = RegisterProcessMetrics(registry);
  client.SetRequestObserver(NewRestClientRequestObserver(registry, HostOf(rest_config->server)));

  ManagerOptions options;
  options.namespaces = flags.namespaces;
  options.leader_elect = flags.leader_elect;
  options.leader_election.lease_namespace = flags.leader_election_namespace;
  if (options.leader_election.lease_namespace.empty()) {
    options.leader_election.lease_namespace = rest_config->default_namespace;
  }
  options.leader_election.lease_name = flags.leader_election_id;
  options.leader_election.lease_duration = flags.lease_duration;
  options.leader_election.renew_deadline = flags.renew_deadline;
  options.leader_election.retry_period = flags.retry_period;
  options.metrics_bind_address = flags.metrics_bind_address;
  options.health_probe_bind_address = flags.health_probe_bind_address;
  options.graceful_shutdown_timeout = flags.graceful_shutdown_timeout;
  options.cache_sync_timeout = flags.cache_sync_timeout;
  options.sync_period = flags.sync_period;
  options.events.reporting_controller = program.reporting_controller;
  const int workers = flags.max_concurrent_reconciles;
  if (workers < 1) {
    return fail("flags", absl::InvalidArgumentError("--max-concurrent-reconciles must be >= 1"));
  }

  absl::StatusOr<std::unique_ptr<Manager>> manager =
      Manager::Create(client, registry, std::move(options));
  if (!manager.ok()) return fail("creating the manager", manager.status());
  const char* pod_namespace = std::getenv("POD_NAMESPACE");
  OperatorContext context{client, **manager, *rest_config, workers,
                          pod_namespace != nullptr && *pod_namespace != '\0'
                              ? std::string(pod_namespace)
                              : rest_config->default_namespace};
  if (absl::Status s = program.setup(context); !s.ok()) return fail("setting up controllers", s);

  HeapTrimmer trimmer(absl::Seconds(30), RealClock::Get());
  g_manager.store(manager->get());
  std::thread(SignalLoop, set).detach();
  const absl::Status result = (*manager)->Run();
  g_manager.store(nullptr);

  if (result.ok()) {
    manager->reset();
    spdlog::info("{} stopped", program.name);
    FlushLogs();
    return 0;
  }
  spdlog::error("{} stopping: {}", program.name, result.ToString());
  FlushLogs();
  if (absl::IsAborted(result) || absl::IsDeadlineExceeded(result)) {
    // Reconciles may still be running; waiting for them is what these exits must not do.
    std::_Exit(1);
  }
  return 1;
}

}  // namespace cohort::op
