// HTTP layer benchmark (issue 5): the cohort_http server in-process on loopback, a handler that
// answers a small JSON, and N client connections each posting a 31.6 KB body in a closed loop
// (the payload of docs/measurements: 100 events of ~316 bytes). Prints requests/s and p50/p99
// latency as a markdown section for docs/benchmarks.md. Client and server share the machine.
//
//   build/bench/http_bench [--connections=16] [--seconds=10] [--body_bytes=31600]
//                          [--io_threads=2]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ingest/http/http_server.h"
#include "ingest/http/test_client.h"

namespace cohort::bench {
namespace {

namespace http = ingest::http;

struct Flags {
  int connections = 16;
  int seconds = 10;
  int body_bytes = 31600;
  int io_threads = 2;
};

bool ParseFlag(const char* arg, const char* name, int* value) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (std::string_view(arg).substr(0, prefix.size()) != prefix) return false;
  return absl::SimpleAtoi(std::string(arg + prefix.size()), value);
}

int Run(const Flags& flags) {
  http::HttpServerOptions options;
  options.io_threads = flags.io_threads;
  http::HttpServer server(options);
  http::Route route;
  route.method = "POST";
  route.path = "/2/httpapi";
  route.handler = [](http::Request request, http::Responder responder) {
    responder.Respond(http::JsonResponse(
        200, absl::StrCat(R"({"code":200,"events_ingested":100,"payload_size_bytes":)",
                          request.body.size(), "}")));
  };
  if (absl::Status s = server.AddRoute(route); !s.ok() || !(s = server.Start()).ok()) {
    std::fprintf(stderr, "server: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string request =
      http::testing::MakeRequest("POST", "/2/httpapi", std::string(flags.body_bytes, 'e'),
                                 {{"Content-Type", "application/json"}});
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::vector<double>> latencies(flags.connections);
  std::vector<std::thread> clients;
  for (int c = 0; c < flags.connections; ++c) {
    clients.emplace_back([&, c] {
      auto connection = http::testing::TestConnection::Connect(server.port());
      if (!connection.ok()) {
        ++errors;
        return;
      }
      while (!stop.load(std::memory_order_relaxed)) {
        const absl::Time start = absl::Now();
        if (!(*connection)->Send(request).ok()) {
          ++errors;
          return;
        }
        absl::StatusOr<http::testing::TestResponse> response = (*connection)->Read();
        if (!response.ok() || response->status != 200) {
          ++errors;
          return;
        }
        latencies[c].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      }
    });
  }
  const absl::Time begin = absl::Now();
  absl::SleepFor(absl::Seconds(flags.seconds));
  stop = true;
  for (std::thread& t : clients) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - begin);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto percentile = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf("## HTTP layer (cohort_http, issue 5)\n\n");
  std::printf(
      "`http_bench --connections=%d --seconds=%d --body_bytes=%d --io_threads=%d`, "
      "server and client in one process on %u cores\n\n",
      flags.connections, flags.seconds, flags.body_bytes, flags.io_threads,
      std::thread::hardware_concurrency());
  std::printf("| requests | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|\n");
  std::printf("| %zu | %.0f | %.2f | %.2f | %d |\n", all.size(), all.size() / elapsed,
              percentile(0.50), percentile(0.99), errors.load());
  return server.Drain(absl::Now() + absl::Seconds(5)).ok() && errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  cohort::bench::Flags flags;
  for (int i = 1; i < argc; ++i) {
    if (!cohort::bench::ParseFlag(argv[i], "connections", &flags.connections) &&
        !cohort::bench::ParseFlag(argv[i], "seconds", &flags.seconds) &&
        !cohort::bench::ParseFlag(argv[i], "body_bytes", &flags.body_bytes) &&
        !cohort::bench::ParseFlag(argv[i], "io_threads", &flags.io_threads)) {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  return cohort::bench::Run(flags);
}
