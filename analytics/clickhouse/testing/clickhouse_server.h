// A real ClickHouse server for tests: Debian's clickhouse-server (18.16; tools/install-deps.sh
// installs it) or a newer single `clickhouse` binary, started as a child process with a config
// generated into a fresh temporary directory (data, tmp, logs, user_files under it), listening
// on 127.0.0.1 only, and removed with that directory when the object goes away. Nothing of the
// package's own service or /etc/clickhouse-server is used.
//
// Starting takes about 0.4 s on the 2-core development machine (README.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/subprocess.h"

namespace cohort::analytics::clickhouse::testing {

// A user besides `default` (who has no password), for tests of credentials.
struct ClickHouseUser {
  std::string name;
  std::string password;
};

struct ClickHouseServerOptions {
  // The server binary. Empty: $COHORT_CLICKHOUSE_SERVER if set, else clickhouse-server or
  // clickhouse (run as `clickhouse server`) from PATH, /usr/sbin or /usr/bin.
  std::string binary;
  std::vector<ClickHouseUser> users;
  // XML put inside the config's <yandex> element as it is, e.g. a <remote_servers> cluster;
  // "{tcp_port}" and "{http_port}" in it become the server's own ports.
  std::string extra_config;
  // The server's time zone (config <timezone>); UTC keeps toDate() and friends deterministic.
  std::string timezone = "UTC";
  // From spawning until GET /ping answers "Ok.".
  absl::Duration start_timeout = absl::Seconds(60);
  // Between SIGTERM and SIGKILL when stopping.
  absl::Duration stop_grace = absl::Seconds(15);
  // Ports are chosen free but may be taken before the server binds them; a start that fails with
  // "Address already in use" is retried on new ports this many times in all.
  int port_attempts = 5;
};

// Not thread-safe; url() and the accessors may be read from any thread.
class ClickHouseServer {
 public:
  // Starts a server and waits until it answers. Errors: kNotFound when no server binary is
  // found; kUnavailable when it exits or does not answer within start_timeout (the message has
  // the tail of its logs); kInternal for temporary directory or process errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseServer>> Start(
      ClickHouseServerOptions options = {});

  ClickHouseServer(const ClickHouseServer&) = delete;
  ClickHouseServer& operator=(const ClickHouseServer&) = delete;
  // Stops the server (SIGTERM, then SIGKILL after stop_grace) and removes its directory.
  ~ClickHouseServer();

  // "http://127.0.0.1:<http_port>", for ClickHouseClientOptions::url.
  const std::string& url() const { return url_; }
  int http_port() const { return http_port_; }
  int tcp_port() const { return tcp_port_; }
  // The temporary directory holding config, data and logs.
  const std::string& dir() const { return dir_; }
  // From spawning the process that answered to its first "Ok." from /ping.
  absl::Duration startup_time() const { return startup_time_; }
  // The last `lines` lines of the server's error log and of its own output.
  std::string LogTail(int lines = 30) const;
  // True while the server process runs.
  bool Running();

 private:
  ClickHouseServer() = default;

  std::string dir_;
  std::string url_;
  int http_port_ = 0;
  int tcp_port_ = 0;
  absl::Duration startup_time_;
  std::unique_ptr<cohort::testing::ChildProcess> process_;
  absl::Duration stop_grace_;
};

using ClickHouseServerPtr = std::unique_ptr<ClickHouseServer>;

// GETs http://127.0.0.1:<port>/ping once (18.16 answers /ping to GET only; a POST is a query).
// True if the answer is "Ok.".
bool PingClickHouse(int port, absl::Duration timeout);

}  // namespace cohort::analytics::clickhouse::testing
