#include "tests/support/control_plane.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace fs = std::filesystem;

std::string CpctlPath() {
  if (const char* p = getenv("COHORT_CPCTL"); p != nullptr && *p != '\0') return p;
  return COHORT_SOURCE_DIR "/tools/controlplane/cpctl";
}

namespace {

absl::StatusOr<std::string> BinDir() {
  const std::string build_sh = (fs::path(CpctlPath()).parent_path() / "build.sh").string();
  absl::StatusOr<std::string> out = RunCommandOk({build_sh, "--print"});
  if (!out.ok()) return out.status();
  return std::string(absl::StripAsciiWhitespace(*out));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(const Options& options) {
  absl::StatusOr<std::string> bin_dir = BinDir();
  if (!bin_dir.ok()) return bin_dir.status();
  std::string tmpl = (fs::temp_directory_path() / "cohort-cp.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  const std::string dir = tmpl;
  fs::create_directories(dir + "/logs");

  std::vector<std::string> argv = {CpctlPath(), "run"};
  argv.insert(argv.end(), options.cpctl_flags.begin(), options.cpctl_flags.end());
  argv.push_back(absl::StrCat("--watch-pid=", getpid()));
  argv.push_back(dir);
  // SIGTERM on our death lets the supervisor tear down in order; its components carry SIGKILL.
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(argv, dir + "/logs/supervisor.log", SIGTERM);
  if (!child.ok()) return child.status();
  ChildProcess& supervisor = **child;
  auto cp = std::unique_ptr<ControlPlane>(new ControlPlane(dir, *bin_dir, *std::move(child)));

  absl::Status ready = WaitFor("control plane in " + dir, options.start_timeout, [&] {
    return fs::exists(dir + "/ready") || fs::exists(dir + "/failed") || !supervisor.Running();
  });
  if (!ready.ok() || !fs::exists(dir + "/ready")) {
    std::string log = ReadFile(dir + "/logs/supervisor.log");
    if (log.size() > 3000) log = log.substr(log.size() - 3000);
    return absl::UnavailableError(absl::StrCat("control plane did not start (", ready.message(),
                                               "); supervisor log:\n", log));
  }
  return cp;
}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Attach(const std::string& dir) {
  if (!fs::exists(dir + "/ready")) {
    return absl::FailedPreconditionError(absl::StrCat("no ready control plane in ", dir));
  }
  absl::StatusOr<std::string> bin_dir = BinDir();
  if (!bin_dir.ok()) return bin_dir.status();
  return std::unique_ptr<ControlPlane>(new ControlPlane(dir, *bin_dir, nullptr));
}

ControlPlane& ControlPlane::Shared() {
  static std::unique_ptr<ControlPlane> shared = [] {
    absl::StatusOr<std::unique_ptr<ControlPlane>> cp;
    if (const char* d = getenv("COHORT_CP_DIR"); d != nullptr && *d != '\0') {
      cp = Attach(d);
    } else {
      Options options;
      std::ifstream flags(COHORT_SOURCE_DIR "/tests/support/shared-control-plane.flags");
      for (std::string flag; std::getline(flags, flag);) {
        if (!flag.empty()) options.cpctl_flags.push_back(flag);
      }
      cp = Start(options);
    }
    if (!cp.ok()) {
      fprintf(stderr, "cannot get a control plane: %s\n",
              std::string(cp.status().message()).c_str());
      abort();
    }
    return *std::move(cp);
  }();
  return *shared;
}

ControlPlane::~ControlPlane() {
  if (owner_ == nullptr) return;
  owner_->Stop(SIGTERM, absl::Seconds(30));
  // The directory (etcd data, logs, certificates) was ours; keep it only when asked, to read the
  // components' logs after a failure.
  if (const char* keep = getenv("COHORT_KEEP_CP_DIR"); keep == nullptr || *keep == '\0') {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

absl::StatusOr<std::string> ControlPlane::Kubectl(const std::vector<std::string>& args,
                                                  const std::string& stdin_data,
                                                  absl::Duration timeout) const {
  std::vector<std::string> argv = {kubectl_path(), "--kubeconfig=" + kubeconfig()};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.stdin_data = stdin_data;
  options.timeout = timeout;
  return RunCommandOk(argv, options);
}

absl::Status ControlPlane::Cpctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {CpctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.timeout = absl::Minutes(4);
  return RunCommandOk(argv, options).status();
}

absl::Status ControlPlane::StopComponent(const std::string& name) const {
  return Cpctl({"stop-component", dir_, name});
}
absl::Status ControlPlane::StartComponent(const std::string& name) const {
  return Cpctl({"start-component", dir_, name});
}
absl::Status ControlPlane::RestartComponent(const std::string& name) const {
  return Cpctl({"restart-component", dir_, name});
}

absl::StatusOr<std::vector<pid_t>> ControlPlane::Pids() const {
  std::vector<pid_t> pids;
  auto add = [&](const std::string& file) {
    int pid = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(file)), &pid) && pid > 0) {
      pids.push_back(pid);
    }
  };
  add(dir_ + "/supervisor.pid");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/pids", ec)) add(entry.path().string());
  if (ec) return absl::InternalError(absl::StrCat("reading ", dir_, "/pids: ", ec.message()));
  return pids;
}

void ControlPlaneTest::SetUp() {
  cp_ = &ControlPlane::Shared();
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string base = absl::AsciiStrToLower(absl::StrCat("t-", info->name()));
  for (char& c : base) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  }
  if (base.size() > 50) base.resize(50);
  std::random_device rd;
  ns_ = absl::StrCat(base, "-", absl::Hex(rd() & 0xffffff, absl::kZeroPad6));
  absl::StatusOr<std::string> out = cp_->Kubectl({"create", "namespace", ns_});
  ASSERT_TRUE(out.ok()) << out.status();
  out = cp_->Kubectl({"label", "namespace", ns_, "cohort.dev/test=true"});
  ASSERT_TRUE(out.ok()) << out.status();
}

void ControlPlaneTest::TearDown() {
  if (cp_ != nullptr && !ns_.empty()) {
    absl::StatusOr<std::string> out = cp_->Kubectl({"delete", "namespace", ns_, "--wait=false"});
    EXPECT_TRUE(out.ok()) << out.status();
  }
}

absl::StatusOr<std::string> ControlPlaneTest::Kubectl(std::vector<std::string> args,
                                                      const std::string& stdin_data,
                                                      absl::Duration timeout) {
  args.insert(args.begin(), "--namespace=" + ns_);
  return cp_->Kubectl(args, stdin_data, timeout);
}

}  // namespace cohort::testing
