#include "analytics/clickhouse/testing/chdb_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_error.h"

namespace cohort::analytics::clickhouse::testing {
namespace {

bool ValidTableName(std::string_view table) {
  if (table.empty() || table.front() == '.' || table.back() == '.') return false;
  int dots = 0;
  for (const char c : table) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return dots <= 1;
}

std::string_view StripStatement(std::string_view sql) {
  auto space = [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); };
  while (!sql.empty() && space(sql.front())) sql.remove_prefix(1);
  while (!sql.empty() && (space(sql.back()) || sql.back() == ';')) sql.remove_suffix(1);
  return sql;
}

absl::Status Errno(std::string_view what) {
  return absl::InternalError(absl::StrCat(std::string(what), ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChdbSession>> ChdbSession::Start(absl::Duration call_timeout) {
  const char* python = std::getenv("COHORT_CHDB_PYTHON");
  if (python == nullptr || *python == '\0') {
    return absl::FailedPreconditionError(
        "COHORT_CHDB_PYTHON is not set: tools/test.sh installs chdb into "
        "~/.cache/cohort-operator/venv-chdb-<version> and sets it");
  }
  // A write to a child that died must be an error, not a SIGPIPE that ends the test binary.
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<ChdbSession> session(new ChdbSession());
  session->call_timeout_ = call_timeout;
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "cohort-chdb-session-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Errno("mkdtemp");
  session->dir_ = tmpl;
  const std::string data_dir = session->dir_ + "/serve";
  std::filesystem::create_directory(data_dir);
  const std::string log = session->dir_ + "/stderr.log";
  const std::string script = COHORT_SOURCE_DIR "/tools/clickhouse/chdb_query.py";
  std::vector<std::string> args = {python, script, "--serve", data_dir};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return Errno("pipe");
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return Errno("pipe");
  }
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return Errno("open stderr.log");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(log_fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(log_fd);
  session->pid_ = pid;
  session->to_child_ = in_pipe[1];
  session->from_child_ = out_pipe[0];
  // Non-blocking, so a call's timeout also bounds a write to or a read from a stuck child.
  for (int fd : {in_pipe[1], out_pipe[0]}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  absl::StatusOr<std::string> one = session->Query("SELECT 1", Format::kTabSeparated);
  if (!one.ok() || *one != "1\n") {
    return absl::FailedPreconditionError(absl::StrCat(
        "chdb session did not start (", python, "): ",
        one.ok() ? absl::StrCat("SELECT 1 gave ", *one) : std::string(one.status().message())));
  }
  return session;
}

ChdbSession::~ChdbSession() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void ChdbSession::Stop() {
  if (to_child_ >= 0) close(to_child_);
  to_child_ = -1;
  if (pid_ > 0) {
    // EOF on its input ends the serve loop; give it time to close the session.
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(-pid_, SIGKILL);
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    pid_ = -1;
  }
  if (from_child_ >= 0) close(from_child_);
  from_child_ = -1;
}

std::string ChdbSession::StderrTail() const {
  std::ifstream in(dir_ + "/stderr.log", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  if (all.size() > 2000) all = all.substr(all.size() - 2000);
  return all;
}

absl::Status ChdbSession::Broken(std::string_view what) {
  broken_ = true;
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
  }
  Stop();
  return absl::InternalError(
      absl::StrCat("chdb session: ", std::string(what), "; its stderr: ", StderrTail()));
}

absl::StatusOr<std::string> ChdbSession::Call(std::string_view format, std::string_view sql) {
  if (broken_) return absl::InternalError("chdb session: unusable after an earlier failure");
  const std::string request =
      absl::StrCat(std::string(format), " ", sql.size(), "\n", std::string(sql));
  const absl::Time deadline = absl::Now() + call_timeout_;
  // Writes and reads interleave under poll on non-blocking pipes, so neither a large request nor a
  // large answer can block past the deadline.
  size_t written = 0;
  std::string in;
  size_t header_end = std::string::npos;
  size_t want = 0;
  while (true) {
    if (header_end != std::string::npos && in.size() >= header_end + 1 + want) break;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      broken_ = true;
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      Stop();
      return absl::DeadlineExceededError(
          absl::StrCat("chdb session: no answer within ", absl::FormatDuration(call_timeout_)));
    }
    pollfd fds[2] = {{from_child_, POLLIN, 0}, {to_child_, POLLOUT, 0}};
    const int nfds = written < request.size() ? 2 : 1;
    const int n = poll(
        fds, nfds, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Broken(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (nfds == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = write(to_child_, request.data() + written,
                              std::min<size_t>(request.size() - written, 1 << 16));
      if (w < 0 && errno == EPIPE) return Broken("the child exited (its input is closed)");
      if (w < 0 && errno != EINTR && errno != EAGAIN) {
        return Broken(absl::StrCat("write: ", std::strerror(errno)));
      }
      if (w > 0) written += static_cast<size_t>(w);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[1 << 16];
      const ssize_t r = read(from_child_, buffer, sizeof(buffer));
      if (r < 0 && errno != EINTR && errno != EAGAIN) {
        return Broken(absl::StrCat("read: ", std::strerror(errno)));
      }
      if (r == 0) return Broken("the child exited");
      if (r > 0) in.append(buffer, static_cast<size_t>(r));
      if (header_end == std::string::npos) {
        header_end = in.find('\n');
        if (header_end != std::string::npos) {
          absl::string_view header(in.data(), header_end);
          const size_t space = header.find(' ');
          if (space == absl::string_view::npos ||
              !absl::SimpleAtoi(header.substr(space + 1), &want)) {
            return Broken(absl::StrCat("bad answer header \"", std::string(header), "\""));
          }
        }
      }
    }
  }
  if (written < request.size()) return Broken("answered before reading the whole request");
  const bool ok = absl::StartsWith(in, "OK ");
  std::string payload = in.substr(header_end + 1, want);
  if (in.size() != header_end + 1 + want) return Broken("extra bytes after an answer");
  if (ok) return payload;
  if (!absl::StartsWith(in, "ERR ")) return Broken("bad answer status");
  if (absl::StrContains(payload, "Code: ")) return ParseClickHouseError(500, payload);
  return absl::InternalError(absl::StrCat("chdb: ", payload));
}

absl::Status ChdbSession::Execute(std::string_view sql) {
  return Call("TabSeparated", StripStatement(sql)).status();
}

absl::StatusOr<std::string> ChdbSession::Query(std::string_view sql, Format format) {
  return Call(FormatName(format), StripStatement(sql));
}

absl::Status ChdbSession::InsertJsonEachRow(std::string_view table,
                                            const std::vector<std::string>& rows) {
  if (!ValidTableName(table)) {
    return absl::InvalidArgumentError(
        absl::StrCat("chdb insert: bad table name \"", std::string(table), "\""));
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].empty() || rows[i].find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("chdb insert into ", std::string(table),
                                                     ": row ", i, " is empty or spans lines"));
    }
  }
  if (rows.empty()) return absl::OkStatus();
  std::string sql = absl::StrCat("INSERT INTO ", std::string(table), " FORMAT JSONEachRow\n");
  for (const std::string& row : rows) absl::StrAppend(&sql, row, "\n");
  return Call("TabSeparated", sql).status();
}

}  // namespace cohort::analytics::clickhouse::testing
