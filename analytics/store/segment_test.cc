#include "analytics/store/segment.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "analytics/store/segment_codec.h"
#include "common/file_env.h"

namespace cohort::analytics::store {
namespace {

Event Make(std::string user, std::string device, std::string type, int64_t time,
           std::string insert_id) {
  Event e;
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.event_type = std::move(type);
  e.time_ms = time;
  e.insert_id = std::move(insert_id);
  return e;
}

std::vector<Event> Sample() {
  std::vector<Event> events;
  events.push_back(Make("bob", "d2", "click", 300, "b1"));
  events.push_back(Make("", "d9", "view", 100, "x1"));
  events.push_back(Make("alice", "d1", "view", 200, "a2"));
  events.push_back(Make("alice", "", "click", 200, "a1"));  // same ms: insert_id breaks the tie
  events.push_back(Make("alice", "d1", "$identify", 50, "a0"));
  events[0].event_properties["button"] = PropertyValue::String("buy");
  events[0].event_properties["price"] = PropertyValue::Number(9.5);
  events[0].session_id = 1000;
  events[1].session_id = kNoSessionId;
  events[2].event_properties["button"] = PropertyValue::String("buy");
  events[2].event_properties["nested"] = PropertyValue::Json(R"({"a":[1]})");
  events[4].user_properties["$set"] = PropertyValue::Json(R"({"plan":"pro"})");
  events[3].user_properties["plan"] = PropertyValue::Null();
  return events;
}

TEST(SegmentTest, GroupsByUserElseDeviceAndSortsByTimeThenInsertId) {
  absl::StatusOr<SegmentPtr> built = Segment::Build("p", Sample());
  ASSERT_TRUE(built.ok()) << built.status();
  const Segment& s = **built;
  EXPECT_EQ(s.project(), "p");
  ASSERT_EQ(s.event_count(), 5u);
  ASSERT_EQ(s.group_count(), 3u);
  // Device groups sort before user groups (is_user false < true), then by id.
  EXPECT_EQ(s.group(0), (GroupKey{false, "d9"}));
  EXPECT_EQ(s.group(1), (GroupKey{true, "alice"}));
  EXPECT_EQ(s.group(2), (GroupKey{true, "bob"}));
  EXPECT_EQ(s.group_begin(1), 1u);
  EXPECT_EQ(s.group_begin(2), 4u);
  EXPECT_EQ(s.group_begin(3), 5u);
  EXPECT_EQ(s.insert_id(1), "a0");
  EXPECT_EQ(s.insert_id(2), "a1");
  EXPECT_EQ(s.insert_id(3), "a2");
  EXPECT_EQ(s.time_ms(2), 200);
  EXPECT_EQ(s.event_types(), (std::vector<std::string>{"$identify", "click", "view"}));
  EXPECT_EQ(s.event_types()[s.event_type_code(4)], "click");
  EXPECT_EQ(s.FindGroup(GroupKey{true, "bob"}), 2u);
  EXPECT_EQ(s.FindGroup(GroupKey{false, "bob"}), std::nullopt);
  EXPECT_EQ(s.FindEventType("view"), 2u);
  EXPECT_EQ(s.FindEventType("nope"), std::nullopt);
  EXPECT_EQ(s.session_column(0), kNoSessionId);
  EXPECT_EQ(s.session_column(1), kNoSessionColumn);
  EXPECT_EQ(s.session_column(4), 1000);
  EXPECT_EQ(s.devices()[s.device_code(1)], "d1");
  EXPECT_EQ(s.device_code(2), kNoCode);
}

TEST(SegmentTest, PropertiesAreSparseColumnsOverOneValueDictionary) {
  SegmentPtr s = *Segment::Build("p", Sample());
  std::optional<uint32_t> button = s->FindPropertyKey(false, "button");
  ASSERT_TRUE(button.has_value());
  const Column<uint32_t>& events = s->property_column(false, *button).events;
  EXPECT_EQ(std::vector<uint32_t>(events.begin(), events.end()), (std::vector<uint32_t>{3, 4}));
  const PropertyValue* v = s->Property(false, *button, 4);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, PropertyValue::String("buy"));
  EXPECT_EQ(s->Property(false, *button, 0), nullptr);
  // Both events' "buy" share one code.
  EXPECT_EQ(s->property_column(false, *button).values[0],
            s->property_column(false, *button).values[1]);
  std::optional<uint32_t> plan = s->FindPropertyKey(true, "plan");
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(*s->Property(true, *plan, 2), PropertyValue::Null());
  EXPECT_EQ(s->FindPropertyKey(true, "button"), std::nullopt);
}

TEST(SegmentTest, ToEventGivesBackEveryEvent) {
  std::vector<Event> in = Sample();
  SegmentPtr s = *Segment::Build("p", in);
  std::vector<Event> out;
  for (size_t e = 0; e < s->event_count(); ++e) out.push_back(s->ToEvent(e));
  for (Event& e : in) e.project = "p";
  auto key = [](const Event& e) { return e.insert_id; };
  std::sort(in.begin(), in.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
  std::sort(out.begin(), out.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
  ASSERT_EQ(in.size(), out.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].user_id, in[i].user_id);
    EXPECT_EQ(out[i].device_id, in[i].device_id);
    EXPECT_EQ(out[i].event_type, in[i].event_type);
    EXPECT_EQ(out[i].time_ms, in[i].time_ms);
    EXPECT_EQ(out[i].session_id, in[i].session_id);
    EXPECT_EQ(out[i].event_properties, in[i].event_properties);
    EXPECT_EQ(out[i].user_properties, in[i].user_properties);
  }
}

TEST(SegmentTest, RefusesEventsItCannotStore) {
  std::vector<Event> no_insert_id = {Make("u", "", "a", 1, "")};
  EXPECT_EQ(Segment::Build("p", no_insert_id).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Event> anonymous = {Make("", "", "a", 1, "i")};
  EXPECT_EQ(Segment::Build("p", anonymous).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Event> duplicate = {Make("u", "", "a", 1, "i"), Make("u", "d", "b", 7, "i")};
  absl::StatusOr<SegmentPtr> dup = Segment::Build("p", duplicate);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("repeats insert_id \"i\""), std::string::npos);
  // The same insert_id in two groups is two events.
  std::vector<Event> two_groups = {Make("u", "", "a", 1, "i"), Make("v", "", "a", 1, "i")};
  EXPECT_TRUE(Segment::Build("p", two_groups).ok());
  EXPECT_TRUE(Segment::Build("p", {}).ok());
}

std::vector<Event> Random(uint32_t seed, int n) {
  std::mt19937 rng(seed);
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    int actor = rng() % 50;
    Event e = Make(rng() % 3 ? "u" + std::to_string(actor) : "",
                   rng() % 2 || actor % 3 == 0 ? "d" + std::to_string(actor) : "",
                   "t" + std::to_string(rng() % 7), static_cast<int64_t>(rng() % 100000) - 500,
                   "i" + std::to_string(i));
    if (e.user_id.empty() && e.device_id.empty()) e.device_id = "d0";
    if (rng() % 2) e.session_id = static_cast<int64_t>(rng() % 5) - 1;
    for (int k = rng() % 4; k > 0; --k) {
      std::string key = "k" + std::to_string(rng() % 6);
      switch (rng() % 5) {
        case 0:
          e.event_properties[key] = PropertyValue::Number(static_cast<double>(rng() % 10) / 4);
          break;
        case 1:
          e.event_properties[key] = PropertyValue::String("s" + std::to_string(rng() % 4));
          break;
        case 2:
          e.event_properties[key] = PropertyValue::Bool(rng() % 2);
          break;
        case 3:
          e.event_properties[key] = PropertyValue::Null();
          break;
        default:
          e.user_properties[key] = PropertyValue::Json("[" + std::to_string(rng() % 3) + "]");
      }
    }
    events.push_back(std::move(e));
  }
  return events;
}

bool SameSegment(const Segment& a, const Segment& b) {
  if (a.event_count() != b.event_count() || a.group_count() != b.group_count()) return false;
  for (size_t e = 0; e < a.event_count(); ++e) {
    Event x = a.ToEvent(e), y = b.ToEvent(e);
    if (x.user_id != y.user_id || x.device_id != y.device_id || x.event_type != y.event_type ||
        x.time_ms != y.time_ms || x.insert_id != y.insert_id || x.session_id != y.session_id ||
        x.event_properties != y.event_properties || x.user_properties != y.user_properties) {
      return false;
    }
  }
  return a.project() == b.project();
}

// PropertyNear finds what Property finds whatever its hint: lookups that ascend (as a scan's),
// jump back, repeat, and miss, over every key of both scopes of random segments.
TEST(SegmentTest, PropertyNearAgreesWithPropertyFromAnyHint) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    SegmentPtr s = *Segment::Build("p", Random(seed, 400));
    for (bool user_scope : {false, true}) {
      for (size_t key = 0; key < s->property_keys(user_scope).size(); ++key) {
        size_t hint = 0;
        uint32_t e = 0;
        for (int i = 0; i < 2000; ++i) {
          switch (rng() % 4) {
            case 0:  // anywhere
              e = static_cast<uint32_t>(rng() % s->event_count());
              break;
            case 1:  // the same again
              break;
            default:  // a little further on
              e = std::min<uint32_t>(e + static_cast<uint32_t>(rng() % 4),
                                     static_cast<uint32_t>(s->event_count() - 1));
          }
          ASSERT_EQ(s->PropertyNear(user_scope, key, e, &hint), s->Property(user_scope, key, e))
              << "seed " << seed << " key " << key << " event " << e;
        }
      }
    }
  }
}

TEST(SegmentCodecTest, RoundTripsRandomSegments) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SegmentPtr s = *Segment::Build("proj-" + std::to_string(seed), Random(seed, 300));
    std::string bytes = SegmentCodec::Encode(*s);
    absl::StatusOr<SegmentPtr> back = SegmentCodec::Decode(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(SameSegment(*s, **back)) << seed;
    EXPECT_EQ(SegmentCodec::Encode(**back), bytes);
  }
  SegmentPtr empty = *Segment::Build("p", {});
  absl::StatusOr<SegmentPtr> back = SegmentCodec::Decode(SegmentCodec::Encode(*empty));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->event_count(), 0u);
}

TEST(SegmentCodecTest, EveryFlippedByteAndEveryTruncationIsDataLoss) {
  SegmentPtr s = *Segment::Build("p", Random(7, 40));
  std::string bytes = SegmentCodec::Encode(*s);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] ^= 0x20;
    absl::StatusOr<SegmentPtr> d = SegmentCodec::Decode(damaged);
    ASSERT_FALSE(d.ok()) << "byte " << i;
    EXPECT_TRUE(d.status().code() == absl::StatusCode::kDataLoss ||
                d.status().code() == absl::StatusCode::kUnimplemented)
        << d.status();
  }
  for (size_t len = 0; len < bytes.size(); ++len) {
    absl::StatusOr<SegmentPtr> d = SegmentCodec::Decode(bytes.substr(0, len));
    ASSERT_FALSE(d.ok()) << "length " << len;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(SegmentCodec::Decode(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SegmentCodecTest, ANewerFormatIsUnimplementedNotCorrupt) {
  std::string bytes = SegmentCodec::Encode(**Segment::Build("p", Random(3, 5)));
  ASSERT_EQ(bytes.substr(0, 8), "COHSEG02");
  bytes[7] = '3';
  EXPECT_EQ(SegmentCodec::Decode(bytes).status().code(), absl::StatusCode::kUnimplemented);
}

// EncodeTo streams exactly Encode's bytes, large columns as their own pieces, and stops at the
// first error of its writer.
TEST(SegmentCodecTest, EncodeToStreamsEncodeAndStopsAtTheFirstError) {
  SegmentPtr s = *Segment::Build("p", Random(5, 40000));
  const std::string whole = SegmentCodec::Encode(*s);
  std::string streamed;
  size_t pieces = 0, largest = 0;
  ASSERT_TRUE(SegmentCodec::EncodeTo(*s, [&](std::string_view piece) {
                ++pieces;
                largest = std::max(largest, piece.size());
                streamed.append(piece);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(streamed, whole);
  EXPECT_GT(pieces, 3u);
  EXPECT_LT(largest, whole.size() / 2);
  int calls = 0;
  absl::Status failed = SegmentCodec::EncodeTo(*s, [&](std::string_view) {
    return ++calls == 2 ? absl::ResourceExhaustedError("disk full") : absl::OkStatus();
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(calls, 2);
}

// Files written by version 1 (sessions 1-14; testdata/segment_v1.seg is Sample() as that
// version encoded it) still decode, into memory, to the same segment.
TEST(SegmentCodecTest, ReadsVersionOneFiles) {
  std::ifstream in(std::string(COHORT_STORE_TESTDATA) + "/segment_v1.seg", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.substr(0, 8), "COHSEG01");
  absl::StatusOr<SegmentPtr> v1 = SegmentCodec::Decode(bytes);
  ASSERT_TRUE(v1.ok()) << v1.status();
  SegmentPtr built = *Segment::Build("v1", Sample());
  EXPECT_TRUE(SameSegment(**v1, *built));
  EXPECT_EQ(SegmentCodec::Encode(**v1), SegmentCodec::Encode(*built));  // rewritten as version 2
  EXPECT_EQ((*v1)->mapped_bytes(), 0u);
  std::string damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x01;
  EXPECT_EQ(SegmentCodec::Decode(damaged).status().code(), absl::StatusCode::kDataLoss);
}

class MappedSegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mapped_segment_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::shared_ptr<const ReadOnlyMapping> Map(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    absl::StatusOr<ReadOnlyMappingPtr> mapping = PosixEnv().MapReadOnly(path);
    EXPECT_TRUE(mapping.ok()) << mapping.status();
    return mapping.ok() ? std::shared_ptr<const ReadOnlyMapping>(*std::move(mapping)) : nullptr;
  }
  std::filesystem::path dir_;
};

// A mapped version-2 file's columns are read in place: the segment answers as the one built,
// holds only its dictionaries on the heap, and keeps the mapping alive.
TEST_F(MappedSegmentTest, ColumnsAreReadInPlace) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    SegmentPtr built = *Segment::Build("p", Random(seed, 2000));
    const std::string bytes = SegmentCodec::Encode(*built);
    std::shared_ptr<const ReadOnlyMapping> file = Map("s.seg", bytes);
    ASSERT_NE(file, nullptr);
    const std::string_view mapped = file->data();
    absl::StatusOr<SegmentPtr> decoded = SegmentCodec::Decode(std::move(file));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    const Segment& s = **decoded;
    EXPECT_TRUE(SameSegment(s, *built)) << seed;
    EXPECT_EQ(SegmentCodec::Encode(s), bytes);
    EXPECT_EQ(s.mapped_bytes(), bytes.size());
    // Columns are inside the mapping, not copies.
    const char* id = s.insert_id(0).data();
    EXPECT_GE(id, mapped.data());
    EXPECT_LT(id, mapped.data() + mapped.size());
    EXPECT_LT(s.memory_bytes(), built->memory_bytes() / 2) << seed;
    // Decoding the same bytes from memory copies them.
    absl::StatusOr<SegmentPtr> copied = SegmentCodec::Decode(bytes);
    ASSERT_TRUE(copied.ok());
    EXPECT_EQ((*copied)->mapped_bytes(), 0u);
    EXPECT_TRUE(SameSegment(**copied, *built));
  }
}

// A damaged mapped file is kDataLoss like a damaged buffer, whichever byte was hit.
TEST_F(MappedSegmentTest, DamageIsDataLoss) {
  const std::string bytes = SegmentCodec::Encode(**Segment::Build("p", Random(9, 50)));
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string damaged = bytes;
    damaged[i] ^= 0x04;
    absl::StatusOr<SegmentPtr> d = SegmentCodec::Decode(Map("bad.seg", damaged));
    ASSERT_FALSE(d.ok()) << "byte " << i;
    EXPECT_TRUE(d.status().code() == absl::StatusCode::kDataLoss ||
                d.status().code() == absl::StatusCode::kUnimplemented)
        << d.status();
  }
  EXPECT_EQ(SegmentCodec::Decode(Map("empty.seg", "")).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cohort::analytics::store

namespace cohort::analytics::store {
namespace {

// Random events over few users, devices, types and property values, so segments share
// dictionary entries, groups span segments, and (group, insert_id) repeats across segments.
std::vector<Event> RandomEvents(std::mt19937_64& rng, int count) {
  std::vector<Event> events;
  for (int i = 0; i < count; ++i) {
    const bool has_user = rng() % 4 != 0;
    Event e = Make(has_user ? "u" + std::to_string(rng() % 9) : "",
                   rng() % 3 == 0 && has_user ? "" : "d" + std::to_string(rng() % 7),
                   "t" + std::to_string(rng() % 5), static_cast<int64_t>(rng() % 50),
                   "i" + std::to_string(rng() % 40));
    if (rng() % 2) e.session_id = static_cast<int64_t>(rng() % 3) - 1;
    for (int p = static_cast<int>(rng() % 3); p > 0; --p) {
      const std::string key = "k" + std::to_string(rng() % 4);
      switch (rng() % 4) {
        case 0:
          e.event_properties[key] = PropertyValue::String("v" + std::to_string(rng() % 5));
          break;
        case 1:
          e.event_properties[key] = PropertyValue::Number(static_cast<double>(rng() % 4));
          break;
        case 2:
          e.user_properties[key] = PropertyValue::Bool(rng() % 2 == 0);
          break;
        default:
          e.user_properties[key] = PropertyValue::Number(rng() % 2 ? 0.0 : -0.0);
          break;
      }
    }
    events.push_back(std::move(e));
  }
  return events;
}

// Within one segment a (group, insert_id) may appear once: keep the first.
std::vector<Event> UniqueInGroup(std::vector<Event> events) {
  std::vector<Event> out;
  std::set<std::pair<GroupKey, std::string>> seen;
  for (Event& e : events) {
    if (seen.insert({GroupOf(e), e.insert_id}).second) out.push_back(std::move(e));
  }
  return out;
}

TEST(SegmentMergeTest, MergingColumnsEqualsBuildingFromTheEventsByteForByte) {
  std::mt19937_64 rng(20261127);
  for (int round = 0; round < 300; ++round) {
    const int k = 1 + static_cast<int>(rng() % 5);
    std::vector<SegmentPtr> segments;
    std::vector<const Segment*> inputs;
    for (int i = 0; i < k; ++i) {
      absl::StatusOr<SegmentPtr> s =
          Segment::Build("p", UniqueInGroup(RandomEvents(rng, 1 + static_cast<int>(rng() % 30))));
      ASSERT_TRUE(s.ok()) << s.status();
      segments.push_back(*s);
      inputs.push_back(s->get());
    }
    // What the store's merge used to do: every event through ToEvent, first copy wins.
    std::vector<Event> events;
    std::set<std::pair<GroupKey, std::string>> seen;
    for (const Segment* s : inputs) {
      for (size_t g = 0; g < s->group_count(); ++g) {
        for (uint32_t e = s->group_begin(g); e < s->group_begin(g + 1); ++e) {
          if (seen.insert({s->group(g), std::string(s->insert_id(e))}).second) {
            events.push_back(s->ToEvent(e));
          }
        }
      }
    }
    absl::StatusOr<SegmentPtr> built = Segment::Build("p", std::move(events));
    absl::StatusOr<SegmentPtr> merged = Segment::Merge(inputs);
    ASSERT_TRUE(built.ok()) << built.status();
    ASSERT_TRUE(merged.ok()) << merged.status();
    ASSERT_EQ(SegmentCodec::Encode(**merged), SegmentCodec::Encode(**built)) << "round " << round;
  }
  EXPECT_FALSE(Segment::Merge({}).ok());
}

}  // namespace
}  // namespace cohort::analytics::store
