// A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kwok) for tests, driven through tools/controlplane/cpctl. See docs/control-plane.md.
//
// Suites share one control plane: ctest starts it once (fixture "control_plane", directory in
// COHORT_CP_DIR) and each test works in a namespace of its own (ControlPlaneTest). A test binary
// run by hand starts its own on first use and stops it at exit; its processes die with the binary
// even when it is killed (parent-death signals all the way down).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace cohort::testing {

class ControlPlane {
 public:
  struct Options {
    // Passed to `cpctl run` verbatim, e.g. "--apiserver-arg=--watch-cache-sizes=configmaps#0",
    // "--audit=all", "--node-pods=5000". See `cpctl --help`.
    std::vector<std::string> cpctl_flags;
    absl::Duration start_timeout = absl::Minutes(3);
  };

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;
  // Stops the control plane if this object started it, and removes its directory unless
  // $COHORT_KEEP_CP_DIR is set (to read the components' logs after a failure); an attached one
  // keeps running.
  ~ControlPlane();

  // Starts a new, independent control plane in a fresh temporary directory, owned by the result.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ControlPlane>> Start(const Options& options);
  // Uses the control plane running in `dir` (started by `cpctl start`).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ControlPlane>> Attach(const std::string& dir);
  // The control plane this test binary shares: COHORT_CP_DIR's if set, else one started on first
  // use. Fails the calling test (fatally) if none can be had.
  static ControlPlane& Shared();

  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  std::string audit_log() const { return dir_ + "/audit.log"; }
  // The directory holding kubectl, helm and the component binaries.
  const std::string& bin_dir() const { return bin_dir_; }
  std::string kubectl_path() const { return bin_dir_ + "/kubectl"; }

  // Runs kubectl against this control plane; returns standard output, or an error with stderr.
  [[nodiscard]] absl::StatusOr<std::string> Kubectl(
      const std::vector<std::string>& args, const std::string& stdin_data = "",
      absl::Duration timeout = absl::Minutes(2)) const;

  // Stops, starts or restarts one component (e.g. "kube-apiserver") and waits until it is down or
  // ready again.
  [[nodiscard]] absl::Status StopComponent(const std::string& name) const;
  [[nodiscard]] absl::Status StartComponent(const std::string& name) const;
  [[nodiscard]] absl::Status RestartComponent(const std::string& name) const;

  // Process ids of the supervisor and every running component.
  [[nodiscard]] absl::StatusOr<std::vector<pid_t>> Pids() const;

 private:
  ControlPlane(std::string dir, std::string bin_dir, std::unique_ptr<ChildProcess> owner)
      : dir_(std::move(dir)), bin_dir_(std::move(bin_dir)), owner_(std::move(owner)) {}
  absl::Status Cpctl(const std::vector<std::string>& args) const;

  std::string dir_;
  std::string bin_dir_;
  std::unique_ptr<ChildProcess> owner_;  // the supervisor, when this object started it
};

// The path of tools/controlplane/cpctl (COHORT_CPCTL, else the source tree's).
std::string CpctlPath();

// A test that works in a namespace of its own in the shared control plane. The namespace is
// labelled cohort.dev/test=true and deleted (without waiting) after the test.
class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  ControlPlane& cp() { return *cp_; }
  const std::string& ns() const { return ns_; }
  // kubectl in this test's namespace.
  [[nodiscard]] absl::StatusOr<std::string> Kubectl(std::vector<std::string> args,
                                                    const std::string& stdin_data = "",
                                                    absl::Duration timeout = absl::Minutes(2));

 private:
  ControlPlane* cp_ = nullptr;
  std::string ns_;
};

}  // namespace cohort::testing
