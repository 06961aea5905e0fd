// posix_spawn cannot set a parent-death signal, so children are made with fork + exec; between the
// two only async-signal-safe calls are made (the test binary may have threads).
#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace cohort::testing {
namespace {

struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
  void CloseRead() { CloseOne(0); }
  void CloseWrite() { CloseOne(1); }
  void CloseOne(int i) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
};

// argv and envp as the C arrays exec wants; the strings stay owned by the vectors.
struct ExecArgs {
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecArgs MakeExecArgs(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env) {
  ExecArgs e;
  for (char** p = environ; *p != nullptr; ++p) {
    std::string entry(*p);
    std::string key = entry.substr(0, entry.find('='));
    if (env.find(key) == env.end()) e.env_storage.push_back(std::move(entry));
  }
  for (const auto& [k, v] : env) e.env_storage.push_back(absl::StrCat(k, "=", v));
  for (const auto& a : args) e.argv.push_back(const_cast<char*>(a.c_str()));
  e.argv.push_back(nullptr);
  for (auto& s : e.env_storage) e.envp.push_back(s.data());
  e.envp.push_back(nullptr);
  return e;
}

// In the child after fork: own process group, parent-death signal, then exec.
[[noreturn]] void ExecChild(const ExecArgs& e, pid_t parent, int death_signal) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, death_signal);
  if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  signal(SIGPIPE, SIG_DFL);
  execvpe(e.argv[0], e.argv.data(), e.envp.data());
  _exit(127);
}

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

}  // namespace

bool ProcessAlive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, so find the last
  // ')'.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

absl::StatusOr<RunResult> RunCommand(const std::vector<std::string>& argv,
                                     const RunOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("Run: empty argv");
  ExecArgs e = MakeExecArgs(argv, options.env);
  Pipe in, out, err;
  if (pipe2(in.fds, O_CLOEXEC) != 0 || pipe2(out.fds, O_CLOEXEC) != 0 ||
      pipe2(err.fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    dup2(in.fds[0], 0);
    dup2(out.fds[1], 1);
    dup2(err.fds[1], 2);
    ExecChild(e, parent, SIGKILL);
  }
  setpgid(pid, pid);  // also in the parent, so a kill of the group cannot race the child's setpgid
  in.CloseRead();
  out.CloseWrite();
  err.CloseWrite();

  // Non-blocking, so a large stdin never blocks us while the child waits for us to read its output.
  fcntl(in.fds[1], F_SETFL, fcntl(in.fds[1], F_GETFL) | O_NONBLOCK);
  RunResult result;
  size_t written = 0;
  if (options.stdin_data.empty()) in.CloseWrite();
  const absl::Time deadline = absl::Now() + options.timeout;
  char buf[65536];
  while (out.fds[0] >= 0 || err.fds[0] >= 0) {
    pollfd pfds[3];
    int n = 0;
    if (out.fds[0] >= 0) pfds[n++] = {out.fds[0], POLLIN, 0};
    if (err.fds[0] >= 0) pfds[n++] = {err.fds[0], POLLIN, 0};
    if (in.fds[1] >= 0) pfds[n++] = {in.fds[1], POLLOUT, 0};
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    if (poll(pfds, n, static_cast<int>(std::min<int64_t>(left_ms, 1000))) < 0 && errno != EINTR) {
      kill(-pid, SIGKILL);
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (pfds[i].revents == 0) continue;
      if (pfds[i].fd == in.fds[1]) {
        ssize_t w = write(in.fds[1], options.stdin_data.data() + written,
                          options.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN) || written == options.stdin_data.size()) in.CloseWrite();
        continue;
      }
      ssize_t r = read(pfds[i].fd, buf, sizeof buf);
      if (r <= 0) {
        if (pfds[i].fd == out.fds[0])
          out.CloseRead();
        else
          err.CloseRead();
      } else {
        (pfds[i].fd == out.fds[0] ? result.out : result.err).append(buf, static_cast<size_t>(r));
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

absl::StatusOr<std::string> RunCommandOk(const std::vector<std::string>& argv,
                                         const RunOptions& options) {
  absl::StatusOr<RunResult> r = RunCommand(argv, options);
  if (!r.ok()) return r.status();
  if (r->timed_out || r->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("`", absl::StrJoin(argv, " "), "` ",
                     r->timed_out ? "timed out" : absl::StrCat("exited ", r->exit_code), ": ",
                     Tail(r->err.empty() ? r->out : r->err, 2000)));
  }
  return std::move(r->out);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::string& log_path, int death_signal) {
  if (argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  ExecArgs e = MakeExecArgs(argv, {});
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("open ", log_path, ": ", std::strerror(errno)));
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    close(null_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    ExecChild(e, parent, death_signal);
  }
  setpgid(pid, pid);
  close(log_fd);
  close(null_fd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return r == 0;
}

int ChildProcess::Stop(int signal, absl::Duration grace) {
  if (!Running()) return status_;
  kill(-pid_, signal);
  const absl::Time deadline = absl::Now() + grace;
  while (Running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  kill(-pid_, SIGKILL);  // whatever is left in the group, including the leader
  if (!reaped_) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    status_ = status;
  }
  return status_;
}

ChildProcess::~ChildProcess() { Stop(SIGTERM, absl::Seconds(30)); }

}  // namespace cohort::testing
