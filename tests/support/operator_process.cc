#include "tests/support/operator_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/wait.h"

namespace cohort::testing {

using nlohmann::json;

absl::StatusOr<HttpAnswer> HttpGet(uint16_t port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect to port ", port));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("send");
  }
  std::string response;
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, n);
  }
  close(fd);
  HttpAnswer answer;
  const size_t header_end = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.1 ") || header_end == std::string::npos ||
      !absl::SimpleAtoi(response.substr(9, 3), &answer.status)) {
    return absl::DataLossError(absl::StrCat("bad response: ", response.substr(0, 200)));
  }
  answer.body = response.substr(header_end + 4);
  return answer;
}

// Whether `condition` came true within `timeout` (the callers print the operator's log if not).
bool Until(absl::Duration timeout, const std::function<bool()>& condition) {
  return WaitFor("condition", timeout, condition).ok();
}

std::unique_ptr<OperatorProcess> OperatorProcess::Start(const std::string& binary,
                                                        std::vector<std::string> args,
                                                        const std::string& log_path) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* flag : {"--metrics-bind-address=127.0.0.1:0",
                           "--health-probe-bind-address=127.0.0.1:0", "--log-format=json"}) {
    argv.push_back(flag);
  }
  auto child = ChildProcess::Spawn(argv, log_path, SIGKILL);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return nullptr;
  auto p = std::unique_ptr<OperatorProcess>(new OperatorProcess(*std::move(child), log_path));
  // The servers bind port 0; the process logs the ports it got.
  const bool ports =
      WaitFor("ports logged", absl::Seconds(30), [&] { return p->ReadPorts(); }).ok();
  EXPECT_TRUE(ports) << "no ports logged; log:\n" << p->Log();
  return ports ? std::move(p) : nullptr;
}

std::string OperatorProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> OperatorProcess::LogLines() const {
  std::vector<json> lines;
  for (absl::string_view line : absl::StrSplit(Log(), '\n', absl::SkipEmpty())) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    lines.push_back(j.is_discarded() ? json{{"unparsed", std::string(line)}} : j);
  }
  return lines;
}

absl::StatusOr<std::vector<MetricSample>> OperatorProcess::Scrape() const {
  absl::StatusOr<HttpAnswer> a = HttpGet(metrics_port_, "/metrics");
  if (!a.ok()) return a.status();
  if (a->status != 200) return absl::UnavailableError(absl::StrCat("status ", a->status));
  return ParsePrometheusText(a->body);
}

double OperatorProcess::Metric(std::string_view name,
                               const std::map<std::string, std::string>& labels) const {
  absl::StatusOr<std::vector<MetricSample>> samples = Scrape();
  if (!samples.ok()) return -1;
  absl::StatusOr<double> v = FindSample(*samples, name, labels);
  return v.ok() ? *v : -1;
}

bool OperatorProcess::ReadPorts() {
  for (const json& line : LogLines()) {
    const std::string msg = line.value("msg", "");
    uint16_t* target = absl::StartsWith(msg, "serving /metrics")   ? &metrics_port_
                       : absl::StartsWith(msg, "serving /healthz") ? &probe_port_
                                                                   : nullptr;
    if (target == nullptr) continue;
    const size_t at = msg.rfind("(port ");
    int port = 0;
    if (at != std::string::npos &&
        absl::SimpleAtoi(msg.substr(at + 6, msg.size() - at - 7), &port)) {
      *target = static_cast<uint16_t>(port);
    }
  }
  return metrics_port_ != 0 && probe_port_ != 0;
}

}  // namespace cohort::testing
