// Running a program as a child process and collecting what it printed. Used by tests to drive real
// clients (kubectl, helm, cpctl) and to spawn servers under test.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::testing {

struct RunOptions {
  // Written to the child's standard input, which is then closed.
  std::string stdin_data;
  // Added to (or replacing entries of) the inherited environment.
  std::map<std::string, std::string> env;
  // The child is killed (SIGKILL to its process group) when this elapses.
  absl::Duration timeout = absl::Minutes(2);
};

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal or the timeout
  bool timed_out = false;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs argv[0] (looked up in PATH) with argv and waits for it. The child gets its own process
// group and dies with the calling process (parent-death signal). Errors only when the program
// cannot be started at all; a non-zero exit is reported in RunResult.
[[nodiscard]] absl::StatusOr<RunResult> RunCommand(const std::vector<std::string>& argv,
                                                   const RunOptions& options = {});

// Like RunCommand, but a non-zero exit (or a timeout) is an error whose message carries the command
// and the tail of its standard error. Returns standard output.
[[nodiscard]] absl::StatusOr<std::string> RunCommandOk(const std::vector<std::string>& argv,
                                                       const RunOptions& options = {});

// True if `pid` names a process that has not exited (a zombie counts as exited).
bool ProcessAlive(pid_t pid);

// A child process that keeps running until Kill() or destruction. It leads its own process group
// and receives `death_signal` when the creating thread's process exits, so it never outlives a test
// binary, even one killed with SIGKILL. Output goes to `log_path` (both streams).
class ChildProcess {
 public:
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& argv, const std::string& log_path, int death_signal);

  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it if it has).
  bool Running();
  // Sends `signal` to the whole process group, waits up to `grace` for the leader to exit, then
  // SIGKILLs the group. Returns the exit status as from waitpid, or -1 if it was already reaped.
  int Stop(int signal, absl::Duration grace);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int status_ = -1;
};

}  // namespace cohort::testing
