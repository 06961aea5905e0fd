// Amplitude request parsing benchmark (issue 5): the same Amplitude-style batches (100 events of
// about 316 bytes, generated deterministically from a seed) parsed and validated by
// ingest/amplitude's RequestParser (simdjson DOM) and by an nlohmann/json implementation of the
// same parse and validation (here only, as the baseline), plus two ceilings: simdjson DOM parsing
// alone and simdjson on-demand touching every field. One thread, timed by its CPU time (the machine
// is shared): the figures are per core. Prints a markdown section for docs/benchmarks.md.
//
//   amplitude_parse_bench [--seconds=3] [--batches=200] [--seed=42] [--only=PARSER]
#include <simdjson.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "ingest/amplitude/request_parser.h"
#include "ingest/amplitude/validation.h"
#include "nlohmann/json.hpp"

namespace cohort::bench {
namespace {

using ingest::Event;
using nlohmann::json;

constexpr int64_t kUploadMs = 1'700'000'000'000;
constexpr int kEventsPerBatch = 100;

struct Flags {
  double seconds = 3;
  int batches = 200;
  uint64_t seed = 42;
  std::string only;  // run only this parser: ours, nlohmann, dom, ondemand (for profiling)
};

std::string Hex(std::mt19937_64& rng, int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(kHex[rng() % 16]);
  return s;
}

std::string Uuid(std::mt19937_64& rng) {
  return Hex(rng, 8) + "-" + Hex(rng, 4) + "-" + Hex(rng, 4) + "-" + Hex(rng, 4) + "-" +
         Hex(rng, 12);
}

// One event as an Amplitude SDK sends it (about 316 bytes).
std::string MakeEvent(std::mt19937_64& rng) {
  static const char* kTypes[] = {"Button Clicked", "Page Viewed", "Sign Up", "Purchase",
                                 "Session Start"};
  static const char* kPages[] = {"/pricing", "/docs/getting-started", "/", "/blog/launch"};
  std::string e = R"({"user_id":"user-)" + std::to_string(rng() % 1'000'000) +
                  R"(","device_id":")" + Uuid(rng) + R"(","event_type":")" + kTypes[rng() % 5] +
                  R"(","time":)" + std::to_string(kUploadMs - rng() % 60000) + R"(,"insert_id":")" +
                  Uuid(rng) + R"(","session_id":)" + std::to_string(kUploadMs - 600000) +
                  R"(,"platform":"Web","os_name":"Chrome","ip":"$remote",)" +
                  R"("event_properties":{"page":")" + kPages[rng() % 4] + R"(","position":)" +
                  std::to_string(rng() % 20) + R"(,"variant":"B"}})";
  return e;
}

std::string MakeBatch(std::mt19937_64& rng) {
  std::string body = R"({"api_key":"0123456789abcdef0123456789abcdef","events":[)";
  for (int i = 0; i < kEventsPerBatch; ++i) {
    if (i > 0) body += ",";
    body += MakeEvent(rng);
  }
  body += R"(],"options":{"min_id_length":5}})";
  return body;
}

// The nlohmann implementation of RequestParser's parse and validation, for comparison.
class NlohmannParser {
 public:
  NlohmannParser() {
    for (size_t i = 0; i < ingest::kAttributeCount; ++i) {
      attributes_[std::string(ingest::AttributeKey(static_cast<ingest::Attribute>(i)))] = i;
    }
    for (size_t i = 0; i < ingest::kJsonFieldCount; ++i) {
      json_fields_[std::string(ingest::JsonFieldKey(static_cast<ingest::JsonField>(i)))] = i;
    }
  }

  // Returns false when the request would be rejected.
  bool Parse(const std::string& body, std::vector<Event>* events) {
    events->clear();
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) return false;
    auto key = doc.find("api_key");
    if (key == doc.end() || !key->is_string() || key->get_ref<const std::string&>().empty()) {
      return false;
    }
    int64_t min_id_length = 5;
    if (auto o = doc.find("options"); o != doc.end() && o->is_object()) {
      if (auto m = o->find("min_id_length"); m != o->end() && m->is_number_integer()) {
        min_id_length = m->get<int64_t>();
      }
    }
    auto list = doc.find("events");
    if (list == doc.end() || !list->is_array() || list->empty() || list->size() > 2000) {
      return false;
    }
    bool ok = true;
    for (const json& item : *list) {
      if (!item.is_object()) return false;
      Event& e = events->emplace_back();
      e.time_ms = kUploadMs;
      e.server_received_time_ms = kUploadMs;
      bool has_user = false, has_device = false;
      for (auto it = item.begin(); it != item.end(); ++it) {
        const std::string& k = it.key();
        const json& v = it.value();
        if (v.is_null()) continue;
        if (k == "user_id" || k == "device_id" || k == "event_type" || k == "insert_id" ||
            k == "ip") {
          if (!v.is_string()) {
            ok = false;
            continue;
          }
          std::string s(ingest::amplitude::TruncateToCodePoints(
              v.get_ref<const std::string&>(), ingest::amplitude::kMaxStringCodePoints));
          if (k == "user_id") e.user_id = std::move(s), has_user = true;
          if (k == "device_id") e.device_id = std::move(s), has_device = true;
          if (k == "event_type") e.event_type = std::move(s);
          if (k == "insert_id") e.insert_id = std::move(s);
          if (k == "ip") e.ip = s == "$remote" ? "203.0.113.7" : std::move(s);
        } else if (k == "time" || k == "session_id" || k == "event_id") {
          if (!v.is_number_integer()) {
            ok = false;
            continue;
          }
          int64_t n = v.get<int64_t>();
          if (k == "time") ok = ok && n <= kUploadMs + 3'600'000, e.time_ms = n;
          if (k == "session_id") e.session_id = n;
          if (k == "event_id") e.event_id = n;
        } else if (auto a = attributes_.find(k); a != attributes_.end()) {
          if (v.is_string()) e.attributes[a->second] = v.get<std::string>();
        } else if (auto j = json_fields_.find(k); j != json_fields_.end()) {
          if (!v.is_object()) {
            ok = false;
            continue;
          }
          e.json[j->second] = v.dump();
        }
      }
      if (e.event_type.empty() || (!has_user && !has_device)) ok = false;
      for (const std::string* id : {&e.user_id, &e.device_id}) {
        if (id->empty()) continue;
        if (ingest::amplitude::IsForbiddenId(*id) ||
            static_cast<int64_t>(ingest::amplitude::CodePointCount(*id)) < min_id_length) {
          ok = false;
        }
      }
    }
    return ok;
  }

 private:
  absl::flat_hash_map<std::string, size_t> attributes_;
  absl::flat_hash_map<std::string, size_t> json_fields_;
};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Result {
  double events_per_second;
  double mb_per_second;
};

// Runs `parse_one(batch)` over the batches round-robin for `seconds`; `parse_one` returns the
// number of events it produced (which must be kEventsPerBatch).
template <typename F>
Result Measure(const std::vector<std::string>& batches, double seconds, F parse_one) {
  if (seconds == 0) return {0, 0};
  using Clock = std::chrono::steady_clock;
  const double cpu_start = ThreadCpuSeconds();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  int64_t events = 0, bytes = 0;
  size_t i = 0;
  auto now = start;
  do {
    for (int k = 0; k < 16; ++k) {
      const std::string& b = batches[i++ % batches.size()];
      size_t n = parse_one(b);
      if (n != static_cast<size_t>(kEventsPerBatch)) {
        std::fprintf(stderr, "parse produced %zu events, want %d\n", n, kEventsPerBatch);
        std::exit(1);
      }
      events += static_cast<int64_t>(n);
      bytes += static_cast<int64_t>(b.size());
    }
    now = Clock::now();
  } while (now < end);
  // CPU time of this thread, not wall time: the machine is shared, and per-core throughput is
  // what we want.
  const double elapsed = ThreadCpuSeconds() - cpu_start;
  return {events / elapsed, bytes / elapsed / 1e6};
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool ok = false;
    if (a.starts_with("--seconds=")) ok = absl::SimpleAtod(std::string(a.substr(10)), &f.seconds);
    if (a.starts_with("--batches=")) ok = absl::SimpleAtoi(std::string(a.substr(10)), &f.batches);
    if (a.starts_with("--seed=")) ok = absl::SimpleAtoi(std::string(a.substr(7)), &f.seed);
    if (a.starts_with("--only=")) {
      f.only = std::string(a.substr(7));
      ok = f.only == "ours" || f.only == "nlohmann" || f.only == "dom" || f.only == "ondemand";
    }
    if (!ok || f.batches <= 0 || f.seconds <= 0) {
      std::fprintf(stderr,
                   "usage: %s [--seconds=3] [--batches=200] [--seed=42] "
                   "[--only=ours|nlohmann|dom|ondemand]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return f;
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  std::mt19937_64 rng(flags.seed);
  std::vector<std::string> batches;
  int64_t total_bytes = 0;
  for (int i = 0; i < flags.batches; ++i) {
    batches.push_back(MakeBatch(rng));
    total_bytes += static_cast<int64_t>(batches.back().size());
  }
  const double event_bytes = static_cast<double>(total_bytes) / flags.batches / kEventsPerBatch;

  auto secs = [&](const char* name) {
    return flags.only.empty() || flags.only == name ? flags.seconds : 0;
  };
  ingest::amplitude::RequestParser parser;
  const ingest::amplitude::RequestContext context{.upload_time = absl::FromUnixMillis(kUploadMs),
                                                  .client_ip = "203.0.113.7"};
  Result ours = Measure(batches, secs("ours"), [&](const std::string& b) {
    ingest::amplitude::ParsedRequest r = parser.Parse(b, context);
    return r.rejection ? size_t{0} : r.events.size();
  });

  NlohmannParser baseline;
  std::vector<Event> events;
  Result nl = Measure(batches, secs("nlohmann"), [&](const std::string& b) {
    return baseline.Parse(b, &events) ? events.size() : size_t{0};
  });

  simdjson::dom::parser dom;
  Result dom_only = Measure(batches, secs("dom"), [&](const std::string& b) {
    simdjson::dom::element doc;
    if (dom.parse(b).get(doc) != simdjson::SUCCESS) return size_t{0};
    return doc["events"].get_array().size();
  });

  simdjson::ondemand::parser od;
  std::vector<simdjson::padded_string> padded;
  for (const std::string& b : batches) padded.emplace_back(b);
  size_t next = 0;
  size_t sink = 0;
  Result od_only = Measure(batches, secs("ondemand"), [&](const std::string&) {
    // Touches every key and scalar of every event; nested objects are skipped as raw JSON.
    simdjson::ondemand::document doc;
    if (od.iterate(padded[next++ % padded.size()]).get(doc) != simdjson::SUCCESS) return size_t{0};
    size_t n = 0;
    for (auto field : doc.get_object()) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return size_t{0};
      if (key != "events") continue;
      for (auto item : field.value().get_array()) {
        for (auto f : item.get_object()) {
          simdjson::ondemand::value v;
          if (f.value().get(v) != simdjson::SUCCESS) return size_t{0};
          sink += v.raw_json_token().size();  // nested objects are skipped by the iterator
        }
        ++n;
      }
    }
    return n;
  });
  // `next` advances in step with Measure's index, so bytes are counted for the right batches.
  if (sink == 0) std::printf("(nothing touched)\n");

  std::printf("## Amplitude request parsing (issue 5)\n\n");
  std::printf(
      "`amplitude_parse_bench --seconds=%g --batches=%d --seed=%llu`: %d batches of %d events, "
      "%.0f bytes per event on average; one thread, rates per CPU-second. simdjson %d.%d.%d, DOM "
      "kernel %s, on-demand "
      "kernel "
      "%s (compile-time).\n\n",
      flags.seconds, flags.batches, static_cast<unsigned long long>(flags.seed), flags.batches,
      kEventsPerBatch, event_bytes, simdjson::SIMDJSON_VERSION_MAJOR,
      simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
      std::string(simdjson::get_active_implementation()->name()).c_str(),
      std::string(simdjson::builtin_implementation()->name()).c_str());
  std::printf("| parser | events/s per core | MB/s |\n|---|---:|---:|\n");
  auto row = [](const char* name, Result r) {
    std::printf("| %s | %.2f M | %.0f |\n", name, r.events_per_second / 1e6, r.mb_per_second);
  };
  row("RequestParser (simdjson DOM, full validation, Events built)", ours);
  row("nlohmann/json, same parse and validation", nl);
  row("ceiling: simdjson DOM parse only", dom_only);
  row("ceiling: simdjson on-demand, every field touched", od_only);
  if (flags.only.empty()) {
    std::printf("\nRequestParser is %.1fx the nlohmann implementation.\n",
                ours.events_per_second / nl.events_per_second);
  }
  return 0;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) { return cohort::bench::Main(argc, argv); }
