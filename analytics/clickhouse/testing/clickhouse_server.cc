// 18.16 needs nothing from /etc/clickhouse-server and runs as root; it does need
// mark_cache_size in its config (no default) and a users file with a profile and a quota. Without
// interserver_http_port the interserver endpoint stays off.
#include "analytics/clickhouse/testing/clickhouse_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace cohort::analytics::clickhouse::testing {
namespace {

namespace fs = std::filesystem;

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool Executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0;
}

// The command that runs the server, without its config argument.
absl::StatusOr<std::vector<std::string>> FindServer(const std::string& configured) {
  auto command_for = [](const fs::path& p) {
    std::vector<std::string> argv = {p.string()};
    if (p.filename() == "clickhouse") argv.push_back("server");
    return argv;
  };
  std::string binary = configured;
  if (binary.empty()) {
    if (const char* env = std::getenv("COHORT_CLICKHOUSE_SERVER"); env != nullptr && *env) {
      binary = env;
    }
  }
  if (!binary.empty()) {
    if (!Executable(binary)) {
      return absl::NotFoundError(
          absl::StrCat("ClickHouse server binary ", binary, " is not an executable file"));
    }
    return command_for(binary);
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    dirs = absl::StrSplit(path, ':', absl::SkipEmpty());
  }
  for (const char* d : {"/usr/sbin", "/usr/bin", "/usr/local/bin"}) dirs.emplace_back(d);
  for (const char* name : {"clickhouse-server", "clickhouse"}) {
    for (const std::string& d : dirs) {
      const fs::path p = fs::path(d) / name;
      if (Executable(p)) return command_for(p);
    }
  }
  return absl::NotFoundError(
      "no ClickHouse server binary (clickhouse-server or clickhouse) in PATH, /usr/sbin or "
      "/usr/bin: tools/install-deps.sh installs Debian's clickhouse-server; or set "
      "COHORT_CLICKHOUSE_SERVER");
}

// Two distinct ports that were free on 127.0.0.1 a moment ago.
absl::StatusOr<std::pair<int, int>> FreePorts() {
  int fds[2] = {-1, -1};
  int ports[2] = {0, 0};
  absl::Status status;
  for (int i = 0; i < 2 && status.ok(); ++i) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fds[i] < 0 || bind(fds[i], reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fds[i], reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      status = absl::InternalError(absl::StrCat("free port: ", std::strerror(errno)));
    } else {
      ports[i] = ntohs(addr.sin_port);
    }
  }
  for (const int fd : fds) {
    if (fd >= 0) close(fd);
  }
  if (!status.ok()) return status;
  return std::make_pair(ports[0], ports[1]);
}

absl::Status WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

std::string ServerConfig(const fs::path& dir, int http_port, int tcp_port,
                         const ClickHouseServerOptions& options) {
  const std::string d = dir.string();
  return absl::StrCat(
      R"(<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>)",
      d, R"(/log/server.log</log>
    <errorlog>)",
      d, R"(/log/server.err.log</errorlog>
    <size>100M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>)",
      http_port, R"(</http_port>
  <tcp_port>)",
      tcp_port, R"(</tcp_port>
  <path>)",
      d, R"(/data/</path>
  <tmp_path>)",
      d, R"(/tmp/</tmp_path>
  <user_files_path>)",
      d, R"(/user_files/</user_files_path>
  <format_schema_path>)",
      d, R"(/format_schemas/</format_schema_path>
  <users_config>)",
      d, R"(/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>)",
      XmlEscape(options.timezone), R"(</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
  <mlock_executable>false</mlock_executable>
)",
      absl::StrReplaceAll(options.extra_config, {{"{tcp_port}", absl::StrCat(tcp_port)},
                                                 {"{http_port}", absl::StrCat(http_port)}}),
      R"(
</yandex>
)");
}

std::string UsersConfig(const ClickHouseServerOptions& options) {
  std::string users = R"(    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
)";
  for (const ClickHouseUser& u : options.users) {
    const std::string name = XmlEscape(u.name);
    absl::StrAppend(&users, "    <", name, ">\n      <password>", XmlEscape(u.password),
                    "</password>\n      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\n"
                    "      <profile>default</profile>\n      <quota>default</quota>\n    </",
                    name, ">\n");
  }
  return absl::StrCat(R"(<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
)",
                      users, R"(  </users>
  <quotas><default></default></quotas>
</yandex>
)");
}

std::string Tail(const fs::path& path, int lines) {
  std::ifstream in(path);
  if (!in) return "";
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& l : last) absl::StrAppend(&out, l, "\n");
  return out;
}

bool FileContains(const fs::path& path, std::string_view needle) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str().find(needle) != std::string::npos;
}

}  // namespace

bool PingClickHouse(int port, absl::Duration timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[1024];
      ssize_t n;
      while (answer.size() < 64 * 1024 && (n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
        answer.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  const size_t body = answer.find("\r\n\r\n");
  return absl::StartsWith(answer, "HTTP/1.") && absl::StrContains(answer.substr(0, 16), " 200") &&
         body != std::string::npos && answer.substr(body + 4) == "Ok.\n";
}

absl::StatusOr<std::unique_ptr<ClickHouseServer>> ClickHouseServer::Start(
    ClickHouseServerOptions options) {
  absl::StatusOr<std::vector<std::string>> command = FindServer(options.binary);
  if (!command.ok()) return command.status();

  std::unique_ptr<ClickHouseServer> server(new ClickHouseServer());
  server->stop_grace_ = options.stop_grace;
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp", "/cohort-clickhouse-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  server->dir_ = pattern;  // from here on the destructor removes it
  const fs::path dir = server->dir_;
  std::error_code ec;
  for (const char* sub : {"data", "tmp", "log", "user_files", "format_schemas"}) {
    fs::create_directories(dir / sub, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("mkdir ", (dir / sub).string(), ": ", ec.message()));
  }
  if (absl::Status s = WriteFile(dir / "users.xml", UsersConfig(options)); !s.ok()) return s;

  std::vector<std::string> argv = *command;
  argv.push_back(absl::StrCat("--config-file=", (dir / "config.xml").string()));
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::pair<int, int>> ports = FreePorts();
    if (!ports.ok()) return ports.status();
    server->http_port_ = ports->first;
    server->tcp_port_ = ports->second;
    server->url_ = absl::StrCat("http://127.0.0.1:", server->http_port_);
    if (absl::Status s =
            WriteFile(dir / "config.xml", ServerConfig(dir, ports->first, ports->second, options));
        !s.ok()) {
      return s;
    }
    // Each attempt's own error log, so "Address already in use" is this attempt's.
    fs::remove(dir / "log" / "server.err.log", ec);

    const absl::Time spawned = absl::Now();
    absl::StatusOr<std::unique_ptr<cohort::testing::ChildProcess>> child =
        cohort::testing::ChildProcess::Spawn(argv, (dir / "log" / "stdout.log").string(), SIGKILL);
    if (!child.ok()) return child.status();
    server->process_ = *std::move(child);

    const absl::Time deadline = spawned + options.start_timeout;
    bool exited = false;
    while (true) {
      if (PingClickHouse(server->http_port_, absl::Seconds(2))) {
        server->startup_time_ = absl::Now() - spawned;
        return server;
      }
      if (!server->process_->Running()) {
        exited = true;
        break;
      }
      if (absl::Now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a child's readiness
    }
    const bool port_taken =
        exited && (FileContains(dir / "log" / "server.err.log", "Address already in use") ||
                   FileContains(dir / "log" / "stdout.log", "Address already in use"));
    if (port_taken && attempt < options.port_attempts) {
      server->process_.reset();
      continue;
    }
    const std::string tail = server->LogTail();
    server->process_->Stop(SIGKILL, absl::Seconds(5));
    return absl::UnavailableError(
        absl::StrCat("ClickHouse server (", argv.front(), ") ",
                     exited ? "exited before answering /ping" : "did not answer /ping within ",
                     exited ? "" : absl::FormatDuration(options.start_timeout),
                     port_taken ? " (ports taken)" : "", "; logs in ", server->dir_,
                     " (removed now); their tail:\n", tail));
  }
}

ClickHouseServer::~ClickHouseServer() {
  if (process_ != nullptr) process_->Stop(SIGTERM, stop_grace_);
  process_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool ClickHouseServer::Running() { return process_ != nullptr && process_->Running(); }

std::string ClickHouseServer::LogTail(int lines) const {
  const fs::path log = fs::path(dir_) / "log";
  return absl::StrCat("--- server.err.log\n", Tail(log / "server.err.log", lines),
                      "--- stdout/stderr\n", Tail(log / "stdout.log", lines));
}

}  // namespace cohort::analytics::clickhouse::testing
