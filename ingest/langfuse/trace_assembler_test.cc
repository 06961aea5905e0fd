#include "ingest/langfuse/trace_assembler.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::langfuse {
namespace {

using nlohmann::json;

Item Observation(const std::string& id, bool ended, Family family = Family::kSpan) {
  Item item;
  item.id = "env-" + id + (ended ? "-end" : "");
  item.family = family;
  item.body_id = id;
  item.timestamp_ms = 1000;
  item.body = {{"id", id}, {"traceId", "t"}, {"name", "tool"}};
  if (ended) item.body["endTime"] = "2024-05-01T12:00:00Z";
  return item;
}

class TraceAssemblerTest : public ::testing::Test {
 protected:
  SimulatedClock clock_{absl::FromUnixSeconds(1714564800)};
};

TEST_F(TraceAssemblerTest, EntityCapEvictsLeastRecentlyTouched) {
  TraceAssembler a({.max_entities = 2, .clock = &clock_});
  (void)a.Apply({Observation("a", false)}, 0);
  (void)a.Apply({Observation("b", false)}, 0);
  (void)a.Apply({Observation("a", false)}, 0);  // a is now the most recent
  (void)a.Apply({Observation("c", false)}, 0);  // evicts b
  EXPECT_EQ(a.size(), 2);
  EXPECT_EQ(a.evicted_pending(), 1);
  // b's end alone is still an event (its earlier fields are lost); a's end merges.
  Assembly out = a.Apply({Observation("b", true), Observation("a", true)}, 0);
  EXPECT_EQ(out.events.size(), 2u);
}

TEST_F(TraceAssemblerTest, TtlExpiresIdleState) {
  TraceAssembler a({.ttl = absl::Minutes(10), .clock = &clock_});
  (void)a.Apply({Observation("a", false)}, 0);
  clock_.Advance(absl::Minutes(5));
  (void)a.Apply({Observation("b", false)}, 0);
  EXPECT_EQ(a.size(), 2);
  clock_.Advance(absl::Minutes(6));
  (void)a.Apply({Observation("c", false)}, 0);
  EXPECT_EQ(a.size(), 2);  // a expired
  EXPECT_EQ(a.evicted_pending(), 1);
}

TEST_F(TraceAssemblerTest, ByteCapBoundsMemoryAndContentIsNotKept) {
  TraceAssembler a({.max_bytes = 4096, .clock = &clock_});
  for (int i = 0; i < 100; ++i) {
    Item item = Observation("o" + std::to_string(i), false);
    item.body["metadata"] = {{"pad", std::string(200, 'x')}};
    item.body["input"] = std::string(100000, 'p');  // not kept without capture_content
    (void)a.Apply({item}, 0);
    EXPECT_LE(a.bytes(), 4096);
  }
  EXPECT_GT(a.size(), 5);
  EXPECT_LT(a.size(), 20);
}

TEST_F(TraceAssemblerTest, MarkEmittedForgetsObservationBodies) {
  TraceAssembler a({.clock = &clock_});
  Item item = Observation("a", true);
  item.body["metadata"] = {{"pad", std::string(1000, 'x')}};
  Assembly out = a.Apply({item}, 0);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_GT(a.bytes(), 1000);
  a.MarkEmitted(out.entity_keys);
  EXPECT_LT(a.bytes(), 100);
  out = a.Apply({item}, 0);
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(out.dispositions, std::vector<Disposition>{Disposition::kMerged});
}

TEST_F(TraceAssemblerTest, ConcurrentAppliesEmitEachEntityWithOneInsertId) {
  TraceAssembler a({.clock = &clock_});
  std::vector<std::vector<Event>> per_thread(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Assembly out = a.Apply({Observation("o" + std::to_string(i), true)}, 0);
        a.MarkEmitted(out.entity_keys);
        for (Event& e : out.events) per_thread[t].push_back(std::move(e));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::string> ids;
  size_t total = 0;
  for (const auto& events : per_thread) {
    total += events.size();
    for (const Event& e : events) ids.insert(e.insert_id);
  }
  EXPECT_EQ(ids.size(), 200u);  // duplicates (racing before MarkEmitted) share the insert id
  EXPECT_GE(total, 200u);
}

}  // namespace
}  // namespace cohort::ingest::langfuse
