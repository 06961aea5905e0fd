// The operator process around a Manager: command-line flags, logging, the Kubernetes client,
// signals and exit codes. cohort-operator's main (operator/main.cc) is this plus the reconcilers;
// tests build small operators of their own with it (tests/integration/testdata), so the process
// behaviour they check is the real one.
//
// Flags (operator/flag_set.h spelling; --help lists them with their defaults):
//   --kubeconfig, --context                 where the API server is (controller-runtime's lookup:
//                                           flag, $KUBECONFIG, in-cluster, ~/.kube/config)
//   --namespaces=a,b                        watch only these namespaces (namespaced RBAC);
//                                           empty: all namespaces
//   --kube-api-qps=50 --kube-api-burst=100  the client-side rate limit
//   --leader-elect, --leader-election-namespace, --leader-election-id,
//   --leader-election-lease-duration=15s, --leader-election-renew-deadline=10s,
//   --leader-election-retry-period=2s
//   --metrics-bind-address=:8080, --health-probe-bind-address=:8081 ("0" turns one off)
//   --graceful-shutdown-timeout=30s, --cache-sync-timeout=2m
//   --sync-period=10h                       how often every cached object is reconciled again
//                                           without a change (ManagerOptions::sync_period)
//   --log-format=text|json, --log-level=info
//
// Signals: the first SIGTERM or SIGINT asks the manager to stop gracefully; a second one exits at
// once with code 1.
//
// Exit codes: 0 after a graceful stop (and for --help); 1 when setup fails, leadership is lost,
// reconciles outlive the shutdown deadline, or a second signal arrives; 2 for bad flags.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/flag_set.h"
#include "operator/kube_client.h"
#include "operator/kube_config.h"
#include "operator/manager.h"

namespace cohort::op {

// What a setup function gets to register its informers and controllers with.
struct OperatorContext {
  KubeClient& client;
  Manager& manager;
  const RestConfig& rest_config;
  // --max-concurrent-reconciles.
  int workers_per_controller;
  // The operator's own namespace: $POD_NAMESPACE, else the kubeconfig context's.
  std::string operator_namespace;
};

struct OperatorProgram {
  // Used in --help and in logs.
  std::string name;
  std::string description;
  // Events' reportingController, e.g. "cohort.dev/cohort-operator".
  std::string reporting_controller;
  // Adds the program's own flags (optional), bound to variables the setup function reads.
  std::function<void(FlagSet& flags)> add_flags;
  // Registers informers, controllers and watches. An error ends the process (exit code 1).
  std::function<absl::Status(OperatorContext& context)> setup;
};

// Runs the operator process: parses `argv`, then blocks until it stops. Returns the exit code
// (some exits happen inside, with std::_Exit, see above). Call once, from main, before any other
// thread exists (it blocks the termination signals for every thread it will start).
int RunOperator(int argc, char** argv, const OperatorProgram& program);

}  // namespace cohort::op
