// The embedded store's dedup filter (issue 6; analytics/store/fingerprint_set.h) against the hash
// set of 64-bit hashes it replaced: memory, insert and lookup time for N random hashes (the store
// hashes (group, insert_id) with absl::Hash), lookups of absent hashes — what nearly every new
// event costs — and the false-positive rate that sends an event to the exact search. One thread,
// wall time on a quiet machine, the better of three rounds.
//
//   dedup_filter_bench [--entries=10000000]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "analytics/store/fingerprint_set.h"

namespace {

struct Result {
  double insert_ns = 1e18, miss_ns = 1e18, hit_ns = 1e18, mb = 0, false_positive_rate = 0;
};

double NsPer(std::chrono::steady_clock::time_point from, size_t n) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - from).count() /
         static_cast<double>(n);
}

template <typename Set, typename InsertFn, typename ContainsFn, typename BytesFn>
void Measure(const std::vector<uint64_t>& keys, const std::vector<uint64_t>& absent, Result* r,
             InsertFn insert, ContainsFn contains, BytesFn bytes) {
  Set set;
  auto t = std::chrono::steady_clock::now();
  for (uint64_t k : keys) insert(set, k);
  r->insert_ns = std::min(r->insert_ns, NsPer(t, keys.size()));
  size_t found = 0;
  t = std::chrono::steady_clock::now();
  for (uint64_t k : absent) found += contains(set, k) ? 1 : 0;
  r->miss_ns = std::min(r->miss_ns, NsPer(t, absent.size()));
  r->false_positive_rate = static_cast<double>(found) / static_cast<double>(absent.size());
  size_t hits = 0;
  t = std::chrono::steady_clock::now();
  for (uint64_t k : keys) hits += contains(set, k) ? 1 : 0;
  r->hit_ns = std::min(r->hit_ns, NsPer(t, keys.size()));
  if (hits != keys.size()) std::fprintf(stderr, "a stored hash was missed\n");
  r->mb = static_cast<double>(bytes(set)) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  size_t entries = 10'000'000;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--entries=", 10) != 0 || !absl::SimpleAtoi(argv[i] + 10, &entries) ||
        entries == 0) {
      std::fprintf(stderr, "usage: dedup_filter_bench [--entries=N]\n");
      return 2;
    }
  }
  std::mt19937_64 rng(20261128);
  std::vector<uint64_t> keys(entries), absent(entries);
  for (uint64_t& k : keys) k = rng();
  for (uint64_t& k : absent) k = rng();
  Result hash_set, fingerprints;
  for (int round = 0; round < 3; ++round) {
    Measure<absl::flat_hash_set<uint64_t>>(
        keys, absent, &hash_set, [](auto& s, uint64_t k) { s.insert(k); },
        [](const auto& s, uint64_t k) { return s.contains(k); },
        [](const auto& s) { return s.capacity() * (sizeof(uint64_t) + 1); });
    Measure<cohort::analytics::store::FingerprintSet>(
        keys, absent, &fingerprints, [](auto& s, uint64_t k) { s.Insert(k); },
        [](const auto& s, uint64_t k) { return s.MayContain(k); },
        [](const auto& s) { return s.memory_bytes(); });
  }
  std::printf("`dedup_filter_bench --entries=%zu`\n\n", entries);
  std::printf(
      "| filter | MB | bytes per entry | insert ns | lookup, absent ns | lookup, present ns "
      "| false positives |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& [name, r] :
       {std::pair<const char*, const Result&>{"flat_hash_set<uint64_t>", hash_set},
        {"FingerprintSet", fingerprints}}) {
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.4f %% |\n", name, r.mb,
                r.mb * 1e6 / static_cast<double>(entries), r.insert_ns, r.miss_ns, r.hit_ns,
                100 * r.false_positive_rate);
  }
  return 0;
}
