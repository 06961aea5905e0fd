#include "tests/support/subprocess.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace {

TEST(RunTest, CollectsBothStreamsAndExitCode) {
  absl::StatusOr<RunResult> r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_FALSE(r->timed_out);
}

TEST(RunTest, FeedsLargeStdinWithoutDeadlock) {
  RunOptions options;
  options.stdin_data = std::string(1 << 20, 'x');  // larger than a pipe buffer both ways
  absl::StatusOr<RunResult> r = RunCommand({"cat"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), options.stdin_data.size());
}

TEST(RunTest, PassesEnvironment) {
  RunOptions options;
  options.env["COHORT_TEST_VALUE"] = "42";
  absl::StatusOr<RunResult> r =
      RunCommand({"sh", "-c", "printf %s \"$COHORT_TEST_VALUE\""}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "42");
}

TEST(RunTest, KillsOnTimeout) {
  RunOptions options;
  options.timeout = absl::Milliseconds(200);
  absl::StatusOr<RunResult> r = RunCommand({"sleep", "30"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(RunTest, MissingProgramExits127) {
  absl::StatusOr<RunResult> r = RunCommand({"/nonexistent/program"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 127);
}

TEST(ProcessAliveTest, SelfIsAliveAndAReapedChildIsNot) {
  EXPECT_TRUE(ProcessAlive(getpid()));
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn({"true"}, ::testing::TempDir() + "/true.log", SIGKILL);
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pid = (*child)->pid();
  ASSERT_TRUE(WaitFor("child exit", absl::Seconds(5), [&] { return !(*child)->Running(); }).ok());
  EXPECT_FALSE(ProcessAlive(pid));
}

TEST(RunOkTest, NonZeroExitIsAnErrorWithStderr) {
  absl::StatusOr<std::string> out = RunCommandOk({"sh", "-c", "echo boom >&2; exit 1"});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("boom"), std::string::npos);
  EXPECT_NE(out.status().message().find("exited 1"), std::string::npos);
}

TEST(ChildProcessTest, StopKillsTheWholeProcessGroup) {
  const std::string dir = ::testing::TempDir();
  const std::string pidfile = dir + "/grandchild.pid";
  std::filesystem::remove(pidfile);
  // The child starts a grandchild that ignores SIGTERM; Stop must still leave nothing behind.
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(
      {"sh", "-c", "sh -c 'trap \"\" TERM; echo $$ > " + pidfile + "; sleep 60' & wait"},
      dir + "/child.log", SIGKILL);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(WaitFor("grandchild pid file", absl::Seconds(10), [&] {
                std::error_code ec;
                return std::filesystem::file_size(pidfile, ec) > 0 && !ec;
              }).ok());
  std::ifstream in(pidfile);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 0);
  (*child)->Stop(SIGTERM, absl::Milliseconds(300));
  EXPECT_FALSE((*child)->Running());
  EXPECT_TRUE(WaitFor("grandchild to die", absl::Seconds(5), [&] {
                return !ProcessAlive(grandchild);
              }).ok());
}

}  // namespace
}  // namespace cohort::testing
