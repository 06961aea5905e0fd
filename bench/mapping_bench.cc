// Mapping rules benchmark (issue 5): ingest/mapping's RuleSet with 10 typical rules (drop debug
// events, rename, identity copied from the native payload, UTM extraction by regex, a tier set
// from a plan property, a PII member removed, ...) applied to Amplitude-style events of about 300
// bytes. Three workloads:
//   untouched  Amplitude events no rule matches (the rules' property matches fail on the raw text,
//              nothing is parsed): what mapping costs the common event
//   native     native-envelope events whose identity two Copy rules take from the payload (parse
//              once, write back once)
//   mixed      90 % untouched, 10 % matched by the UTM/plan/PII rules
// One thread, timed by its CPU time (the machine is shared): events/s per core, ns per event.
//
//   mapping_bench [--seconds=2]
#include <time.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "ingest/mapping/rule_set.h"

namespace cohort::bench {
namespace {

using config::Action;
using config::MappingRule;
using ingest::Event;
using ingest::EventSource;
using ingest::JsonField;

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

MappingRule Rule(const char* name, Action action) {
  MappingRule r;
  r.name = name;
  r.action = action;
  return r;
}

config::PropertyMatch Property(std::string path, std::optional<std::string> equals,
                               std::optional<std::string> regex = std::nullopt) {
  return config::PropertyMatch{std::move(path), std::move(equals), std::move(regex)};
}

std::vector<MappingRule> TypicalRules() {
  std::vector<MappingRule> rules;
  MappingRule r = Rule("drop-debug", Action::kDrop);
  r.match.event_type = "Debug";
  rules.push_back(r);
  r = Rule("rename-signup", Action::kRename);
  r.match.event_type = "sign_up";
  r.target = "Sign Up";
  rules.push_back(r);
  r = Rule("user-from-payload", Action::kCopy);
  r.match.source = config::Source::kNative;
  r.from = "payload.user.id";
  r.target = "user_id";
  rules.push_back(r);
  r = Rule("device-from-payload", Action::kCopy);
  r.match.source = config::Source::kNative;
  r.from = "payload.device.id";
  r.target = "device_id";
  rules.push_back(r);
  r = Rule("utm-source", Action::kExtract);
  r.match.property = Property("$.event_properties.url", std::nullopt, "utm_source=");
  r.from = "event_properties.url";
  r.regex = "utm_source=([^&]*)";
  r.target = "event_properties.utm_source";
  rules.push_back(r);
  r = Rule("enterprise-tier", Action::kSet);
  r.match.property = Property("$.event_properties.plan", "enterprise");
  r.target = "user_properties.tier";
  r.value = "enterprise";
  rules.push_back(r);
  r = Rule("drop-email", Action::kDrop);
  r.match.property = Property("$.event_properties.email", std::nullopt);
  r.target = "event_properties.email";
  rules.push_back(r);
  r = Rule("dify-model", Action::kExtract);
  r.match.source = config::Source::kDify;
  r.from = "event_properties.metadata";
  r.json_path = "$.model";
  r.target = "event_properties.model";
  rules.push_back(r);
  r = Rule("eu-purchases", Action::kSet);
  r.match.event_type = "Purchase";
  r.match.property = Property("$.event_properties.currency", "EUR");
  r.target = "event_properties.zone";
  r.value = "eu";
  rules.push_back(r);
  r = Rule("drop-internal", Action::kDrop);
  r.match.property = Property("$.user_properties.internal", "true");
  rules.push_back(r);
  return rules;
}

Event Untouched(std::mt19937_64& rng) {
  static const char* kTypes[] = {"Button Clicked", "Page Viewed", "Session Start", "Purchase"};
  static const char* kPages[] = {"/pricing", "/docs/getting-started", "/", "/blog/launch"};
  Event e;
  e.project = "web";
  e.source = EventSource::kAmplitude;
  e.event_type = kTypes[rng() % 4];
  e.user_id = "user-" + std::to_string(rng() % 1'000'000);
  e.device_id = "dev-" + std::to_string(rng());
  e.insert_id = "ins-" + std::to_string(rng());
  e.json_field(JsonField::kEventProperties) =
      std::string(R"({"page":")") + kPages[rng() % 4] +
      R"(","referrer":"https://www.example.com/","button":"cta-)" + std::to_string(rng() % 50) +
      R"(","experiment":"exp-)" + std::to_string(rng() % 9) +
      R"(","variant":"b","currency":"USD","amount":)" + std::to_string(rng() % 500) + "}";
  e.json_field(JsonField::kUserProperties) = R"({"$set":{"locale":"en-US","theme":"dark"}})";
  return e;
}

Event Native(std::mt19937_64& rng) {
  Event e = Untouched(rng);
  e.source = EventSource::kNative;
  e.user_id.clear();
  e.device_id.clear();
  e.json_field(JsonField::kEventProperties) =
      R"({"user":{"id":"u-)" + std::to_string(rng() % 1'000'000) + R"(","plan":"team"},)" +
      R"("device":{"id":"d-)" + std::to_string(rng()) +
      R"(","os":"linux"},"action":"deploy","service":"api","duration_ms":)" +
      std::to_string(rng() % 10000) + "}";
  return e;
}

Event Matched(std::mt19937_64& rng) {
  Event e = Untouched(rng);
  e.json_field(JsonField::kEventProperties) =
      R"({"page":"/pricing","url":"https://example.com/?utm_source=news&utm_medium=mail",)"
      R"("plan":"enterprise","email":"someone@example.com","amount":)" +
      std::to_string(rng() % 500) + "}";
  return e;
}

// Applies the rules to request-sized batches (100 events) copied fresh from `input` before each
// round (the copy is not timed): the events are in cache as they are in the server, where mapping
// runs right after parsing.
void Run(const char* name, const ingest::mapping::RuleSet& rules, const std::vector<Event>& input,
         double seconds) {
  constexpr size_t kBatch = 100;
  std::vector<Event> batch;
  int64_t events = 0, kept = 0;
  double elapsed = 0;
  size_t next = 0;
  while (elapsed < seconds) {
    batch.assign(input.begin() + next, input.begin() + next + kBatch);
    next = (next + kBatch) % input.size();
    const double round_start = CpuSeconds();
    for (Event& e : batch) kept += rules.Apply(e) ? 1 : 0;
    elapsed += CpuSeconds() - round_start;
    events += static_cast<int64_t>(batch.size());
  }
  std::printf("| %-9s | %12.0f | %8.1f | %6.1f%% |\n", name, events / elapsed,
              elapsed * 1e9 / events, 100.0 * kept / events);
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  using namespace cohort::bench;
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0 && absl::SimpleAtod(argv[i] + 10, &seconds)) {
      continue;
    }
    std::fprintf(stderr, "usage: mapping_bench [--seconds=2]\n");
    return 2;
  }
  absl::StatusOr<cohort::ingest::mapping::RuleSet> rules =
      cohort::ingest::mapping::RuleSet::Compile(TypicalRules());
  if (!rules.ok()) {
    std::fprintf(stderr, "%s\n", std::string(rules.status().message()).c_str());
    return 1;
  }
  std::mt19937_64 rng(42);
  std::vector<Event> untouched, native, mixed;
  for (int i = 0; i < 10000; ++i) {
    untouched.push_back(Untouched(rng));
    native.push_back(Native(rng));
    mixed.push_back(i % 10 == 0 ? Matched(rng) : Untouched(rng));
  }
  // Check the workloads do what they say before timing them.
  {
    Event e = native.front();
    Event m = mixed.front();
    Event u = untouched.front();
    const Event u0 = u;
    if (!rules->Apply(e) || e.user_id.empty() || e.device_id.empty() || !rules->Apply(m) ||
        m.json_field(JsonField::kEventProperties).find("utm_source\":\"news") ==
            std::string::npos ||
        !rules->Apply(u) || !(u == u0)) {
      std::fprintf(stderr, "workload self-check failed\n");
      return 1;
    }
  }
  std::printf("mapping_bench: %zu rules, 10,000 events per workload, one thread, CPU time\n\n",
              rules->size());
  std::printf("| workload  |     events/s | ns/event |   kept |\n");
  std::printf("|-----------|-------------:|---------:|-------:|\n");
  Run("untouched", *rules, untouched, seconds);
  Run("native", *rules, native, seconds);
  Run("mixed", *rules, mixed, seconds);
  return 0;
}
