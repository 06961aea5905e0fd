// End-to-end ingest benchmark (issue 5): the cohort-ingest binary, started as a pod runs it
// (fdatasync on, the dedup window and rate limits on), driven over loopback by this program's own
// HTTP/1.1 client with Amplitude /2/httpapi batches of 100 events of about 300 bytes, each with a
// unique insert_id, spread over --devices devices. Client and server share the machine's cores.
//
//   1. closed loop: --connections connections send back to back for --seconds → the maximum
//      events/s, with the server's CPU µs per event (from /proc/<pid>/stat) and its RSS;
//   2. open loop at --load (0.8) of that maximum: requests start on a fixed schedule spread over
//      the connections, latency measured from the scheduled start (no coordinated omission);
//   3. the ceilings, on the same payloads: an HTTP server (cohort_http) that only reads bodies and
//      answers 200, driven the same closed-loop way; and simdjson parsing alone
//      (amplitude::RequestParser) on one core;
//   4. with --callgrind: the server under valgrind --tool=callgrind for --callgrind_requests
//      requests → instructions per event (its whole process, startup excluded by a baseline run
//      with no requests).
//
//   build/bench/ingest_bench [--connections=32] [--seconds=10] [--devices=50000] [--load=0.8]
//                            [--callgrind] [--callgrind_requests=200]
//
// The server's data directory is under $TMPDIR (a real disk here; a tmpfs would make fdatasync
// free and the numbers meaningless).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ingest/amplitude/request_parser.h"
#include "ingest/http/http_server.h"
#include "ingest/http/test_client.h"
#include "nlohmann/json.hpp"

namespace cohort::bench {
namespace {

namespace http = ingest::http;
using nlohmann::json;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";
constexpr int kEventsPerRequest = 100;

struct Flags {
  int connections = 32;
  int seconds = 10;
  int devices = 50000;
  double load = 0.8;
  bool callgrind = false;
  int callgrind_requests = 200;
};

bool ParseFlag(const char* arg, const char* name, std::string* value) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (std::string_view(arg).substr(0, prefix.size()) != prefix) return false;
  *value = arg + prefix.size();
  return true;
}

// Request bodies: 100 events of ~300 bytes with unique insert_ids ("<conn>-<seq>-<i>") and
// devices spread over `devices`. Built once per connection as a template whose numbers have a
// fixed width, then patched in place per request, so the load generator spends its CPU on
// sending rather than on formatting (it shares the machine with the server).
class BodyMaker {
 public:
  BodyMaker(int connection, int devices) : connection_(connection), devices_(devices) {
    body_ = absl::StrCat(R"({"api_key":")", kKey, R"(","events":[)");
    for (int i = 0; i < kEventsPerRequest; ++i) {
      if (i > 0) body_ += ',';
      body_ += R"({"device_id":"device-)";
      Mark(device_, 8);
      body_ += R"(","user_id":"user-)";
      Mark(user_, 8);
      body_ += R"(","event_type":"button_click","time":)";
      Mark(time_, 13);
      absl::StrAppend(&body_, R"(,"insert_id":")", absl::Dec(connection, absl::kZeroPad3), "-");
      Mark(seq_, 10);
      absl::StrAppend(&body_, "-", absl::Dec(i, absl::kZeroPad3));
      body_ += R"(","platform":"Web","os_name":"Chrome","app_version":"2.4.1",)"
               R"("event_properties":{"button":"subscribe","page":"/pricing","variant":"b"},)"
               R"("session_id":1760000000000,"ip":"$remote","language":"en-US"})";
    }
    body_ += "]}";
  }

  const std::string& Make(int64_t seq) {
    for (int i = 0; i < kEventsPerRequest; ++i) {
      const int64_t n = seq * kEventsPerRequest + i;
      const int64_t device = (n * 7919 + connection_ * 104729) % devices_;
      Put(device_[i], 8, device);
      Put(user_[i], 8, device);
      Put(time_[i], 13, first_time_ms_ + n % 1'000'000'000);
      Put(seq_[i], 10, seq);
    }
    return body_;
  }

 private:
  void Mark(std::vector<size_t>& offsets, int width) {
    offsets.push_back(body_.size());
    body_.append(static_cast<size_t>(width), '0');
  }
  void Put(size_t offset, int width, int64_t value) {
    for (int k = width - 1; k >= 0; --k, value /= 10) body_[offset + k] = '0' + value % 10;
  }

  const int connection_;
  const int devices_;
  // Event times spread over the 12 days before the run: inside the store's retention period
  // (events older than it are dropped at append, which would leave the store out of the
  // measurement) and never in the future.
  const int64_t first_time_ms_ = absl::ToUnixMillis(absl::Now()) - 1'036'800'000;
  std::string body_;
  std::vector<size_t> device_, user_, time_, seq_;
};

struct LoadResult {
  int64_t requests = 0;
  int64_t errors = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
  double events_per_second() const { return requests * kEventsPerRequest / seconds; }
  double Percentile(double p) {
    if (latencies_ms.empty()) return 0;
    std::sort(latencies_ms.begin(), latencies_ms.end());
    return latencies_ms[std::min(latencies_ms.size() - 1,
                                 static_cast<size_t>(p * latencies_ms.size()))];
  }
};

// rate_per_second = 0: closed loop; else each connection starts requests on its own fixed
// schedule (rate / connections per second) and latency counts from the scheduled start.
LoadResult Drive(uint16_t port, const Flags& flags, double rate_per_second, int64_t seq_base) {
  std::atomic<int64_t> requests{0}, errors{0};
  std::vector<std::vector<double>> latencies(flags.connections);
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(flags.seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < flags.connections; ++c) {
    threads.emplace_back([&, c] {
      absl::StatusOr<std::unique_ptr<http::testing::TestConnection>> conn =
          http::testing::TestConnection::Connect(port);
      if (!conn.ok()) {
        errors.fetch_add(1);
        return;
      }
      const absl::Duration interval = rate_per_second > 0
                                          ? absl::Seconds(flags.connections / rate_per_second)
                                          : absl::ZeroDuration();
      // Spread the connections' schedules over one interval.
      absl::Time next = start + interval * c / flags.connections;
      BodyMaker bodies(c, flags.devices);
      for (int64_t seq = seq_base;; ++seq) {
        if (rate_per_second > 0) {
          const absl::Time now = absl::Now();
          if (next > now) absl::SleepFor(next - now);
        }
        const absl::Time scheduled = rate_per_second > 0 ? next : absl::Now();
        if (scheduled >= end) break;
        const std::string request = http::testing::MakeRequest(
            "POST", "/2/httpapi", bodies.Make(seq), {{"Content-Type", "application/json"}});
        absl::StatusOr<http::testing::TestResponse> r = (*conn)->Send(request).ok()
                                                            ? (*conn)->Read(absl::Seconds(30))
                                                            : absl::UnavailableError("send");
        if (!r.ok() || r->status != 200) {
          if (errors.fetch_add(1) < 3) {
            std::fprintf(stderr, "request failed: %s\n",
                         r.ok() ? r->body.c_str() : r.status().ToString().c_str());
          }
          if (!r.ok()) return;
          continue;
        }
        requests.fetch_add(1);
        latencies[c].push_back(absl::ToDoubleMilliseconds(absl::Now() - scheduled));
        next += interval;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  LoadResult result;
  result.requests = requests.load();
  result.errors = errors.load();
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (auto& l : latencies)
    result.latencies_ms.insert(result.latencies_ms.end(), l.begin(), l.end());
  return result;
}

// utime + stime of `pid`, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t paren = stat.rfind(')');
  std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ');
  int64_t utime = 0, stime = 0;
  (void)absl::SimpleAtoi(fields[11], &utime);
  (void)absl::SimpleAtoi(fields[12], &stime);
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// VmRSS and VmHWM of `pid`, in MB.
std::pair<double, double> RssMb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lld kB", &kb) == 1) rss = kb / 1024.0;
    if (std::sscanf(line.c_str(), "VmHWM: %lld kB", &kb) == 1) hwm = kb / 1024.0;
  }
  return {rss, hwm};
}

struct Ingest {
  pid_t pid = -1;
  uint16_t port = 0;
  std::string dir;
  uint16_t metrics_port = 0;
};

// Waits until every sink has acknowledged the whole log (each cohort_sink_lag_bytes is 0 on the
// metrics endpoint); false at the deadline. The sinks run behind the acknowledged writes, so
// their work is only all counted once they have caught up.
bool WaitSinksDrained(uint16_t metrics_port, absl::Time deadline) {
  while (absl::Now() < deadline) {
    absl::StatusOr<std::unique_ptr<http::testing::TestConnection>> conn =
        http::testing::TestConnection::Connect(metrics_port);
    if (conn.ok() && (*conn)->Send(http::testing::MakeRequest("GET", "/metrics")).ok()) {
      absl::StatusOr<http::testing::TestResponse> r = (*conn)->Read(absl::Seconds(10));
      if (r.ok() && r->status == 200) {
        bool drained = true, seen = false;
        for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
          if (!absl::StartsWith(line, "cohort_sink_lag_bytes{")) continue;
          seen = true;
          drained &= absl::EndsWith(line, " 0");
        }
        if (seen && drained) return true;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// Starts cohort-ingest (optionally under `wrapper`, e.g. valgrind) and waits for its ready file.
std::optional<Ingest> StartIngest(const std::string& dir, std::vector<std::string> wrapper) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/secrets");
  std::ofstream(dir + "/secrets/api-keys") << kKey << " bench amplitude\n";
  std::ofstream(dir + "/config.yaml")
      << "version: cohort.dev/ingest-config/v1\n"
      << "auth:\n  apiKeysFile: " << dir << "/secrets/api-keys\n"
      << "limits:\n  eventsPerSecondPerDevice: 100000\n  eventsPerSecondPerUser: 100000\n"
      << "listeners:\n  address: 127.0.0.1\n  ingestPort: 0\n  queryPort: 0\n  metricsPort: 0\n"
      << "paths:\n  dataDir: " << dir << "/data\n";
  std::vector<std::string> argv = std::move(wrapper);
  for (std::string a : {std::string(COHORT_INGEST_PATH), std::string("--config"),
                        dir + "/config.yaml", std::string("--ready-file"), dir + "/ready.json",
                        std::string("--log-level"), std::string("warn")}) {
    argv.push_back(a);
  }
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  for (int i = 0; i < 6000 && !std::filesystem::exists(dir + "/ready.json"); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::ifstream in(dir + "/ready.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  if (text.empty()) {
    kill(pid, SIGKILL);
    return std::nullopt;
  }
  const json ready = json::parse(text);
  return Ingest{pid, ready["ingestPort"].get<uint16_t>(), dir,
                ready["metricsPort"].get<uint16_t>()};
}

void StopIngest(const Ingest& ingest) {
  kill(ingest.pid, SIGTERM);
  int status = 0;
  waitpid(ingest.pid, &status, 0);
}

// Instructions of a callgrind run: the "summary:" line of its output file.
int64_t CallgrindInstructions(const std::string& out_file) {
  std::ifstream in(out_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("summary:", 0) == 0 || line.rfind("totals:", 0) == 0) {
      int64_t n = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)), &n)) {
        return n;
      }
    }
  }
  return -1;
}

// The server under callgrind, `requests` requests sent one at a time; instructions in total.
int64_t CallgrindRun(const std::string& dir, int requests, const Flags& flags) {
  const std::string out = dir + "/callgrind.out";
  std::optional<Ingest> ingest =
      StartIngest(dir, {"valgrind", "--tool=callgrind", "--callgrind-out-file=" + out});
  if (!ingest) return -1;
  if (requests > 0) {
    BodyMaker bodies(0, flags.devices);
    absl::StatusOr<std::unique_ptr<http::testing::TestConnection>> conn =
        http::testing::TestConnection::Connect(ingest->port);
    for (int i = 0; conn.ok() && i < requests; ++i) {
      (void)(*conn)->Send(http::testing::MakeRequest("POST", "/2/httpapi", bodies.Make(i),
                                                     {{"Content-Type", "application/json"}}));
      (void)(*conn)->Read(absl::Seconds(120));
    }
  }
  StopIngest(*ingest);
  return CallgrindInstructions(out);
}

int Run(const Flags& flags) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/ingest_bench.", getpid());

  // 1. Closed loop.
  std::optional<Ingest> ingest = StartIngest(dir + "/server", {});
  if (!ingest) {
    std::fprintf(stderr, "cohort-ingest did not start\n");
    return 1;
  }
  const double cpu0 = CpuSeconds(ingest->pid);
  LoadResult closed = Drive(ingest->port, flags, 0, 0);
  const double cpu1 = CpuSeconds(ingest->pid);
  const absl::Time load_end = absl::Now();
  const bool drained = WaitSinksDrained(ingest->metrics_port, load_end + absl::Minutes(5));
  const double drain_seconds = absl::ToDoubleSeconds(absl::Now() - load_end);
  const double cpu2 = CpuSeconds(ingest->pid);
  const auto [rss_closed, hwm_closed] = RssMb(ingest->pid);
  const double max_rate = closed.events_per_second();

  // 2. Open loop at `load` of the maximum (requests/s = events/s / 100).
  const double target = max_rate * flags.load;
  LoadResult open = Drive(ingest->port, flags, target / kEventsPerRequest, 1'000'000);
  const auto [rss_open, hwm_open] = RssMb(ingest->pid);
  StopIngest(*ingest);

  // 3a. The HTTP-only ceiling: same client, same bodies, a server that reads them and answers.
  http::HttpServerOptions options;
  options.io_threads = 2;
  options.max_connections = 1024;
  http::HttpServer server(options);
  http::Route route;
  route.method = "POST";
  route.path = "/2/httpapi";
  route.handler = [](http::Request request, http::Responder responder) {
    responder.Respond(http::JsonResponse(
        200, absl::StrCat(R"({"code":200,"events_ingested":100,"payload_size_bytes":)",
                          request.body.size(), "}")));
  };
  if (!server.AddRoute(route).ok() || !server.Start().ok()) return 1;
  LoadResult http_only = Drive(server.port(), flags, 0, 0);
  (void)server.Drain(absl::Now() + absl::Seconds(5));

  // 3b. The parse ceiling: RequestParser on the same bodies, one core.
  std::vector<std::string> bodies;
  BodyMaker maker(1, flags.devices);
  for (int i = 0; i < 200; ++i) bodies.push_back(maker.Make(i));
  ingest::amplitude::RequestParser parser(ingest::amplitude::ParserOptions{});
  int64_t parsed_events = 0;
  const absl::Time parse_start = absl::Now();
  while (absl::Now() - parse_start < absl::Seconds(3)) {
    for (const std::string& b : bodies) {
      ingest::amplitude::ParsedRequest r =
          parser.Parse(b, {ingest::amplitude::Endpoint::kHttpApi, absl::Now(), "127.0.0.1"});
      parsed_events += static_cast<int64_t>(r.events.size());
    }
  }
  const double parse_rate = parsed_events / absl::ToDoubleSeconds(absl::Now() - parse_start);

  // 4. Instructions per event.
  double instructions_per_event = -1;
  if (flags.callgrind) {
    const int64_t base = CallgrindRun(dir + "/cg0", 0, flags);
    const int64_t loaded = CallgrindRun(dir + "/cg1", flags.callgrind_requests, flags);
    if (base > 0 && loaded > base) {
      instructions_per_event = static_cast<double>(loaded - base) /
                               (static_cast<double>(flags.callgrind_requests) * kEventsPerRequest);
    }
  }
  std::filesystem::remove_all(dir);

  const double body_bytes = static_cast<double>(BodyMaker(0, flags.devices).Make(0).size());
  std::printf("### cohort-ingest end to end (bench/ingest_bench.cc)\n\n");
  std::printf(
      "Batches of %d events (%.0f bytes per event, %.1f KB per request), unique insert_ids over "
      "%d devices, fdatasync before every 200, dedup window and rate limits on; %d client "
      "connections; client and server share the machine.\n\n",
      kEventsPerRequest, body_bytes / kEventsPerRequest, body_bytes / 1024, flags.devices,
      flags.connections);
  std::printf("| measure | value |\n|---|---|\n");
  std::printf("| max throughput (closed loop, %d s) | %.0f events/s (%.0f req/s), %lld errors |\n",
              flags.seconds, max_rate, max_rate / kEventsPerRequest,
              static_cast<long long>(closed.errors));
  std::printf("| server CPU per event at max | %.2f µs |\n",
              (cpu1 - cpu0) * 1e6 / (closed.requests * kEventsPerRequest));
  std::printf("| the same with the sinks' catch-up after the load (%s %.1f s) | %.2f µs |\n",
              drained ? "drained in" : "NOT drained after", drain_seconds,
              (cpu2 - cpu0) * 1e6 / (closed.requests * kEventsPerRequest));
  std::printf("| closed-loop latency p50 / p99 | %.2f / %.2f ms |\n", closed.Percentile(0.5),
              closed.Percentile(0.99));
  std::printf("| open loop at %.0f%% (%.0f events/s offered) | %.0f events/s done, %lld errors |\n",
              flags.load * 100, target, open.events_per_second(),
              static_cast<long long>(open.errors));
  std::printf("| open-loop latency p50 / p99 / max | %.2f / %.2f / %.2f ms |\n",
              open.Percentile(0.5), open.Percentile(0.99), open.Percentile(1.0));
  std::printf("| server RSS after the runs (peak) | %.1f MB (%.1f MB) |\n", rss_open,
              std::max(hwm_open, hwm_closed));
  std::printf("| ceiling: HTTP only (cohort_http reading bodies) | %.0f events/s |\n",
              http_only.events_per_second());
  std::printf("| ceiling: parse only (simdjson RequestParser, 1 core) | %.0f events/s |\n",
              parse_rate);
  std::printf("| end to end / HTTP-only ceiling | %.0f%% |\n",
              100 * max_rate / http_only.events_per_second());
  if (instructions_per_event > 0) {
    std::printf("| instructions per event (callgrind, %d requests) | %.0f |\n",
                flags.callgrind_requests, instructions_per_event);
  }
  (void)rss_closed;
  return 0;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  cohort::bench::Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    bool ok = true;
    if (std::string_view(argv[i]) == "--callgrind") {
      flags.callgrind = true;
    } else if (cohort::bench::ParseFlag(argv[i], "connections", &v)) {
      ok = absl::SimpleAtoi(v, &flags.connections);
    } else if (cohort::bench::ParseFlag(argv[i], "seconds", &v)) {
      ok = absl::SimpleAtoi(v, &flags.seconds);
    } else if (cohort::bench::ParseFlag(argv[i], "devices", &v)) {
      ok = absl::SimpleAtoi(v, &flags.devices);
    } else if (cohort::bench::ParseFlag(argv[i], "load", &v)) {
      ok = absl::SimpleAtod(v, &flags.load);
    } else if (cohort::bench::ParseFlag(argv[i], "callgrind_requests", &v)) {
      ok = absl::SimpleAtoi(v, &flags.callgrind_requests);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "bad flag %s\n", argv[i]);
      return 2;
    }
  }
  return cohort::bench::Run(flags);
}
