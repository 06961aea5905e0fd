// An operator binary (operator/app.h) run as a child process by a test: it binds its metrics and
// probe servers to port 0 and logs JSON lines; this finds the ports in the log, scrapes /metrics
// and reads the log back. Also a minimal HTTP GET over loopback.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tests/support/prometheus_text.h"
#include "tests/support/subprocess.h"

namespace cohort::testing {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:<port><path> with Connection: close (5 s receive timeout).
[[nodiscard]] absl::StatusOr<HttpAnswer> HttpGet(uint16_t port, const std::string& path);

class OperatorProcess {
 public:
  // Runs `binary` with `args` plus --metrics-bind-address=127.0.0.1:0,
  // --health-probe-bind-address=127.0.0.1:0 and --log-format=json, output to `log_path`, and
  // waits (30 s) until it has logged both ports. Null, with a test failure, otherwise.
  static std::unique_ptr<OperatorProcess> Start(const std::string& binary,
                                                std::vector<std::string> args,
                                                const std::string& log_path);

  ChildProcess& child() { return *child_; }
  uint16_t metrics_port() const { return metrics_port_; }
  uint16_t probe_port() const { return probe_port_; }

  std::string Log() const;
  // The log's lines as JSON (a line that is not JSON comes back as {"unparsed": line}).
  std::vector<nlohmann::json> LogLines() const;

  absl::StatusOr<std::vector<MetricSample>> Scrape() const;
  // The first sample named `name` with `labels`, or -1 when the scrape fails or it is missing.
  double Metric(std::string_view name, const std::map<std::string, std::string>& labels) const;

 private:
  OperatorProcess(std::unique_ptr<ChildProcess> child, std::string log_path)
      : child_(std::move(child)), log_path_(std::move(log_path)) {}
  bool ReadPorts();

  std::unique_ptr<ChildProcess> child_;
  std::string log_path_;
  uint16_t metrics_port_ = 0;
  uint16_t probe_port_ = 0;
};

}  // namespace cohort::testing
