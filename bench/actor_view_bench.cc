// How an actor view catches up with appends (issue 6, queries under ingest): loads the analytics
// benchmark's dataset into a store, builds the actor view whole, then appends batches of
// kBatch new events (the store sink's batch, from actors of their own as analytics_bench's live
// ingest) and extends the view by each (ActorView::Extend, chained as the engine's builder does),
// against building it whole again. Prints a markdown section for docs/benchmarks.md.
//
//   actor_view_bench [--events=N] [--actors=N] [--seed=N] [--rounds=N] [--dir=/var/tmp]
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/segment_store.h"
#include "bench/analytics/product_generator.h"

namespace {

namespace an = cohort::analytics;
using cohort::analytics::store::ActorView;
using cohort::analytics::store::SegmentStore;
using cohort::analytics::store::Snapshot;
using cohort::bench::ProductGenerator;
using cohort::bench::ProductGeneratorOptions;

constexpr size_t kBatch = 10'000;           // the store sink's batch
constexpr int64_t kMergeEveryBatches = 64;  // as the sink merges

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[(v.size() - 1) / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 3'000'000, actors = 300'000, rounds = 10;
  uint64_t seed = 7165060360040611846ULL;
  std::string dir_root = "/var/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = absl::StrCat("--", name, "=");
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    bool ok = true;
    if (const char* v = value("events")) {
      ok = absl::SimpleAtoi(v, &events) && events > 0;
    } else if (const char* v = value("actors")) {
      ok = absl::SimpleAtoi(v, &actors) && actors > 0;
    } else if (const char* v = value("seed")) {
      ok = absl::SimpleAtoi(v, &seed);
    } else if (const char* v = value("rounds")) {
      ok = absl::SimpleAtoi(v, &rounds) && rounds > 0;
    } else if (const char* v = value("dir")) {
      dir_root = v;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: actor_view_bench [--events=N] [--actors=N] [--seed=N] [--rounds=N] "
                   "[--dir=DIR]\n");
      return 2;
    }
  }
  std::string dir = dir_root + "/actor_view_bench.XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  absl::StatusOr<std::unique_ptr<SegmentStore>> opened = SegmentStore::Open({.dir = dir});
  if (!opened.ok()) Die("open", opened.status());
  SegmentStore& store = **opened;

  ProductGeneratorOptions data;
  data.seed = seed;
  data.events = events;
  data.actors = actors;
  std::fprintf(stderr, "loading %lld events\n", static_cast<long long>(events));
  {
    ProductGenerator generator(data);
    std::vector<an::Event> batch;
    for (int64_t batches = 1; generator.Next(kBatch, &batch) > 0; ++batches) {
      if (absl::Status s = store.Append(std::move(batch)).status(); !s.ok()) Die("append", s);
      batch.clear();
      if (batches % kMergeEveryBatches == 0) {
        if (absl::Status s = store.Merge().status(); !s.ok()) Die("merge", s);
      }
    }
  }
  ProductGeneratorOptions live;
  live.seed = seed + 1;
  live.actors = std::max<int64_t>(actors / 10, 1000);
  live.events = 2 * rounds * static_cast<int64_t>(kBatch);
  live.id_prefix = "live-";
  ProductGenerator generator(live);

  std::printf("## Actor view: whole build against extension (bench/actor_view_bench.cc)\n\n");
  std::printf(
      "`actor_view_bench --events=%lld --actors=%lld --seed=%llu --rounds=%lld`: a view of the "
      "loaded store, then %lld appends of %zu events each, the view extended by each in turn.\n\n",
      static_cast<long long>(events), static_cast<long long>(actors),
      static_cast<unsigned long long>(seed), static_cast<long long>(rounds),
      static_cast<long long>(rounds), kBatch);
  std::printf(
      "| identity | events in the view | whole build ms | first extension ms | extension median "
      "ms | extension max ms | view MB |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (an::IdentityMerge identity : {an::IdentityMerge::kDeviceToUser, an::IdentityMerge::kNone}) {
    const Snapshot start = store.GetSnapshot(data.project);
    absl::Time t = absl::Now();
    ActorView view = ActorView::Build(start.segments, identity);
    const double whole_ms = Ms(absl::Now() - t);
    std::vector<double> extend_ms;
    for (int64_t r = 0; r < rounds; ++r) {
      std::vector<an::Event> batch;
      generator.Next(kBatch, &batch);
      if (absl::Status s = store.Append(std::move(batch)).status(); !s.ok()) Die("append", s);
      const Snapshot now = store.GetSnapshot(data.project);
      t = absl::Now();
      view = ActorView::Extend(view, {now.appends.back().segment});
      extend_ms.push_back(Ms(absl::Now() - t));
      std::fprintf(stderr, "  extension %lld: %.0f ms\n", static_cast<long long>(r),
                   extend_ms.back());
    }
    std::printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
                identity == an::IdentityMerge::kDeviceToUser ? "deviceToUser" : "none",
                view.event_count(), whole_ms, extend_ms.front(), Median(extend_ms),
                *std::max_element(extend_ms.begin(), extend_ms.end()),
                static_cast<double>(view.memory_bytes()) / 1e6);
    std::fflush(stdout);
  }
  opened->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
